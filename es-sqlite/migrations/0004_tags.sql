-- Tags (dynamic consistency boundaries): each event's tags as a JSON array of strings in
-- es_events.tags, and one row per (tag, position) in es_event_tags, the index that reads and
-- append conditions find tagged events by. The rows are written by a trigger from the event's
-- tags column, so the two never disagree; like events, they cannot be changed.

ALTER TABLE es_events ADD COLUMN tags TEXT NOT NULL DEFAULT '[]';

CREATE TABLE es_event_tags (
    tag      TEXT    NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (tag, position)
) WITHOUT ROWID;

-- Malformed tags JSON makes json_each fail, so such an insert into es_events is rejected too.
CREATE TRIGGER es_events_tags_index AFTER INSERT ON es_events
BEGIN
    INSERT INTO es_event_tags (tag, position) SELECT value, NEW.position FROM json_each(NEW.tags);
END;

-- Only the trigger above may add a tag row: one whose tag is in the event's tags, not yet stored.
CREATE TRIGGER es_event_tags_insert_only BEFORE INSERT ON es_event_tags
BEGIN
    SELECT RAISE(ABORT, 'es: stored events are immutable (INSERT into es_event_tags rejected: the tag is stored already or is not among the event''s tags)')
    WHERE EXISTS (SELECT 1 FROM es_event_tags WHERE tag = NEW.tag AND position = NEW.position)
       OR NOT EXISTS (SELECT 1 FROM es_events e, json_each(e.tags) j
                      WHERE e.position = NEW.position AND j.value = NEW.tag);
END;

CREATE TRIGGER es_event_tags_no_update BEFORE UPDATE ON es_event_tags
BEGIN
    SELECT RAISE(ABORT, 'es: stored events are immutable (UPDATE of es_event_tags rejected)');
END;

CREATE TRIGGER es_event_tags_no_delete BEFORE DELETE ON es_event_tags
BEGIN
    SELECT RAISE(ABORT, 'es: stored events are immutable (DELETE from es_event_tags rejected)');
END;
