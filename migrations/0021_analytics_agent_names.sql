-- Each agent's name, so agent analytics read as people rather than ids: from the agent's
-- creation and profile changes; an older delivery (by stream position) changes nothing.
CREATE TABLE analytics_agent_names (
    agent_id uuid PRIMARY KEY,
    org_id   text   NOT NULL,
    name     text   NOT NULL,
    position bigint NOT NULL
);
