-- Analytics' projection of calls, built from comms.call.* events consumed from RabbitMQ.
-- One row per call; the dashboard aggregates it. Applying an event twice, or out of order,
-- gives the same row: fields are set by the event that owns them, and the status only moves
-- forward in stream position.
CREATE TABLE analytics_calls (
    call_id          uuid        PRIMARY KEY,
    organization_id  text        NOT NULL,
    status           text        NOT NULL,
    status_position  bigint      NOT NULL,
    started_at       timestamptz,
    answered_at      timestamptz,
    ended_at         timestamptz,
    duration_seconds bigint
);

CREATE INDEX analytics_calls_org_status ON analytics_calls (organization_id, status);
CREATE INDEX analytics_calls_org_started ON analytics_calls (organization_id, started_at);
