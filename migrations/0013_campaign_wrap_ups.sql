-- When the agent on a connected campaign call left wrap-up: the pacer adds the wrap-up to the
-- campaign's handle time once per call.
ALTER TABLE campaign_calls ADD COLUMN wrapped_up_at timestamptz;
