-- Dashboard counters, kept by a trigger on analytics_calls so the dashboard sums a few rows per
-- organization instead of scanning every call (docs/benchmarks.md). Keyed by status and the UTC
-- day the call started ('0001-01-01' until its start is known).
CREATE TABLE analytics_call_counters (
    organization_id text   NOT NULL,
    status          text   NOT NULL,
    started_day     date   NOT NULL,
    calls           bigint NOT NULL,
    answered        bigint NOT NULL,
    duration_sum    bigint NOT NULL,
    PRIMARY KEY (organization_id, status, started_day)
);

CREATE FUNCTION analytics_bump(
    p_org text, p_status text, p_started timestamptz, p_answered boolean, p_duration bigint,
    p_sign int
) RETURNS void LANGUAGE sql AS $$
    INSERT INTO analytics_call_counters AS c
           (organization_id, status, started_day, calls, answered, duration_sum)
    VALUES (p_org, p_status, coalesce((p_started AT TIME ZONE 'UTC')::date, date '0001-01-01'),
            p_sign, p_sign * p_answered::int, p_sign * coalesce(p_duration, 0))
    ON CONFLICT (organization_id, status, started_day) DO UPDATE
    SET calls = c.calls + EXCLUDED.calls,
        answered = c.answered + EXCLUDED.answered,
        duration_sum = c.duration_sum + EXCLUDED.duration_sum
$$;

-- Moves a call's contribution from its old row to its new one.
CREATE FUNCTION analytics_count_call() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF (OLD.status, OLD.started_at, OLD.answered_at IS NULL, OLD.duration_seconds)
           IS NOT DISTINCT FROM
           (NEW.status, NEW.started_at, NEW.answered_at IS NULL, NEW.duration_seconds) THEN
            RETURN NULL;
        END IF;
        PERFORM analytics_bump(OLD.organization_id, OLD.status, OLD.started_at,
                               OLD.answered_at IS NOT NULL, OLD.duration_seconds, -1);
    END IF;
    PERFORM analytics_bump(NEW.organization_id, NEW.status, NEW.started_at,
                           NEW.answered_at IS NOT NULL, NEW.duration_seconds, 1);
    RETURN NULL;
END
$$;

-- Attaches the counting trigger to the table now named analytics_calls and recounts from it.
-- Run here, and by a projection rebuild after it swaps in the rebuilt table.
CREATE FUNCTION analytics_adopt_calls_table() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    DROP TRIGGER IF EXISTS analytics_calls_count ON analytics_calls;
    CREATE TRIGGER analytics_calls_count AFTER INSERT OR UPDATE ON analytics_calls
        FOR EACH ROW EXECUTE FUNCTION analytics_count_call();
    DELETE FROM analytics_call_counters;
    INSERT INTO analytics_call_counters
    SELECT organization_id, status,
           coalesce((started_at AT TIME ZONE 'UTC')::date, date '0001-01-01'),
           count(*), count(answered_at), coalesce(sum(duration_seconds), 0)
      FROM analytics_calls
     GROUP BY 1, 2, 3;
END
$$;

SELECT analytics_adopt_calls_table();
