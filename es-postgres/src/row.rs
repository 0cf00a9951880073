//! Turning `es_events` rows into [`RecordedEvent`]s.

use es_core::adapter::{RawEvent, RawReplayed};
use es_core::{EventId, RecordedEvent, ReplayedEvent, StoreError, StoredPayload, StreamId};
use sqlx::postgres::{PgRow, PgTypeInfo, PgValueFormat, PgValueRef, Postgres};
use sqlx::{Row, TypeInfo};

/// The columns every event query selects, in the order [`decode`] reads them.
pub(crate) const EVENT_COLUMNS: &str = "global_position, tx_id, event_id, stream_id, \
     version, event_type, schema_version, payload, metadata, recorded_at, tags";

/// The columns a replay selects, in the order [`decode_replayed`] reads them: no event id, stream
/// id (the caller knows it), transaction id or metadata. Converting the `jsonb` metadata to its
/// wire form costs the server about as much per row as the payload.
pub(crate) const REPLAY_COLUMNS: &str =
    "version, global_position, event_type, schema_version, recorded_at, payload, event_id";

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
/// (see [`es_core::DomainEvent::from_json`]), instead of through a `serde_json::Value`.
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
    let db = StoreError::database;
    let TxId(commit) = row.try_get(1).map_err(db)?;
    let JsonText(payload) = row.try_get(7).map_err(db)?;
    let JsonText(metadata) = row.try_get(8).map_err(db)?;
    RawEvent {
        position: row.try_get(0).map_err(db)?,
        commit,
        event_id: Ok(EventId(row.try_get(2).map_err(db)?)),
        stream_id: row.try_get(3).map_err(db)?,
        version: row.try_get(4).map_err(db)?,
        event_type: row.try_get(5).map_err(db)?,
        schema_version: i64::from(row.try_get::<i32, _>(6).map_err(db)?),
        payload,
        metadata,
        recorded_at: Ok(row.try_get(9).map_err(db)?),
        tags: Ok(row.try_get(10).map_err(db)?),
    }
    .decode()
}

/// Decodes one row selected with [`REPLAY_COLUMNS`] from `stream`.
pub(crate) fn decode_replayed(stream: &StreamId, row: &PgRow) -> Result<ReplayedEvent, StoreError> {
    let db = StoreError::database;
    let JsonText(payload) = row.try_get(5).map_err(db)?;
    RawReplayed {
        version: row.try_get(0).map_err(db)?,
        position: row.try_get(1).map_err(db)?,
        event_type: row.try_get(2).map_err(db)?,
        schema_version: i64::from(row.try_get::<i32, _>(3).map_err(db)?),
        recorded_at: Ok(row.try_get(4).map_err(db)?),
        payload: StoredPayload::Json(payload),
        event_id: Ok(EventId(row.try_get(6).map_err(db)?)),
    }
    .decode(stream)
}
