-- Finding what belongs together: the events of one correlation id (ReadAll::correlated_with).
-- Streams are listed by prefix through the (stream_id, version) key of es_events.
CREATE INDEX es_events_by_correlation ON es_events (json_extract(metadata, '$.correlation_id'))
    WHERE json_extract(metadata, '$.correlation_id') IS NOT NULL;
