-- The calls of one IVR flow (calls service), for its report: where callers go and where they
-- hang up (state.ivr: the flow version, the nodes visited, the last node, whether queued).
CREATE INDEX calls_view_ivr_flow ON calls_view (organization_id, ((state -> 'ivr' -> 'flow' ->> 'flow_id')))
    WHERE state ? 'ivr';
