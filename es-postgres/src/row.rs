//! Turning `es_events` rows into [`RecordedEvent`]s.

use chrono::{DateTime, Utc};
use es_core::{
    EventId, EventMeta, Metadata, Position, RecordedEvent, ReplayedEvent, StoreError,
    StoredPayload, StreamId, Version,
};
use serde_json::Value;
use sqlx::postgres::{PgRow, PgTypeInfo, PgValueFormat, PgValueRef, Postgres};
use sqlx::types::Json;
use sqlx::{Row, TypeInfo};

/// The columns every event query selects, in the order [`decode`] reads them.
pub(crate) const EVENT_COLUMNS: &str = "global_position, tx_id, event_id, stream_id, \
     version, event_type, schema_version, payload, metadata, recorded_at";

/// The columns a replay selects, in the order [`decode_replayed`] reads them: no event id, stream
/// id (the caller knows it), transaction id or metadata. Converting the `jsonb` metadata to its
/// wire form costs the server about as much per row as the payload.
pub(crate) const REPLAY_COLUMNS: &str =
    "version, global_position, event_type, schema_version, recorded_at, payload";

/// A PostgreSQL `xid8` (a 64-bit transaction id), which sqlx does not know. Decoding its binary
/// form directly is much cheaper per row than casting it to text and bigint on the server.
pub(crate) struct TxId(pub u64);

impl sqlx::Type<Postgres> for TxId {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_name("xid8")
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        TypeInfo::name(ty).eq_ignore_ascii_case("xid8")
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for TxId {
    fn decode(value: PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        match value.format() {
            PgValueFormat::Binary => {
                let bytes: [u8; 8] = value.as_bytes()?.try_into()?;
                Ok(TxId(u64::from_be_bytes(bytes)))
            }
            PgValueFormat::Text => Ok(TxId(value.as_str()?.parse()?)),
        }
    }
}

/// A `jsonb` value as its JSON text, unparsed: the event type deserializes it once, directly
/// (see [`es_core::DomainEvent::from_json`]), instead of through a [`Value`].
pub(crate) struct JsonText(pub String);

impl sqlx::Type<Postgres> for JsonText {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_name("jsonb")
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        TypeInfo::name(ty).eq_ignore_ascii_case("jsonb")
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for JsonText {
    fn decode(value: PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        match value.format() {
            // The binary form of jsonb is a version byte (1) followed by the JSON text.
            PgValueFormat::Binary => match value.as_bytes()? {
                [1, text @ ..] => Ok(JsonText(std::str::from_utf8(text)?.to_owned())),
                [v, ..] => Err(format!("unsupported jsonb format version {v}").into()),
                [] => Err("empty jsonb value".into()),
            },
            PgValueFormat::Text => Ok(JsonText(value.as_str()?.to_owned())),
        }
    }
}

/// Decodes one row selected with [`EVENT_COLUMNS`].
pub(crate) fn decode(row: &PgRow) -> Result<RecordedEvent, StoreError> {
    let stream: String = row.try_get(3).map_err(StoreError::database)?;
    let version: i64 = row.try_get(4).map_err(StoreError::database)?;
    let corrupt = |message: String| StoreError::Corrupt {
        stream: stream.clone(),
        version,
        message,
    };
    let position: i64 = row.try_get(0).map_err(StoreError::database)?;
    let TxId(commit) = row.try_get(1).map_err(StoreError::database)?;
    let event_id: uuid::Uuid = row.try_get(2).map_err(StoreError::database)?;
    let event_type: String = row.try_get(5).map_err(StoreError::database)?;
    let schema_version: i32 = row.try_get(6).map_err(StoreError::database)?;
    let payload: Json<Value> = row
        .try_get(7)
        .map_err(|e| corrupt(format!("payload: {e}")))?;
    let metadata: Json<Metadata> = row
        .try_get(8)
        .map_err(|e| corrupt(format!("metadata does not decode: {e}")))?;
    let recorded_at: DateTime<Utc> = row.try_get(9).map_err(StoreError::database)?;

    let stream_id = StreamId::new(stream.clone()).map_err(|e| corrupt(e.to_string()))?;
    let non_negative =
        |n: i64, what: &str| u64::try_from(n).map_err(|_| corrupt(format!("negative {what} {n}")));
    Ok(RecordedEvent {
        meta: EventMeta {
            event_id: EventId(event_id),
            stream_id,
            version: Version(non_negative(version, "version")?),
            position: Position(non_negative(position, "position")?),
            commit,
            event_type,
            schema_version: u32::try_from(schema_version)
                .map_err(|_| corrupt(format!("schema version {schema_version} is out of range")))?,
            recorded_at,
            metadata: metadata.0,
        },
        payload: payload.0,
    })
}

/// Decodes one row selected with [`REPLAY_COLUMNS`] from `stream`.
pub(crate) fn decode_replayed(stream: &StreamId, row: &PgRow) -> Result<ReplayedEvent, StoreError> {
    let version: i64 = row.try_get(0).map_err(StoreError::database)?;
    let corrupt = |message: String| StoreError::Corrupt {
        stream: stream.to_string(),
        version,
        message,
    };
    let non_negative =
        |n: i64, what: &str| u64::try_from(n).map_err(|_| corrupt(format!("negative {what} {n}")));
    let position: i64 = row.try_get(1).map_err(StoreError::database)?;
    let event_type: String = row.try_get(2).map_err(StoreError::database)?;
    let schema_version: i32 = row.try_get(3).map_err(StoreError::database)?;
    let recorded_at: DateTime<Utc> = row.try_get(4).map_err(StoreError::database)?;
    let JsonText(payload) = row
        .try_get(5)
        .map_err(|e| corrupt(format!("payload: {e}")))?;
    Ok(ReplayedEvent {
        version: Version(non_negative(version, "version")?),
        position: Position(non_negative(position, "position")?),
        event_type,
        schema_version: u32::try_from(schema_version)
            .map_err(|_| corrupt(format!("schema version {schema_version} is out of range")))?,
        recorded_at,
        payload: StoredPayload::Json(payload),
    })
}
