-- What transcript search reads: every utterance recorded (comms.call.utterance, redacted as
-- recorded), and each call's agent (comms.call.started, comms.call.agent_assigned) for who may
-- find it. Kept by the transcription service's consumer; joined at query time, so the order the
-- events arrive in does not matter.
CREATE TABLE transcript_lines (
    event_id uuid PRIMARY KEY,
    organization_id text NOT NULL,
    call_id uuid NOT NULL,
    speaker text NOT NULL,
    text text NOT NULL,
    language text NOT NULL,
    said_at timestamptz NOT NULL,
    start_seconds double precision NOT NULL
);
CREATE INDEX transcript_lines_by_time ON transcript_lines (organization_id, said_at DESC);

CREATE TABLE transcript_call_agents (
    call_id uuid PRIMARY KEY,
    organization_id text NOT NULL,
    agent_id uuid NOT NULL
);
CREATE INDEX transcript_call_agents_by_agent ON transcript_call_agents (organization_id, agent_id);
