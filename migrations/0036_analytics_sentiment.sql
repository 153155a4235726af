-- Callers' sentiment per call, from the transcription service's events in the call's transcript
-- stream: the whole call's judgement (comms.call.sentiment, scope call) and the alerts raised
-- when it turned negative (comms.call.sentiment_alert). Joined to analytics_calls by call_id for
-- the sentiment per interval, campaign and agent; rebuilt from the `transcript` streams.
CREATE TABLE analytics_call_sentiment (
    call_id uuid PRIMARY KEY,
    organization_id text NOT NULL,
    label text,
    score double precision,
    alerts integer NOT NULL DEFAULT 0
);
