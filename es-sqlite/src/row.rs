//! Turning `es_events` rows into [`RecordedEvent`]s and [`ReplayedEvent`]s.

use chrono::{DateTime, Utc};
use es_core::adapter::{RawEvent, RawReplayed};
use es_core::{EventId, RecordedEvent, ReplayedEvent, StoreError, StoredPayload, StreamId};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

/// The columns every event query selects, in the order [`decode`] reads them.
macro_rules! event_columns {
    () => {
        "position, event_id, stream_id, version, event_type, schema_version, payload, metadata, recorded_at, tags"
    };
}
pub(crate) use event_columns;

/// The columns a replay selects, in the order [`decode_replayed`] reads them: no event id,
/// stream id or metadata (so a replay never depends on metadata decoding).
macro_rules! replay_columns {
    () => {
        "version, position, event_type, schema_version, recorded_at, payload, event_id"
    };
}
pub(crate) use replay_columns;

pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// A time stored as microseconds since the Unix epoch.
pub(crate) fn from_micros(micros: i64) -> Result<DateTime<Utc>, String> {
    DateTime::<Utc>::from_timestamp_micros(micros)
        .ok_or_else(|| format!("recorded_at {micros} is out of range"))
}

/// An event id stored as text.
pub(crate) fn event_id(text: &str) -> Result<EventId, String> {
    uuid::Uuid::parse_str(text)
        .map(EventId)
        .map_err(|e| format!("event id `{}`: {e}", es_core::limits::shorten(text)))
}

// SQLite columns are dynamically typed: a row written by SQL may hold an integer where text
// belongs. Values are read unchecked (SQLite converts them), so what does not decode surfaces as
// `StoreError::Corrupt` naming the row, which a parking projection can skip, rather than as a
// type error without a position.
fn get_text(row: &SqliteRow, i: usize) -> Result<String, StoreError> {
    row.try_get_unchecked::<String, _>(i)
        .map_err(StoreError::database)
}

fn get_int(row: &SqliteRow, i: usize) -> Result<i64, StoreError> {
    row.try_get_unchecked::<i64, _>(i)
        .map_err(StoreError::database)
}

/// Decodes one row selected with `event_columns!()`.
pub(crate) fn decode(row: &SqliteRow) -> Result<RecordedEvent, StoreError> {
    let get_text = |i| get_text(row, i);
    let get_int = |i| get_int(row, i);
    RawEvent {
        position: get_int(0)?,
        commit: 0,
        event_id: event_id(&get_text(1)?),
        stream_id: get_text(2)?,
        version: get_int(3)?,
        event_type: get_text(4)?,
        schema_version: get_int(5)?,
        payload: get_text(6)?,
        metadata: get_text(7)?,
        recorded_at: from_micros(get_int(8)?),
        tags: es_core::adapter::tags_from_json(&get_text(9)?),
    }
    .decode()
}

/// Decodes one row of `stream` selected with `replay_columns!()`.
pub(crate) fn decode_replayed(
    stream: &StreamId,
    row: &SqliteRow,
) -> Result<ReplayedEvent, StoreError> {
    let get_int = |i| get_int(row, i);
    RawReplayed {
        version: get_int(0)?,
        position: get_int(1)?,
        event_type: get_text(row, 2)?,
        schema_version: get_int(3)?,
        recorded_at: from_micros(get_int(4)?),
        payload: StoredPayload::Json(get_text(row, 5)?),
        event_id: event_id(&get_text(row, 6)?),
    }
    .decode(stream)
}
