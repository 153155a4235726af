-- The dialer's pacing at each campaign's last placed call (comms.campaign.call_placed's
-- lines_per_agent): calls in flight per agent working the campaign, for /analytics/campaigns
-- and the wallboard.
ALTER TABLE analytics_campaigns ADD COLUMN lines_per_agent double precision;
