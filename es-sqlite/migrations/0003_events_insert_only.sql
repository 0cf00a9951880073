-- Stored events cannot be overwritten through INSERT. The UPDATE and DELETE triggers of 0001 do not
-- fire on a conflict resolution: `INSERT OR REPLACE` (alias `REPLACE`) over a stored position,
-- event id or (stream, version) deletes the stored row without firing es_events_no_delete and
-- writes a new one, and `INSERT ... ON CONFLICT DO UPDATE` would rewrite it. A BEFORE INSERT
-- trigger sees the stored rows before any conflict is resolved, so it rejects all of them, and it
-- keeps every stream's versions contiguous (1, 2, 3, ...), as SqliteStore writes them under its
-- write lock. RAISE(ABORT) ends the statement whatever its conflict clause says.

CREATE TRIGGER es_events_insert_only BEFORE INSERT ON es_events
BEGIN
    SELECT RAISE(ABORT, 'es: stored events are immutable (INSERT over a stored event of es_events rejected: its position, event id or stream version is taken)')
    WHERE EXISTS (SELECT 1 FROM es_events WHERE position = NEW.position)
       OR EXISTS (SELECT 1 FROM es_events WHERE event_id = NEW.event_id)
       OR EXISTS (SELECT 1 FROM es_events WHERE stream_id = NEW.stream_id AND version = NEW.version);
    SELECT RAISE(ABORT, 'es: stream versions are contiguous (INSERT into es_events rejected: the version is not the stream''s last version + 1)')
    WHERE NEW.version <> coalesce((SELECT max(version) FROM es_events WHERE stream_id = NEW.stream_id), 0) + 1;
END;

-- Positions only grow: an event inserted with an explicit position below the last one would sit
-- behind the checkpoints of readers that already passed it, and they would never see it. (Checked
-- after the insert, when NEW.position holds the assigned position; RAISE undoes the statement.)
CREATE TRIGGER es_events_positions_grow AFTER INSERT ON es_events
BEGIN
    SELECT RAISE(ABORT, 'es: stored events are immutable (INSERT into es_events rejected: the position is not after the last stored event)')
    WHERE NEW.position < 1 OR NEW.position < (SELECT max(position) FROM es_events);
END;
