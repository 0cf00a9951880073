//! What every store accepts, checked once here so that every adapter rejects the same input with
//! the same [`InputError`], before writing anything.
//!
//! | what | accepted |
//! |---|---|
//! | stream id | 1 to [`MAX_STREAM_ID_LEN`] bytes, no control characters ([`StreamId::new`](crate::StreamId::new)) |
//! | event type | 1 to [`MAX_EVENT_TYPE_LEN`] bytes, no control characters |
//! | schema version | 1 to [`MAX_SCHEMA_VERSION`] (events); 0 to [`MAX_SCHEMA_VERSION`] (snapshots) |
//! | versions, positions, commit keys | at most [`MAX_VERSION`] |
//! | payload, snapshot state, metadata | JSON nested at most [`MAX_JSON_DEPTH`] levels, no NUL (`\u0000`) in any string or key |
//! | metadata keys | not a reserved key ([`RESERVED_METADATA_KEYS`]) among the free keys: set those fields |
//! | checkpoint and projection names | 1 to [`MAX_NAME_LEN`] bytes, no control characters |
//! | tags | 1 to [`MAX_TAG_LEN`] bytes, no control characters; at most [`MAX_TAGS`] per event, distinct |
//! | queries ([`crate::dcb::Query`]) | at most [`MAX_TAGS`] items, each at most [`MAX_TAGS`] types and tags, all valid |
//!
//! Why these: PostgreSQL's `text` and `jsonb` cannot hold NUL, its `bigint` and `integer` bound the
//! numbers, its indexes bound the length of indexed text, and serde_json reads at most 128 levels of
//! nesting (the limit leaves room for envelopes around a payload). Everything inside the limits
//! round-trips on every store; numbers keep their value, though PostgreSQL may write a float with
//! an integral value as an integer (`1e18` reads back as `1000000000000000000`).
//!
//! ```
//! use es_core::{ExpectedVersion, InputError, Metadata, NewEvent, limits};
//! let ok = NewEvent::raw("todo.added", 1, serde_json::json!({ "title": "milk" }));
//! assert!(limits::check_append(ExpectedVersion::Any, &[ok.clone()]).is_ok());
//!
//! let forged = ok.with_metadata(Metadata::new().with_actor("alice").with("actor", "mallory"));
//! let error = limits::check_append(ExpectedVersion::Any, &[forged]).unwrap_err();
//! assert!(matches!(error.input_error(), Some(InputError::ReservedMetadataKey { .. })));
//! ```

use crate::envelope::NewEvent;
use crate::error::{InputError, JsonField, StoreError};
use crate::id::{Checkpoint, ExpectedVersion};
use crate::metadata::Metadata;
use crate::store::{ReadAll, Snapshot};
use serde_json::Value;

pub use crate::id::MAX_STREAM_ID_LEN;

/// The longest event type name, in bytes.
pub const MAX_EVENT_TYPE_LEN: usize = 256;

/// The largest schema version (PostgreSQL's `integer`).
pub const MAX_SCHEMA_VERSION: u32 = i32::MAX as u32;

/// The largest stream version, global position or commit key (a signed 64-bit integer).
pub const MAX_VERSION: u64 = i64::MAX as u64;

/// How deeply a payload, snapshot state or metadata may nest arrays and objects.
pub const MAX_JSON_DEPTH: usize = 100;

/// The longest checkpoint or projection name, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// The longest tag, in bytes.
pub const MAX_TAG_LEN: usize = 256;

/// The most tags on one event, and the most items (and types and tags per item) in one query.
pub const MAX_TAGS: usize = 32;

/// The metadata keys that belong to [`Metadata`]'s typed fields.
pub const RESERVED_METADATA_KEYS: [&str; 3] = ["correlation_id", "causation_id", "actor"];

/// How many characters of an oversized value an error message quotes.
const QUOTED_CHARS: usize = 64;

/// Checks an append: the expected version, and every event of the batch (see the module docs).
/// Adapters call this before they touch the database.
pub fn check_append(expected: ExpectedVersion, events: &[NewEvent]) -> Result<(), StoreError> {
    if let Some(v) = expected.required() {
        check_number("expected version", v.0)?;
    }
    let mut ids = std::collections::HashSet::with_capacity(events.len());
    for (index, event) in events.iter().enumerate() {
        if !ids.insert(event.event_id) {
            return Err(InputError::DuplicateEventId {
                event_id: event.event_id,
            }
            .into());
        }
        check_event(index, event)?;
    }
    crate::tombstone::check_batch(events)?;
    Ok(())
}

