-- The organizations' phone numbers (calls service; stream `number-<uuid>`): the read model, and
-- the rule that a number belongs to one organization at a time, enforced in the transaction
-- that records its assignment.
CREATE TABLE numbers_view (
    number_id       uuid        PRIMARY KEY,
    organization_id text        NOT NULL,
    number          text        NOT NULL,
    released        boolean     NOT NULL,
    created_at      timestamptz NOT NULL,
    version         bigint      NOT NULL,
    state           jsonb       NOT NULL
);

CREATE UNIQUE INDEX numbers_view_in_use ON numbers_view (number) WHERE NOT released;
CREATE INDEX numbers_view_page ON numbers_view (organization_id, number) WHERE NOT released;
