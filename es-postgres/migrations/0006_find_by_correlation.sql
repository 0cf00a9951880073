-- Finding what belongs together: the events of one correlation id (ReadAll::correlated_with), and
-- the streams of an aggregate type by id prefix in byte order (EventStore::list_streams), whatever
-- the database's collation.
CREATE INDEX es_events_by_correlation ON es_events ((metadata->>'correlation_id'))
    WHERE metadata ? 'correlation_id';
CREATE INDEX es_events_by_stream_bytes ON es_events ((stream_id COLLATE "C"), version);