/// Checks one event of a batch (`index`: its place in the batch).
pub fn check_event(index: usize, event: &NewEvent) -> Result<(), InputError> {
    if let Some(reason) = name_problem(&event.event_type, MAX_EVENT_TYPE_LEN) {
        return Err(InputError::InvalidEventType {
            index,
            event_type: shorten(&event.event_type),
            reason,
        });
    }
    if event.schema_version == 0 || event.schema_version > MAX_SCHEMA_VERSION {
        return Err(InputError::SchemaVersionOutOfRange {
            index: Some(index),
            schema_version: event.schema_version,
            max: MAX_SCHEMA_VERSION,
        });
    }
    check_json(&event.payload, JsonField::Payload, Some(index))?;
    check_tags(Some(index), &event.tags, "tags on one event")?;
    if let Some((_, tag)) = event
        .tags
        .iter()
        .enumerate()
        .find(|(i, t)| event.tags[..*i].contains(t))
    {
        return Err(InputError::InvalidTag {
            index: Some(index),
            tag: shorten(tag),
            reason: "it appears twice",
        });
    }
    check_metadata(index, &event.metadata)
}

fn check_tags(index: Option<usize>, tags: &[String], what: &'static str) -> Result<(), InputError> {
    if tags.len() > MAX_TAGS {
        return Err(InputError::TooMany {
            index,
            what,
            count: tags.len(),
            max: MAX_TAGS,
        });
    }
    for tag in tags {
        if let Some(reason) = name_problem(tag, MAX_TAG_LEN) {
            return Err(InputError::InvalidTag {
                index,
                tag: shorten(tag),
                reason,
            });
        }
    }
    Ok(())
}

/// Checks a query ([`crate::dcb::Query`]): its size, and every type and tag in it.
pub fn check_query(query: &crate::dcb::Query) -> Result<(), StoreError> {
    if query.items.len() > MAX_TAGS {
        return Err(InputError::TooMany {
            index: None,
            what: "items in one query",
            count: query.items.len(),
            max: MAX_TAGS,
        }
        .into());
    }
    for item in &query.items {
        check_tags(None, &item.tags, "tags in one query item")?;
        if item.types.len() > MAX_TAGS {
            return Err(InputError::TooMany {
                index: None,
                what: "types in one query item",
                count: item.types.len(),
                max: MAX_TAGS,
            }
            .into());
        }
        for (index, event_type) in item.types.iter().enumerate() {
            if let Some(reason) = name_problem(event_type, MAX_EVENT_TYPE_LEN) {
                return Err(InputError::InvalidEventType {
                    index,
                    event_type: shorten(event_type),
                    reason,
                }
                .into());
            }
        }
    }
    Ok(())
}

fn check_metadata(index: usize, metadata: &Metadata) -> Result<(), InputError> {
    if let Some(key) = RESERVED_METADATA_KEYS
        .iter()
        .find(|k| metadata.extra.contains_key(**k))
    {
        return Err(InputError::ReservedMetadataKey {
            index,
            key: (*key).to_owned(),
        });
    }
    let nul = || InputError::NulInJson {
        index: Some(index),
        field: JsonField::Metadata,
    };
    if metadata.actor.as_deref().is_some_and(|a| a.contains('\0')) {
        return Err(nul());
    }
    for (key, value) in &metadata.extra {
        if key.contains('\0') {
            return Err(nul());
        }
        // The metadata object itself is one level.
        match json_problem(value, MAX_JSON_DEPTH - 1) {
            None => {}
            Some(Problem::Nul) => return Err(nul()),
            Some(Problem::TooDeep) => {
                return Err(InputError::JsonTooDeep {
                    index: Some(index),
                    field: JsonField::Metadata,
                    max: MAX_JSON_DEPTH,
                });
            }
        }
    }
    Ok(())
}

/// Checks a JSON value: at most [`MAX_JSON_DEPTH`] levels, no NUL in strings and keys.
pub fn check_json(value: &Value, field: JsonField, index: Option<usize>) -> Result<(), InputError> {
    match json_problem(value, MAX_JSON_DEPTH) {
        None => Ok(()),
        Some(Problem::Nul) => Err(InputError::NulInJson { index, field }),
        Some(Problem::TooDeep) => Err(InputError::JsonTooDeep {
            index,
            field,
            max: MAX_JSON_DEPTH,
        }),
    }
}

