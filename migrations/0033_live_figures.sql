-- The live figures last published per organization (comms.metrics.updated), their time aside:
-- the next are published only when they differ. `idle` (nothing waiting, offered or logged in)
-- lets a quiet organization drop out of the rounds once its return to quiet is published.
CREATE TABLE analytics_live_figures (
    org_id  text PRIMARY KEY,
    figures jsonb   NOT NULL,
    idle    boolean NOT NULL
);

-- Each round asks which organizations queued calls this quarter hour, across organizations.
CREATE INDEX analytics_calls_queued_at ON analytics_calls (queued_at) WHERE queued_at IS NOT NULL;
