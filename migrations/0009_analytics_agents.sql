-- Analytics of agents, from `comms.agent.*`: where each agent is now (to time the next
-- change), seconds per state per UTC day, and calls handled per day.
CREATE TABLE analytics_agent_current (
    agent_id  uuid PRIMARY KEY,
    org_id    text        NOT NULL,
    state     text        NOT NULL,
    since     timestamptz NOT NULL,
    -- The stream position of the event that set it: older deliveries change nothing.
    position  bigint      NOT NULL
);
CREATE INDEX analytics_agent_current_by_org ON analytics_agent_current (org_id);

CREATE TABLE analytics_agent_time (
    org_id   text             NOT NULL,
    day      date             NOT NULL,
    agent_id uuid             NOT NULL,
    state    text             NOT NULL,
    seconds  double precision NOT NULL,
    PRIMARY KEY (org_id, day, agent_id, state)
);

CREATE TABLE analytics_agent_calls (
    org_id        text    NOT NULL,
    day           date    NOT NULL,
    agent_id      uuid    NOT NULL,
    calls_handled integer NOT NULL,
    PRIMARY KEY (org_id, day, agent_id)
);
