-- The organizations' IVR flows (calls service; stream `ivr_flow-<uuid>`): the read model, with
-- every version in `state`. A number's flow is in its settings (numbers_view.state); the
-- flow's row is locked by whoever gives a number the flow or deletes it, so neither misses
-- the other.
CREATE TABLE ivr_flows_view (
    flow_id         uuid        PRIMARY KEY,
    organization_id text        NOT NULL,
    name            text        NOT NULL,
    deleted         boolean     NOT NULL,
    created_at      timestamptz NOT NULL,
    version         bigint      NOT NULL,
    state           jsonb       NOT NULL
);

CREATE INDEX ivr_flows_view_page ON ivr_flows_view (organization_id, name) WHERE NOT deleted;
