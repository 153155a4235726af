-- Answering-machine detection on campaign calls: an answered call whose verdict is awaited is
-- not routed to an agent yet; one a machine answered is hung up and counts as voicemail.
ALTER TABLE campaign_calls
    ADD COLUMN awaiting_verdict boolean NOT NULL DEFAULT false,
    ADD COLUMN machine boolean NOT NULL DEFAULT false;
