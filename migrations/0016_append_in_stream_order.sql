-- Per-stream order on the bus (issue 12). Readers, and so the relay, order by the appending
-- transaction's id, and a transaction's id is assigned at its first write or row lock, not when
-- it takes the stream's lock. A transaction that wrote something else first (a consumer's
-- processed-message record, a read-model row lock) can hold a lower id than the transaction that
-- appended the stream's previous event; appending after it would put position n+1 before n in
-- global order. Such an append is refused (CM004) as a conflict the caller retries in a new
-- transaction, whose id is then above the head's.
--
-- Same function as 0005 otherwise; only the head's tx_id is read and compared.
-- Errors: CM001 wrong expected version (DETAIL: the current version, empty for no stream),
--         CM002 event ids stored elsewhere (also 23505 on events_event_id_key),
--         CM003 stream of another tenant,
--         CM004 this transaction is older than the one that appended the stream's head.
CREATE OR REPLACE FUNCTION comms_append(
    p_stream text, p_category text, p_tenant text, p_expected bigint,
    p_ids uuid[], p_types text[], p_data jsonb[], p_metadata jsonb[]
) RETURNS TABLE (next_version bigint, already_stored boolean)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_current bigint;
    v_owner text;
    v_head_tx xid8;
    v_stored bigint;
    v_inserted bigint;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended(p_stream, 0));

    SELECT stream_position, tenant_id, tx_id INTO v_current, v_owner, v_head_tx
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

    IF v_head_tx > pg_current_xact_id() THEN
        -- A stored retry of this append is answered as before; anything else would be out of
        -- order.
        v_stored := comms_stored_append(p_stream, p_ids);
        IF v_stored IS NOT NULL THEN
            RETURN QUERY SELECT v_stored, true;
            RETURN;
        END IF;
        RAISE EXCEPTION 'stream % was appended to by a newer transaction; retry in a new one', p_stream
            USING ERRCODE = 'CM004';
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
