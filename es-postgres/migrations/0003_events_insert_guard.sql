-- Inserts cannot forge the log. Every row inserted into es_events, by any role including the
-- owner, gets the writing transaction's id and the current time (whatever the INSERT said), and
-- must be its stream's next version. Without this, a role allowed to INSERT could write
-- `tx_id = 3` (below every reader's checkpoint: no positioned reader would ever receive the event)
-- or `version = 1000` on a stream at version 2 (the aggregate would then load at version 1000).
-- Column privileges (PgStore::grant_application_role) keep an application role from naming
-- tx_id, recorded_at or global_position at all; this trigger covers the owner.
--
-- The stream's last version is read with a fresh snapshot (READ COMMITTED), so a version taken by
-- a concurrent writer that committed after the append's own snapshot is reported as what it is, a
-- unique violation of es_events_stream_version: the append then retries or reports a conflict,
-- exactly as if the unique index had caught it. Rows inserted earlier by the same statement are
-- visible to the trigger, so a batch (one INSERT, in version order) passes.
--
-- `SET search_path FROM CURRENT` pins the function to the store's schema (the migration runs with
-- search_path set to it), so `es_events` below is this schema's table whatever the caller's
-- search_path is. (Measured against a per-row EXECUTE of a schema-qualified query, which was
-- several times slower.)

CREATE FUNCTION es_guard_event_insert() RETURNS trigger LANGUAGE plpgsql
SET search_path FROM CURRENT AS $$
DECLARE
    last bigint;
BEGIN
    NEW.tx_id := pg_current_xact_id();
    NEW.recorded_at := now();
    last := coalesce((SELECT max(e.version) FROM es_events e WHERE e.stream_id = NEW.stream_id), 0);
    IF NEW.version <= last THEN
        RAISE EXCEPTION 'es: version % of stream "%" is taken (the stream is at version %)',
                NEW.version, NEW.stream_id, last
            USING ERRCODE = 'unique_violation', CONSTRAINT = 'es_events_stream_version',
                  SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME;
    ELSIF NEW.version > last + 1 THEN
        RAISE EXCEPTION 'es: version % of stream "%" would leave a gap (the stream is at version %, its next version is %)',
                NEW.version, NEW.stream_id, last, last + 1
            USING ERRCODE = 'check_violation', SCHEMA = TG_TABLE_SCHEMA, TABLE = TG_TABLE_NAME,
                  HINT = 'events are appended at their stream''s next version';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER es_events_guard_insert BEFORE INSERT ON es_events
    FOR EACH ROW EXECUTE FUNCTION es_guard_event_insert();
