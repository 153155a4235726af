-- How long each organization keeps its transcripts (the read model of the
-- `transcript_retention` streams, written in the transaction that appends their events; no row,
-- or days NULL: kept until deleted).
CREATE TABLE transcript_retention (
    org_id     text PRIMARY KEY,
    days       integer CHECK (days BETWEEN 1 AND 3650),
    version    bigint      NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text        NOT NULL
);

-- The calls whose transcripts were deleted (comms.call.transcript_deleted): search never shows
-- their lines again, even when an utterance published before the deletion arrives after it.
CREATE TABLE transcript_deletions (
    call_id         uuid PRIMARY KEY,
    organization_id text        NOT NULL,
    deleted_at      timestamptz NOT NULL
);

-- Each transcript's first event, by organization and time: what the retention sweep looks for.
CREATE INDEX events_transcript_starts ON events (tenant_id, recorded_at)
    WHERE stream_category = 'transcript' AND stream_position = 0;
