-- The calls watchdog looks only at calls in progress: a small set, however many calls have ended.
CREATE INDEX calls_view_in_progress ON calls_view (created_at)
    WHERE status IN ('initiated', 'ringing', 'answered');
