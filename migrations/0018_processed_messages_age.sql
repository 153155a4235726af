-- Consumers prune their records of applied messages after a week (crates/bus/src/dedup.rs):
-- the oldest of one consumer's are found by this index.
CREATE INDEX processed_messages_age ON processed_messages (consumer, processed_at);
