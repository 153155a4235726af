-- Standalone mode's users: the read model of `user-*` streams, written in the append
-- transaction. The password hash lives only here: the event log is published to the bus, and a
-- secret is state, not history.
CREATE TABLE users (
    user_id       uuid PRIMARY KEY,
    org_id        text        NOT NULL,
    email         text        NOT NULL,
    role          text        NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL
);
-- Login is by email alone, so an address belongs to one user across organizations.
CREATE UNIQUE INDEX users_email ON users (lower(email));
CREATE INDEX users_by_org ON users (org_id, created_at, user_id);

-- Provider credentials, sealed with AES-256-GCM (nonce ‖ ciphertext ‖ tag) under
-- COMMS_ENCRYPTION_KEY, bound to org and provider as associated data.
CREATE TABLE provider_credentials (
    org_id     text        NOT NULL,
    provider   text        NOT NULL,
    sealed     bytea       NOT NULL,
    fields     text[]      NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text        NOT NULL,
    PRIMARY KEY (org_id, provider)
);

-- Machine API keys: only the SHA-256 digest of each key is kept.
CREATE TABLE api_keys (
    key_id     uuid PRIMARY KEY,
    org_id     text        NOT NULL,
    name       text        NOT NULL,
    role       text        NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
    digest     bytea       NOT NULL UNIQUE,
    created_at timestamptz NOT NULL,
    created_by text        NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX api_keys_by_org ON api_keys (org_id, created_at, key_id);
