-- The time zones a contact may be in (their own time_zone, else every zone of their number's
-- prefix), kept with the contact so the dialer's candidate scan leaves out, in SQL, contacts
-- outside their calling window: otherwise a few thousand of them at the top of a campaign hide
-- the dialable ones below (issue 12). Empty when no zone is known (such a contact is never
-- dialed). NULL on rows written before this migration, until the campaigns service fills them in
-- at start-up; the scan treats NULL as "check in Rust", as before.
ALTER TABLE contacts_view ADD COLUMN zones text[];
