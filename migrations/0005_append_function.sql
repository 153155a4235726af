-- An append in one round trip (DESIGN.md §3; docs/benchmarks.md). Same rules as before, run
-- server-side: the stream's advisory lock first; then (each statement of a volatile PL/pgSQL
-- function takes a fresh snapshot, so it sees every append that held the lock before us) the
-- tenant and expected-version checks, idempotency, and the insert.
--
-- Idempotency costs nothing on the common path: when an exact or no-stream expectation holds,
-- this append cannot already be stored (a stored retry would have moved the stream past the
-- expectation); with `any`, the insert skips stored ids and a short count reveals them. A stored
-- retry is looked for only when the expectation fails or an id turns out to be stored.
--
-- p_expected: -2 any, -1 no stream, n ≥ 0 exactly n.
-- Errors: CM001 wrong expected version (DETAIL: the current version, empty for no stream),
--         CM002 event ids stored elsewhere (also 23505 on events_event_id_key),
--         CM003 stream of another tenant.
CREATE FUNCTION comms_append(
    p_stream text, p_category text, p_tenant text, p_expected bigint,
    p_ids uuid[], p_types text[], p_data jsonb[], p_metadata jsonb[]
) RETURNS TABLE (next_version bigint, already_stored boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_current bigint;
    v_owner text;
    v_stored bigint;
    v_inserted bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_stream, 0));

    SELECT stream_position, tenant_id INTO v_current, v_owner
      FROM events WHERE stream_name = p_stream
     ORDER BY stream_position DESC LIMIT 1;
    IF v_owner IS NOT NULL AND v_owner <> p_tenant THEN
        RAISE EXCEPTION 'stream % belongs to another tenant', p_stream USING ERRCODE = 'CM003';
    END IF;

    IF (p_expected = -1 AND v_current IS NOT NULL)
       OR (p_expected >= 0 AND v_current IS DISTINCT FROM p_expected) THEN
        v_stored := comms_stored_append(p_stream, p_ids);
        IF v_stored IS NOT NULL THEN
            RETURN QUERY SELECT v_stored, true;
            RETURN;
        END IF;
        RAISE EXCEPTION 'wrong expected version on %', p_stream
            USING ERRCODE = 'CM001', DETAIL = coalesce(v_current::text, '');
    END IF;

    INSERT INTO events (event_id, stream_name, stream_category, stream_position,
                        event_type, tenant_id, data, metadata)
    SELECT e.event_id, p_stream, p_category, coalesce(v_current, -1) + e.ord,
           e.event_type, p_tenant, e.data, e.metadata
      FROM unnest(p_ids, p_types, p_data, p_metadata)
           WITH ORDINALITY AS e(event_id, event_type, data, metadata, ord)
     ORDER BY e.ord
        ON CONFLICT (event_id) DO NOTHING;
    GET DIAGNOSTICS v_inserted = ROW_COUNT;
    IF v_inserted < cardinality(p_ids) THEN
        -- Some ids were stored already (only possible with `any`): a retry of this exact append
        -- wrote nothing and answers as before; anything else is a conflict, and the exception
        -- rolls back what this call inserted.
        v_stored := comms_stored_append(p_stream, p_ids);
        IF v_inserted = 0 AND v_stored IS NOT NULL THEN
            RETURN QUERY SELECT v_stored, true;
            RETURN;
        END IF;
        RAISE EXCEPTION 'event ids of this append are already stored elsewhere (stream %)', p_stream
            USING ERRCODE = 'CM002';
    END IF;
    RETURN QUERY SELECT coalesce(v_current, -1) + cardinality(p_ids), false;
END
$$;

-- The last position of this exact append if it is already stored (every id, in p_stream, at
-- consecutive positions in the given order); NULL if none of it is; CM002 if only part of it,
-- or elsewhere.
CREATE FUNCTION comms_stored_append(p_stream text, p_ids uuid[]) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    v_stored int;
    v_matching int;
    v_first bigint;
    v_last bigint;
BEGIN
    SELECT count(*) INTO v_stored FROM events WHERE event_id = ANY(p_ids);
    IF v_stored = 0 THEN
        RETURN NULL;
    END IF;
    SELECT min(stream_position) INTO v_first
      FROM events WHERE event_id = ANY(p_ids) AND stream_name = p_stream;
    SELECT count(*) FILTER (WHERE e.stream_name = p_stream
                              AND e.stream_position = v_first + i.ord - 1),
           max(e.stream_position)
      INTO v_matching, v_last
      FROM unnest(p_ids) WITH ORDINALITY AS i(id, ord)
      JOIN events e ON e.event_id = i.id;
    IF v_stored = cardinality(p_ids) AND v_matching = v_stored THEN
        RETURN v_last;
    END IF;
    RAISE EXCEPTION 'event ids of this append are already stored elsewhere (stream %)', p_stream
        USING ERRCODE = 'CM002';
END
$$;
