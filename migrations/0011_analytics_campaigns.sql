-- Campaign results, from `comms.campaign.*`: counters per campaign, and each contact's final
-- disposition (a set, so a redelivered event changes nothing twice).
CREATE TABLE analytics_campaigns (
    campaign_id     uuid PRIMARY KEY,
    org_id          text    NOT NULL,
    name            text    NOT NULL DEFAULT '',
    name_position   bigint  NOT NULL DEFAULT -1,
    status          text    NOT NULL DEFAULT 'draft',
    status_position bigint  NOT NULL DEFAULT -1,
    attempts        integer NOT NULL DEFAULT 0,
    finished        integer NOT NULL DEFAULT 0,
    answered        integer NOT NULL DEFAULT 0,
    abandoned       integer NOT NULL DEFAULT 0
);
CREATE INDEX analytics_campaigns_by_org ON analytics_campaigns (org_id);

CREATE TABLE analytics_campaign_contacts (
    campaign_id uuid NOT NULL,
    contact_id  uuid NOT NULL,
    org_id      text NOT NULL,
    -- NULL while the contact may still be called.
    disposition text,
    PRIMARY KEY (campaign_id, contact_id)
);
