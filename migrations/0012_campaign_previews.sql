-- Preview dialing: contacts shown to a reserved agent, waiting for them to accept or skip.
CREATE TABLE campaign_previews (
    -- The call the contact gets if the agent accepts (its id derived from the attempt's key).
    call_id     uuid PRIMARY KEY,
    campaign_id uuid        NOT NULL,
    contact_id  uuid        NOT NULL,
    org_id      text        NOT NULL,
    agent_id    uuid        NOT NULL,
    offered_at  timestamptz NOT NULL
);
CREATE INDEX campaign_previews_by_agent ON campaign_previews (org_id, agent_id);
CREATE INDEX campaign_previews_by_campaign ON campaign_previews (campaign_id);
