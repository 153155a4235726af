-- Tickets for opening the live feed from a browser (POST /live/ticket): single-use, valid for
-- seconds, kept in the database so that any edge replica redeems a ticket any other issued.
-- Only the ticket's SHA-256 is stored.
CREATE TABLE live_tickets (
    digest     bytea PRIMARY KEY,
    org_id     text        NOT NULL,
    user_id    text        NOT NULL,
    role       text        NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX live_tickets_expiry ON live_tickets (expires_at);
