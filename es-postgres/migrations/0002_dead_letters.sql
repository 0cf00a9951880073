-- Dead letters of projections: events a projection's handler kept failing on, parked with the
-- error (ErrorPolicy::park) so the projection could go on. Listed and retried through the runner.

CREATE TABLE es_dead_letters (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    projection  text        NOT NULL,
    event_id    uuid        NOT NULL,
    stream_id   text        NOT NULL,
    version     bigint      NOT NULL,
    commit_key  bigint      NOT NULL,
    position    bigint      NOT NULL,
    event_type  text        NOT NULL,
    error       text        NOT NULL,
    parked_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX es_dead_letters_by_projection ON es_dead_letters (projection, id);
