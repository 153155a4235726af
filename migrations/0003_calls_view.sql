-- The calls service's read model for GetCall/ListCalls, written in the same transaction as the
-- events it reflects. `state` is the folded Call; the other columns exist to filter and page.
CREATE TABLE calls_view (
    call_id         uuid        PRIMARY KEY,
    organization_id text        NOT NULL,
    status          text        NOT NULL,
    agent_id        uuid,
    campaign_id     uuid,
    created_at      timestamptz NOT NULL,
    version         bigint      NOT NULL,
    state           jsonb       NOT NULL
);

CREATE INDEX calls_view_page ON calls_view (organization_id, created_at DESC, call_id DESC);
CREATE INDEX calls_view_agent ON calls_view (organization_id, agent_id) WHERE agent_id IS NOT NULL;
CREATE INDEX calls_view_campaign ON calls_view (organization_id, campaign_id) WHERE campaign_id IS NOT NULL;
