-- The platform's notifications (calls service): each user's preferences (stream
-- `notification_preferences-<uuid>`), and each notification scheduled from a task or project
-- event, once per event and recipient (`id` derives from both), until it is sent (a text, or a
-- call that says it) or given up.
CREATE TABLE notification_preferences (
    org_id      text        NOT NULL,
    user_id     text        NOT NULL,
    version     bigint      NOT NULL,
    state       jsonb       NOT NULL,
    updated_at  timestamptz NOT NULL,
    PRIMARY KEY (org_id, user_id)
);

CREATE TABLE notifications (
    id             uuid        PRIMARY KEY,
    org_id         text        NOT NULL,
    user_id        text        NOT NULL,
    event_id       uuid        NOT NULL,
    kind           text        NOT NULL,
    -- sms or call; the language a call is spoken in.
    channel        text        NOT NULL,
    language       text        NOT NULL,
    phone          text        NOT NULL,
    text           text        NOT NULL,
    -- Not before: the end of the recipient's quiet hours, or when it was scheduled.
    send_at        timestamptz NOT NULL,
    claimed_until  timestamptz,
    attempts       integer     NOT NULL DEFAULT 0,
    sent_at        timestamptz,
    message_id     uuid,
    failure        text,
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX notifications_due ON notifications (send_at) WHERE sent_at IS NULL AND failure IS NULL;
