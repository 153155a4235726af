-- The agents service's read models, written in the append transaction of each change.
CREATE TABLE agents_view (
    agent_id     uuid PRIMARY KEY,
    org_id       text        NOT NULL,
    name         text        NOT NULL,
    email        text        NOT NULL,
    languages    text[]      NOT NULL,
    -- {"billing": 4, "sales": 2}: skill name to proficiency 1-5.
    skills       jsonb       NOT NULL,
    team_id      uuid,
    state        text        NOT NULL,
    -- For an available agent, since when they have idled: routing prefers the longest idle.
    state_since  timestamptz NOT NULL,
    call_id      uuid,
    deadline     timestamptz,
    agent        jsonb       NOT NULL,  -- the whole folded aggregate, as the API returns it
    version      bigint      NOT NULL
);
CREATE INDEX agents_available ON agents_view (org_id, state_since) WHERE state = 'available';
CREATE INDEX agents_by_org ON agents_view (org_id, agent_id);
CREATE INDEX agents_by_team ON agents_view (org_id, team_id);
CREATE INDEX agents_deadlines ON agents_view (deadline) WHERE deadline IS NOT NULL;
CREATE UNIQUE INDEX agents_by_call ON agents_view (call_id) WHERE call_id IS NOT NULL;

CREATE TABLE teams_view (
    team_id       uuid PRIMARY KEY,
    org_id        text        NOT NULL,
    name          text        NOT NULL,
    supervisor_id text,
    created_at    timestamptz NOT NULL,
    version       bigint      NOT NULL
);
CREATE INDEX teams_by_org ON teams_view (org_id, team_id);

-- Calls waiting for an agent, and calls offered to one (until accepted or lapsed). Served by
-- priority, then age; a lapsed offer keeps its place.
CREATE TABLE routing_queue (
    call_id         uuid PRIMARY KEY,
    org_id          text        NOT NULL,
    priority        integer     NOT NULL,
    enqueued_at     timestamptz NOT NULL,
    required_skills text[]      NOT NULL,
    language        text,
    offered_to      uuid,
    -- The call is already connected (an answered campaign call): the agent it is offered to is
    -- put on it at once, with no accept step.
    connect_on_offer boolean     NOT NULL DEFAULT false
);
CREATE INDEX routing_waiting ON routing_queue (org_id, priority DESC, enqueued_at, call_id) WHERE offered_to IS NULL;

-- Calls the agents service follows from `comms.call.*`: who placed them, and whether, once
-- answered, they need an agent (inbound and campaign calls placed without one).
CREATE TABLE routing_calls (
    call_id     uuid PRIMARY KEY,
    org_id      text    NOT NULL,
    agent_id    uuid,
    needs_agent boolean NOT NULL,
    language    text
);
