//! Turning `es_events` rows into [`RecordedEvent`]s.

use chrono::{DateTime, Utc};
use es_core::{
    EventId, EventMeta, Metadata, Position, RecordedEvent, StoreError, StreamId, Version,
};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

/// The columns every event query selects, in the order [`decode`] reads them.
macro_rules! event_columns {
    () => {
        "position, event_id, stream_id, version, event_type, schema_version, payload, metadata, recorded_at"
    };
}
pub(crate) use event_columns;

pub(crate) fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// Decodes one row selected with `event_columns!()`.
pub(crate) fn decode(row: &SqliteRow) -> Result<RecordedEvent, StoreError> {
    let stream: String = row.try_get(2).map_err(StoreError::database)?;
    let version: i64 = row.try_get(3).map_err(StoreError::database)?;
    let corrupt = |message: String| StoreError::Corrupt {
        stream: stream.clone(),
        version,
        message,
    };
    let position: i64 = row.try_get(0).map_err(StoreError::database)?;
    let event_id: String = row.try_get(1).map_err(StoreError::database)?;
    let event_type: String = row.try_get(4).map_err(StoreError::database)?;
    let schema_version: i64 = row.try_get(5).map_err(StoreError::database)?;
    let payload: String = row.try_get(6).map_err(StoreError::database)?;
    let metadata: String = row.try_get(7).map_err(StoreError::database)?;
    let recorded_at: i64 = row.try_get(8).map_err(StoreError::database)?;

    let event_id = uuid::Uuid::parse_str(&event_id)
        .map_err(|e| corrupt(format!("event id `{event_id}`: {e}")))?;
    let stream_id = StreamId::new(stream.clone()).map_err(|e| corrupt(e.to_string()))?;
    let payload =
        serde_json::from_str(&payload).map_err(|e| corrupt(format!("payload is not JSON: {e}")))?;
    let metadata: Metadata = serde_json::from_str(&metadata)
        .map_err(|e| corrupt(format!("metadata does not decode: {e}")))?;
    let recorded_at = DateTime::<Utc>::from_timestamp_micros(recorded_at)
        .ok_or_else(|| corrupt(format!("recorded_at {recorded_at} is out of range")))?;
    let schema_version = u32::try_from(schema_version)
        .map_err(|_| corrupt(format!("schema version {schema_version} is out of range")))?;
    Ok(RecordedEvent {
        meta: EventMeta {
            event_id: EventId(event_id),
            stream_id,
            version: Version(
                u64::try_from(version).map_err(|_| corrupt("negative version".into()))?,
            ),
            position: Position(
                u64::try_from(position).map_err(|_| corrupt("negative position".into()))?,
            ),
            commit: 0,
            event_type,
            schema_version,
            recorded_at,
            metadata,
        },
        payload,
    })
}
