-- Inserts cannot forge the log. Every statement that inserts into es_events, by any role including
-- the owner, is rejected unless each of its rows carries the writing transaction's id and time (the
-- column defaults) and each stream's new versions follow on from the stream's last one without a
-- gap. Without this, a role allowed to INSERT could write `tx_id = 3` (below every reader's
-- checkpoint: no positioned reader would ever receive the event) or `version = 1000` on a stream at
-- version 2 (the aggregate would then load at version 1000). Column privileges
-- (PgStore::grant_application_role) keep an application role from naming tx_id, recorded_at or
-- global_position at all; this trigger covers the owner.
--
-- One check per statement, not per row: an AFTER ... FOR EACH STATEMENT trigger reads the inserted
-- rows from the transition table new_rows, once, grouped by stream (a 100-event batch costs one
-- plpgsql call, one aggregate over 100 rows and one index probe, not 100 of each).
--
-- - tx_id and recorded_at must equal pg_current_xact_id() and now(), which is exactly what their
--   defaults give (now() is the transaction's start time, the same in the trigger), so an insert
--   that leaves them out passes and one that sets them to anything else fails: check_violation,
--   "es: ... are assigned by the database". No privilege lifts this, so it is not reported as
--   insufficient_privilege.
-- - For each stream in new_rows the versions must be contiguous (count = max - min + 1; they are
--   distinct, the unique index saw to that) and start right after the stream's last version below
--   them: min = 1 + max(version < min), 0 for a new stream (es_events already holds new_rows here,
--   hence `< min`). Otherwise check_violation, "es: version N of stream ... would leave a gap".
-- - A taken version never gets here: the unique index es_events_stream_version rejects it while
--   the row is inserted, before any AFTER trigger runs, as a unique violation, which is what the
--   append's lost-race retry looks for. A version taken by a concurrent writer that has not
--   committed yet makes the insert wait for it, as before.
--
-- The trigger's queries run with a fresh snapshot (the function is volatile; READ COMMITTED), so
-- a stream's versions committed by others after the statement started count as well.
--
-- `SET search_path FROM CURRENT` pins the function to the store's schema (the migration runs with
-- search_path set to it), so `es_events` below is this schema's table whatever the caller's
-- search_path is.

CREATE FUNCTION es_check_event_insert() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
    bad record;
BEGIN
    -- The fast path: one query, nothing found.
    SELECT g.stream_id, g.forged_tx, g.forged_at INTO bad
    FROM (SELECT n.stream_id, min(n.version) AS lo, max(n.version) AS hi, count(*) AS n_rows,
                 bool_or(n.tx_id <> pg_current_xact_id()) AS forged_tx,
                 bool_or(n.recorded_at <> now()) AS forged_at
          FROM new_rows n GROUP BY n.stream_id) g
    CROSS JOIN LATERAL (SELECT coalesce(max(e.version), 0) AS last
                        FROM es_events e
                        WHERE e.stream_id = g.stream_id AND e.version < g.lo) stored
    WHERE g.forged_tx OR g.forged_at
       OR g.n_rows <> g.hi - g.lo + 1 OR g.lo <> stored.last + 1
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

CREATE TRIGGER es_events_check_insert AFTER INSERT ON es_events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION es_check_event_insert();
