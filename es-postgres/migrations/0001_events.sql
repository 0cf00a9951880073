-- The es event store schema (PostgreSQL). Applied by PgStore::migrate through sqlx::migrate!, on a
-- connection whose search_path is the store's schema, so every name below lands in that schema.
-- No IF NOT EXISTS: a schema holding other tables of these names is incompatible, not ours.

CREATE TABLE es_events (
    -- Unique, increasing at insert; NOT in commit order (see tx_id).
    global_position bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- The writing transaction. Readers page by (tx_id, global_position) strictly below
    -- pg_snapshot_xmin(pg_current_snapshot()), the oldest transaction still running, so an event
    -- committed late with a small position is never skipped.
    tx_id           xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid        NOT NULL UNIQUE,
    stream_id       text        NOT NULL,
    version         bigint      NOT NULL CHECK (version > 0),
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL CHECK (schema_version > 0),
    payload         jsonb       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}',
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT es_events_stream_version UNIQUE (stream_id, version)
);

CREATE INDEX es_events_log ON es_events (tx_id, global_position);
CREATE INDEX es_events_by_type ON es_events (event_type, tx_id, global_position);
CREATE INDEX es_events_by_time ON es_events (recorded_at);

-- Events are immutable.
CREATE FUNCTION es_reject_event_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'es: stored events are immutable (% of %.% rejected)', TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME
        USING HINT = 'events are append-only; record a compensating event instead';
END
$$;

CREATE TRIGGER es_events_immutable BEFORE UPDATE OR DELETE ON es_events
    FOR EACH ROW EXECUTE FUNCTION es_reject_event_change();
CREATE TRIGGER es_events_no_truncate BEFORE TRUNCATE ON es_events
    FOR EACH STATEMENT EXECUTE FUNCTION es_reject_event_change();

CREATE TABLE es_snapshots (
    stream_id      text        PRIMARY KEY,
    version        bigint      NOT NULL CHECK (version > 0),
    schema_version integer     NOT NULL,
    state          jsonb       NOT NULL,
    taken_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE es_checkpoints (
    name       text        PRIMARY KEY,
    commit_key bigint      NOT NULL,   -- the tx_id of the last event seen (as bigint)
    position   bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
