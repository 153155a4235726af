-- The organization's knowledge notes (the read model of the `knowledge_note` streams, written in
-- the transaction that appends their events): agent assist shows a note to the agent when the
-- caller says one of its keywords in a call in its language (any language when NULL).
CREATE TABLE knowledge_notes (
    note_id         uuid PRIMARY KEY,
    organization_id text        NOT NULL,
    title           text        NOT NULL,
    body            text        NOT NULL,
    language        text,
    keywords        text[]      NOT NULL,
    version         bigint      NOT NULL,
    updated_at      timestamptz NOT NULL,
    updated_by      text        NOT NULL
);

CREATE INDEX knowledge_notes_by_org ON knowledge_notes (organization_id, updated_at DESC);
