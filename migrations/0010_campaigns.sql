-- The campaigns service's read models, each written in the append transaction of the change it
-- reflects (contacts, campaigns, do-not-call lists), or in the consumer's transaction of the call
-- event it follows (campaign_calls).

CREATE TABLE contacts_view (
    contact_id   uuid PRIMARY KEY,
    org_id       text        NOT NULL,
    -- ext:<the CRM's id> or tel:<the first number>: a second import or sync finds the contact.
    identity_key text        NOT NULL,
    external_id  text,
    -- The CRM event last applied (its timestamp): an older one arriving late changes nothing.
    crm_synced_at timestamptz,
    name         text        NOT NULL,
    contact      jsonb       NOT NULL,
    created_at   timestamptz NOT NULL,
    version      bigint      NOT NULL,
    CONSTRAINT contacts_identity UNIQUE (org_id, identity_key)
);
CREATE INDEX contacts_page ON contacts_view (org_id, created_at DESC, contact_id DESC);
CREATE INDEX contacts_by_external_id ON contacts_view (org_id, external_id) WHERE external_id IS NOT NULL;

CREATE TABLE campaigns_view (
    campaign_id uuid PRIMARY KEY,
    org_id      text        NOT NULL,
    status      text        NOT NULL,
    campaign    jsonb       NOT NULL,
    -- The pacer's memory: answered, abandoned, ring and handle times so far.
    measured    jsonb       NOT NULL,
    created_at  timestamptz NOT NULL,
    version     bigint      NOT NULL
);
CREATE INDEX campaigns_page ON campaigns_view (org_id, created_at DESC, campaign_id DESC);
CREATE INDEX campaigns_running ON campaigns_view (campaign_id) WHERE status = 'running';

-- Each contact's progress in each campaign (the folded `DialState` and columns to select by).
CREATE TABLE campaign_contacts (
    campaign_id uuid        NOT NULL,
    contact_id  uuid        NOT NULL,
    org_id      text        NOT NULL,
    priority    integer     NOT NULL,
    -- The order contacts were added in: ties of priority are called in this order.
    added_seq   bigint      GENERATED ALWAYS AS IDENTITY,
    call_id     uuid,
    retry_at    timestamptz,
    -- reached, exhausted or do_not_call; NULL while the contact may still be called.
    done        text,
    state       jsonb       NOT NULL,
    PRIMARY KEY (campaign_id, contact_id)
);
CREATE INDEX campaign_contacts_open ON campaign_contacts (campaign_id, priority DESC, added_seq)
    WHERE done IS NULL AND call_id IS NULL;
CREATE UNIQUE INDEX campaign_contacts_by_call ON campaign_contacts (call_id) WHERE call_id IS NOT NULL;

-- The campaigns' calls: when they were placed and answered, whether an agent took them (for the
-- outcome and the abandon rule), and when their outcome was recorded (a late duplicate of the
-- call's last event then changes nothing).
CREATE TABLE campaign_calls (
    call_id     uuid PRIMARY KEY,
    campaign_id uuid        NOT NULL,
    contact_id  uuid        NOT NULL,
    org_id      text        NOT NULL,
    placed_at   timestamptz NOT NULL,
    answered_at timestamptz,
    -- Set once an agent is connected; an answered call without one past the hold is abandoned.
    agent_id    uuid,
    -- Set when the dialer ended it for want of an agent.
    abandoned   boolean     NOT NULL DEFAULT false,
    finished_at timestamptz
);
CREATE INDEX campaign_calls_in_progress ON campaign_calls (campaign_id) WHERE finished_at IS NULL;

-- Do-not-call lists, folded from their streams: one row per number and list.
CREATE TABLE do_not_call (
    org_id   text        NOT NULL,
    list     text        NOT NULL,
    phone    text        NOT NULL,
    added_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, phone, list)
);
