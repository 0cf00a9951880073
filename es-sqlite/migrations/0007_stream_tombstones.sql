-- A deleted stream is closed (es_core::tombstone): its last event is its tombstone, of type
-- '$es.stream-deleted', and nothing is ever inserted after it. SqliteStore refuses such appends
-- itself with StoreError::StreamDeleted; this trigger holds for every other writer of the file.
-- One probe of the (stream_id, version) key per inserted row.
CREATE TRIGGER es_events_stream_deleted BEFORE INSERT ON es_events
BEGIN
    SELECT RAISE(ABORT, 'es: the stream is deleted (INSERT into es_events rejected: the stream''s last event is its tombstone)')
    WHERE (SELECT event_type FROM es_events WHERE stream_id = NEW.stream_id
           ORDER BY version DESC LIMIT 1) = '$es.stream-deleted';
END;
