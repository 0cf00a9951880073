-- Dead letters of projections: events a projection's handler kept failing on, parked with the
-- error (ErrorPolicy::park) so the projection could go on. Listed and retried through the runner.

CREATE TABLE es_dead_letters (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    projection  TEXT    NOT NULL,
    event_id    TEXT    NOT NULL,
    stream_id   TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    commit_key  INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    event_type  TEXT    NOT NULL,
    error       TEXT    NOT NULL,
    parked_at   INTEGER NOT NULL                    -- microseconds since the Unix epoch, UTC
);

CREATE INDEX es_dead_letters_by_projection ON es_dead_letters (projection, id);
