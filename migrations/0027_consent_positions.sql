-- The campaigns service's record of the latest consent change (`comms.conversation.opted_out|
-- opted_in`) applied per number: its position in the conversation's stream, so that a change
-- redelivered or overtaken on the bus never undoes a newer one.
CREATE TABLE consent_positions (
    org_id          text   NOT NULL,
    phone           text   NOT NULL,
    stream_position bigint NOT NULL,
    PRIMARY KEY (org_id, phone)
);
