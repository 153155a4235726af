-- A machine answered a campaign call and the carrier listens on for its beep (Vonage): the
-- dialer waits for it before leaving the campaign's voicemail message.
ALTER TABLE campaign_calls
    ADD COLUMN awaiting_beep boolean NOT NULL DEFAULT false;
