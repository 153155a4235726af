-- What call volumes are filtered by (GET /analytics/calls): the call's direction, campaign and
-- agent, each set by the first event that says it. Calls projected before this migration have
-- none until `comms replay` rebuilds the projection from the log.
ALTER TABLE analytics_calls
    ADD COLUMN direction   text,
    ADD COLUMN campaign_id uuid,
    ADD COLUMN agent_id    uuid;
