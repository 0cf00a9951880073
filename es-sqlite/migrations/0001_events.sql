-- The es event store schema (SQLite). Applied by SqliteStore::open through sqlx::migrate!.
-- No IF NOT EXISTS: a file holding other tables of these names is an incompatible schema, not ours.

CREATE TABLE es_events (
    position       INTEGER PRIMARY KEY AUTOINCREMENT,  -- global position, never reused
    event_id       TEXT    NOT NULL UNIQUE,
    stream_id      TEXT    NOT NULL,
    version        INTEGER NOT NULL CHECK (version > 0),
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL CHECK (schema_version > 0),
    payload        TEXT    NOT NULL,                   -- JSON
    metadata       TEXT    NOT NULL DEFAULT '{}',      -- JSON
    recorded_at    INTEGER NOT NULL,                   -- microseconds since the Unix epoch, UTC
    UNIQUE (stream_id, version)
);

CREATE INDEX es_events_by_type ON es_events (event_type, position);
CREATE INDEX es_events_by_time ON es_events (recorded_at);

-- Events are immutable.
CREATE TRIGGER es_events_no_update BEFORE UPDATE ON es_events
BEGIN
    SELECT RAISE(ABORT, 'es: stored events are immutable (UPDATE of es_events rejected)');
END;

CREATE TRIGGER es_events_no_delete BEFORE DELETE ON es_events
BEGIN
    SELECT RAISE(ABORT, 'es: stored events are immutable (DELETE from es_events rejected)');
END;

CREATE TABLE es_snapshots (
    stream_id      TEXT    PRIMARY KEY,
    version        INTEGER NOT NULL,
    schema_version INTEGER NOT NULL,
    state          TEXT    NOT NULL                    -- JSON
);

CREATE TABLE es_checkpoints (
    name       TEXT    PRIMARY KEY,
    commit_key INTEGER NOT NULL,
    position   INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
