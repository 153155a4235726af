-- Text messages (calls service): each message's read model (stream `sms-<uuid>`), written in
-- the transaction that appends its events; and each conversation (the organization and the other
-- party's number), whose consent (stream `conversation-<uuid>`) is kept on its row, which a
-- change of consent locks.
CREATE TABLE messages_view (
    message_id         uuid        PRIMARY KEY,
    organization_id    text        NOT NULL,
    conversation_id    uuid        NOT NULL,
    created_at         timestamptz NOT NULL,
    version            bigint      NOT NULL,
    state              jsonb       NOT NULL
);

CREATE INDEX messages_view_page ON messages_view (conversation_id, created_at DESC, message_id DESC);

CREATE TABLE conversations_view (
    conversation_id    uuid        PRIMARY KEY,
    organization_id    text        NOT NULL,
    number             text        NOT NULL,
    opted_out          boolean     NOT NULL DEFAULT false,
    message_count      integer     NOT NULL DEFAULT 0,
    last_message_id    uuid,
    updated_at         timestamptz NOT NULL,
    UNIQUE (organization_id, number)
);

CREATE INDEX conversations_view_page ON conversations_view (organization_id, updated_at DESC, conversation_id DESC);