/// Checks a snapshot before it is saved.
pub fn check_snapshot(snapshot: &Snapshot) -> Result<(), StoreError> {
    if snapshot.version.0 == 0 {
        return Err(InputError::Other("a snapshot at version 0 has no events".into()).into());
    }
    check_number("snapshot version", snapshot.version.0)?;
    if snapshot.schema_version > MAX_SCHEMA_VERSION {
        return Err(InputError::SchemaVersionOutOfRange {
            index: None,
            schema_version: snapshot.schema_version,
            max: MAX_SCHEMA_VERSION,
        }
        .into());
    }
    Ok(check_json(&snapshot.state, JsonField::SnapshotState, None)?)
}

/// Checks a checkpoint (or projection) name.
pub fn check_name(name: &str) -> Result<(), StoreError> {
    match name_problem(name, MAX_NAME_LEN) {
        None => Ok(()),
        Some(reason) => Err(InputError::InvalidName {
            what: "checkpoint name",
            name: shorten(name),
            reason,
        }
        .into()),
    }
}

/// Checks a checkpoint and its name before it is saved.
pub fn check_checkpoint(name: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
    check_name(name)?;
    check_number("checkpoint commit key", checkpoint.commit)?;
    check_number("checkpoint position", checkpoint.position.0)
}

/// Checks the event type names of a query (a name no store accepts would match nothing on one
/// store and fail on another).
pub fn check_read_all(query: &ReadAll) -> Result<(), StoreError> {
    if let Some(matching) = &query.query {
        check_query(matching)?;
    }
    for (index, event_type) in query.event_types.iter().flatten().enumerate() {
        if let Some(reason) = name_problem(event_type, MAX_EVENT_TYPE_LEN) {
            return Err(InputError::InvalidEventType {
                index,
                event_type: shorten(event_type),
                reason,
            }
            .into());
        }
    }
    Ok(())
}

/// A number that must be at most [`MAX_VERSION`].
pub fn check_number(what: &'static str, value: u64) -> Result<(), StoreError> {
    if value > MAX_VERSION {
        return Err(InputError::NumberOutOfRange {
            what,
            value,
            max: MAX_VERSION,
        }
        .into());
    }
    Ok(())
}

fn name_problem(name: &str, max: usize) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.len() > max {
        Some("it is too long")
    } else if name.chars().any(char::is_control) {
        Some("it contains a control character")
    } else {
        None
    }
}

enum Problem {
    Nul,
    TooDeep,
}

/// Recursion is bounded by `levels_left` (at most [`MAX_JSON_DEPTH`] frames), so any input is safe.
fn json_problem(value: &Value, levels_left: usize) -> Option<Problem> {
    match value {
        Value::String(s) if s.contains('\0') => Some(Problem::Nul),
        Value::Array(items) => {
            if levels_left == 0 {
                return Some(Problem::TooDeep);
            }
            items.iter().find_map(|v| json_problem(v, levels_left - 1))
        }
        Value::Object(map) => {
            if levels_left == 0 {
                return Some(Problem::TooDeep);
            }
            map.iter().find_map(|(k, v)| {
                if k.contains('\0') {
                    Some(Problem::Nul)
                } else {
                    json_problem(v, levels_left - 1)
                }
            })
        }
        _ => None,
    }
}

/// `text`, or its first characters and its length when it is long: what error messages quote.
pub fn shorten(text: &str) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}... ({} bytes)", &text[..end], text.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(depth: usize) -> Value {
        (0..depth).fold(json!(1), |v, _| json!([v]))
    }

    #[test]
    fn depth_limit_is_exact() {
        assert!(check_json(&nested(MAX_JSON_DEPTH), JsonField::Payload, None).is_ok());
        assert_eq!(
            check_json(&nested(MAX_JSON_DEPTH + 1), JsonField::Payload, None),
            Err(InputError::JsonTooDeep {
                index: None,
                field: JsonField::Payload,
                max: MAX_JSON_DEPTH
            })
        );
        // What the limit accepts, serde_json reads back.
        let text = serde_json::to_string(&nested(MAX_JSON_DEPTH)).unwrap();
        assert!(serde_json::from_str::<Value>(&text).is_ok());
    }

    #[test]
    fn shorten_quotes_a_prefix() {
        assert_eq!(shorten("short"), "short");
        let long = "x".repeat(1 << 20);
        let quoted = shorten(&long);
        assert!(quoted.len() < 100, "{quoted}");
        assert!(quoted.ends_with("(1048576 bytes)"));
    }
}
