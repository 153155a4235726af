-- Queue measures (GET /analytics/queues): when each call that waited for an agent was queued,
-- for which skills and language, and when its agent went on it. Calls projected before this
-- migration have none until `comms replay` rebuilds the projection from the log.
ALTER TABLE analytics_calls
    ADD COLUMN queued_at      timestamptz,
    ADD COLUMN queue_skills   text[],
    ADD COLUMN queue_language text,
    ADD COLUMN assigned_at    timestamptz;
CREATE INDEX analytics_calls_queued ON analytics_calls (organization_id, queued_at)
    WHERE queued_at IS NOT NULL;
-- The calls waiting now, for the live figures.
CREATE INDEX analytics_calls_waiting ON analytics_calls (organization_id)
    WHERE queued_at IS NOT NULL AND assigned_at IS NULL AND ended_at IS NULL;

-- Each agent's finished spells in a state, so occupancy and wrap-up time can be taken over
-- any interval (analytics_agent_time keeps whole UTC days). Agents' time before this
-- migration is here only after `comms replay`.
CREATE TABLE analytics_agent_spells (
    agent_id   uuid        NOT NULL,
    org_id     text        NOT NULL,
    state      text        NOT NULL,
    -- The call a reserved, busy or wrap-up spell was for.
    call_id    uuid,
    started_at timestamptz NOT NULL,
    ended_at   timestamptz NOT NULL,
    PRIMARY KEY (agent_id, started_at)
);
CREATE INDEX analytics_agent_spells_time ON analytics_agent_spells (org_id, ended_at);
CREATE INDEX analytics_agent_spells_call ON analytics_agent_spells (call_id) WHERE call_id IS NOT NULL;
ALTER TABLE analytics_agent_current ADD COLUMN call_id uuid;

-- Every call that waits for an agent now says so with comms.call.queued (with its skills), so
-- the agents service no longer notes at a call's start whether its answer will need one.
ALTER TABLE routing_calls
    DROP COLUMN needs_agent,
    DROP COLUMN language,
    DROP COLUMN agent_id;
