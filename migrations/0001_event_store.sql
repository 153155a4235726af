-- The fleet's append-only event log (DESIGN.md §3). One table for every service; each service
-- writes only its own stream categories.
CREATE TABLE events (
    global_position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The appending transaction's id. Readers order by (tx_id, global_position) and only read
    -- below the oldest running transaction, so an append that commits late is never skipped.
    tx_id           xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid        NOT NULL,
    stream_name     text        NOT NULL,
    stream_category text        NOT NULL,
    stream_position bigint      NOT NULL CHECK (stream_position >= 0),
    event_type      text        NOT NULL,
    tenant_id       text        NOT NULL,
    data            jsonb       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT events_event_id_key UNIQUE (event_id),
    CONSTRAINT events_stream_position_key UNIQUE (stream_name, stream_position)
);

CREATE INDEX events_global_order ON events (tx_id, global_position);
CREATE INDEX events_category_order ON events (stream_category, tx_id, global_position);

-- Where each reader (relay, projection, subscriber) has got to in the global order. Saved in the
-- same transaction as the effect it guards.
CREATE TABLE checkpoints (
    name            text        PRIMARY KEY,
    tx_id           bigint      NOT NULL,
    global_position bigint      NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
