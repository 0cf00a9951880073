-- A deleted stream is closed (es_core::tombstone): its last event is its tombstone, of type
-- '$es.stream-deleted', and nothing is ever inserted after it. PgStore's append statement inserts
-- nothing into such a stream and reports StoreError::StreamDeleted; the insert guard of 0003 now
-- holds it for every other writer too: a statement is rejected if a stream's row before its new
-- rows is a tombstone, or if a tombstone among its new rows is not the stream's last new row.
-- Still one query per statement: the probe for the stream's last version now also reads that
-- row's type (one heap fetch per stream and statement).

CREATE OR REPLACE FUNCTION es_check_event_insert() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
    bad record;
BEGIN
    -- The fast path: one query, nothing found.
    SELECT g.stream_id, g.forged_tx, g.forged_at, c.closed INTO bad
    FROM (SELECT n.stream_id, min(n.version) AS lo, max(n.version) AS hi, count(*) AS n_rows,
                 bool_or(n.tx_id <> pg_current_xact_id()) AS forged_tx,
                 bool_or(n.recorded_at <> now()) AS forged_at,
                 max(n.version) FILTER (WHERE n.event_type = '$es.stream-deleted') AS tomb
          FROM new_rows n GROUP BY n.stream_id) g
    LEFT JOIN LATERAL (SELECT e.version, e.event_type = '$es.stream-deleted' AS deleted
                       FROM es_events e
                       WHERE e.stream_id = g.stream_id AND e.version < g.lo
                       ORDER BY e.version DESC LIMIT 1) stored ON true
    CROSS JOIN LATERAL (SELECT coalesce(stored.deleted, false)
                               OR (g.tomb IS NOT NULL AND g.tomb <> g.hi) AS closed) c
    WHERE g.forged_tx OR g.forged_at OR c.closed
       OR g.n_rows <> g.hi - g.lo + 1 OR g.lo <> coalesce(stored.version, 0) + 1
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;

    -- Something is wrong: say what, for the first offending row.
    IF bad.forged_tx THEN
        SELECT n.stream_id, n.version, n.tx_id::text AS value INTO bad
        FROM new_rows n WHERE n.tx_id <> pg_current_xact_id() ORDER BY n.stream_id, n.version LIMIT 1;
        RAISE EXCEPTION 'es: tx_id is assigned by the database, not by the insert (version % of stream "%" has tx_id %, the writing transaction is %)',
                bad.version, bad.stream_id, bad.value, pg_current_xact_id()
            USING ERRCODE = 'check_violation', SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME,
                  COLUMN = 'tx_id', HINT = 'leave tx_id out of the INSERT';
    END IF;
    IF bad.forged_at THEN
        SELECT n.stream_id, n.version, n.recorded_at::text AS value INTO bad
        FROM new_rows n WHERE n.recorded_at <> now() ORDER BY n.stream_id, n.version LIMIT 1;
        RAISE EXCEPTION 'es: recorded_at is assigned by the database, not by the insert (version % of stream "%" has recorded_at %, the transaction''s time is %)',
                bad.version, bad.stream_id, bad.value, now()
            USING ERRCODE = 'check_violation', SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME,
                  COLUMN = 'recorded_at', HINT = 'leave recorded_at out of the INSERT';
    END IF;
    IF bad.closed THEN
        RAISE EXCEPTION 'es: stream "%" is deleted (its last event is its tombstone; nothing is inserted after it)',
                bad.stream_id
            USING ERRCODE = 'check_violation', SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME,
                  COLUMN = 'event_type', HINT = 'a deleted stream takes no more events';
    END IF;
    -- A gap: the stream's first new version whose predecessor is missing.
    SELECT n.stream_id, n.version, prev.last INTO bad
    FROM new_rows n
    CROSS JOIN LATERAL (SELECT coalesce(max(e.version), 0) AS last
                        FROM es_events e
                        WHERE e.stream_id = n.stream_id AND e.version < n.version) prev
    WHERE n.stream_id = bad.stream_id AND n.version <> prev.last + 1
    ORDER BY n.version LIMIT 1;
    RAISE EXCEPTION 'es: version % of stream "%" would leave a gap (the stream is at version %, its next version is %)',
            bad.version, bad.stream_id, bad.last, bad.last + 1
        USING ERRCODE = 'check_violation', SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME,
              COLUMN = 'version', HINT = 'events are appended at their stream''s next version';
END
$$;
