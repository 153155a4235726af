-- Readers of the global order (the relay, subscriptions) waited for every running transaction
-- (`tx_id < xmin` of their snapshot), so one long transaction anywhere in the database held back
-- every event of the fleet: a projection blocked on a lock for two minutes stopped the relay for
-- two minutes (integration-tests/tests/faults.rs, the lagging consumer), though it never appends.
--
-- Now a transaction that may append says so before it writes anything (comms_begin_appending;
-- an append that is its transaction's first write says so itself), and readers wait only for
-- those (comms_read_horizon). A transaction that wrote before declaring cannot append (CM005),
-- so a running transaction that holds an id and no declaration will never add an event below
-- the horizon.

-- The advisory lock an appending transaction holds, shared, until it ends: the two-key form
-- (pg_locks.objsubid = 2), apart from the streams' and leaders' one-key locks. 1668246893 is
-- 'comm' in ASCII.
CREATE FUNCTION comms_begin_appending() RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF current_setting('comms.appending', true) = 'on' THEN
        RETURN;
    END IF;
    IF pg_current_xact_id_if_assigned() IS NOT NULL THEN
        RAISE EXCEPTION 'a transaction that appends must say so before it writes anything'
            USING ERRCODE = 'CM005';
    END IF;
    -- The transaction's id comes later, with its first write, and so after this lock: a reader
    -- that finds a running id without it in the lock table may pass it by. A declared
    -- transaction that has not written yet holds no id and holds back no reader (it may wait on
    -- another service meanwhile, ADR 10); the id it takes later sorts after what any reader has
    -- already read.
    PERFORM pg_advisory_xact_lock_shared(1668246893, 1);
    PERFORM set_config('comms.appending', 'on', true);
END
$$;

-- Events with `tx_id` below this are all committed or will never be: the oldest transaction
-- running in the caller's snapshot, passing over those seen running without having declared
-- that they append (they never will). With none left, the snapshot's xmax.
--
-- A transaction is passed over only if, after the lock table was read, it is still in progress:
-- a committing transaction releases its locks one partition at a time, after its commit is
-- recorded, so the lock table may show it holding its id and no longer its declaration; its
-- status then already says committed, and it is waited for (its events are not visible to the
-- caller's snapshot yet).
CREATE FUNCTION comms_read_horizon() RETURNS xid8
LANGUAGE plpgsql STABLE AS $$
DECLARE
    -- The caller's snapshot: a stable function runs in its caller's.
    v_snapshot pg_snapshot := pg_current_snapshot();
    v_database oid := (SELECT oid FROM pg_database WHERE datname = current_database());
    v_undeclared xid[];
    v_horizon xid8;
BEGIN
    -- One read of pg_locks, so both kinds of lock come from one view of the lock table.
    SELECT coalesce(array_agg(x), '{}') INTO v_undeclared
      FROM (SELECT array_agg(transactionid) FILTER (
                       WHERE locktype = 'transactionid' AND mode = 'ExclusiveLock' AND granted
                   ) AS ids,
                   -- Advisory locks are per database: appenders to another database's log
                   -- (another fleet on the server) hold back nobody here.
                   bool_or(locktype = 'advisory' AND classid = 1668246893 AND objid = 1
                           AND objsubid = 2 AND database = v_database) AS declared
              FROM pg_locks
             WHERE locktype IN ('transactionid', 'advisory')
             GROUP BY virtualtransaction) AS holders,
           unnest(holders.ids) AS x
     WHERE NOT holders.declared;
    SELECT min(x) INTO v_horizon
      FROM pg_snapshot_xip(v_snapshot) AS x
     WHERE NOT (x::xid = ANY (v_undeclared) AND pg_xact_status(x) = 'in progress');
    RETURN coalesce(v_horizon, pg_snapshot_xmax(v_snapshot));
END
$$;

-- Same function as 0016, declaring its transaction an appending one.
-- Errors: CM001 wrong expected version (DETAIL: the current version, empty for no stream),
--         CM002 event ids stored elsewhere (also 23505 on events_event_id_key),
--         CM003 stream of another tenant,
--         CM004 this transaction is older than the one that appended the stream's head,
--         CM005 this transaction wrote before declaring it appends.
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
    -- Declares it now if nothing was written yet (an append on its own, or the first write of
    -- its transaction), and refuses a transaction that wrote before without declaring.
    PERFORM comms_begin_appending();
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
