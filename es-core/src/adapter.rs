//! Building blocks for storage adapters, so that every store decodes rows, converts integers and
//! frames an append the same way. Application code does not need this module.
//!
//! An adapter reads the columns of a row into [`RawEvent`] (or [`RawReplayed`], [`RawParked`])
//! and calls `decode`: whatever does not decode becomes [`StoreError::Corrupt`] naming the row.
//!
//! ```
//! use es_core::adapter::RawEvent;
//! use es_core::{EventId, StoreError};
//! let row = RawEvent {
//!     position: 7,
//!     commit: 0,
//!     event_id: Ok(EventId::new()),
//!     stream_id: "todo-1".into(),
//!     version: 1,
//!     event_type: "todo.added".into(),
//!     schema_version: 1,
//!     payload: r#"{"title":"milk"}"#.into(),
//!     metadata: r#"{"actor": 5}"#.into(),
//!     recorded_at: Ok(chrono::Utc::now()),
//!     tags: Ok(vec![]),
//! };
//! match row.decode() {
//!     Err(StoreError::Corrupt(corrupt)) => {
//!         assert_eq!((corrupt.stream.as_str(), corrupt.version, corrupt.position), ("todo-1", 1, 7));
//!         assert!(corrupt.message.contains("metadata"));
//!     }
//!     other => panic!("{other:?}"),
//! }
//! ```

use crate::envelope::{
    AppendResult, EventMeta, NewEvent, RecordedEvent, ReplayedEvent, StoredPayload,
};
use crate::error::{CorruptEvent, StoreError};
use crate::id::{Checkpoint, EventId, ExpectedVersion, Position, StreamId, Version};
use crate::limits;
use crate::metadata::Metadata;
use crate::projection::ParkedEvent;
use chrono::{DateTime, Utc};
use std::future::Future;
use tokio::sync::watch;
use tracing::Instrument;

/// A database error told in the server's own words and code (`message`), without a driver's
/// decorations; the driver's error is the [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct BackendError {
    /// What the server said, with its error code.
    pub message: String,
    /// The driver's error.
    #[source]
    pub source: crate::BoxError,
}

impl BackendError {
    /// The error `source`, told as `message`.
    pub fn new(message: impl Into<String>, source: impl Into<crate::BoxError>) -> Self {
        Self {
            message: message.into(),
            source: source.into(),
        }
    }
}

/// A number for a signed 64-bit database column; above [`limits::MAX_VERSION`] it is
/// [`StoreError::InvalidInput`].
pub fn to_db_int(value: u64, what: &'static str) -> Result<i64, StoreError> {
    limits::check_number(what, value)?;
    i64::try_from(value).map_err(|_| StoreError::database(format!("{what} {value} overflows")))
}

/// A number read from a signed 64-bit database column; a negative one is an error naming it.
pub fn from_db_int(value: i64, what: &str) -> Result<u64, StoreError> {
    u64::try_from(value)
        .map_err(|_| StoreError::database(format!("stored {what} {value} is negative")))
}

/// The frame of every adapter's `append`: an empty batch writes nothing and checks nothing; the
/// batch is checked with [`limits::check_append`]; `write` runs in an `es.append` tracing span;
/// `signal` is bumped after a batch that was newly stored (not after a repeated one).
pub async fn append_with<F, Fut>(
    stream: &StreamId,
    expected: ExpectedVersion,
    events: Vec<NewEvent>,
    signal: &watch::Sender<u64>,
    write: F,
) -> Result<AppendResult, StoreError>
where
    F: FnOnce(Vec<NewEvent>) -> Fut,
    Fut: Future<Output = Result<AppendResult, StoreError>>,
{
    if events.is_empty() {
        return Ok(AppendResult::default());
    }
    limits::check_append(expected, &events)?;
    let span = tracing::debug_span!("es.append", %stream, events = events.len());
    let result = write(events).instrument(span).await?;
    if !result.already_appended {
        signal.send_modify(|n| *n = n.wrapping_add(1));
    }
    Ok(result)
}

/// The smallest string above every string that starts with `prefix`, in byte order (`None` for an
/// empty prefix, or one whose last characters cannot be increased): the exclusive upper bound of a
/// prefix range, for listing streams by prefix from an index.
///
/// ```
/// assert_eq!(es_core::adapter::prefix_end("account-").as_deref(), Some("account."));
/// assert_eq!(es_core::adapter::prefix_end(""), None);
/// ```
pub fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        if let Some(next) = (u32::from(last) + 1..=u32::from(char::MAX)).find_map(char::from_u32) {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The columns of a stored event row, as an adapter read them.
#[derive(Clone, Debug)]
pub struct RawEvent {
    /// The global position.
    pub position: i64,
    /// The commit key (0 where the log is in position order).
    pub commit: u64,
    /// The event id, or why it does not decode.
    pub event_id: Result<EventId, String>,
    /// The stream id.
    pub stream_id: String,
    /// The stream version.
    pub version: i64,
    /// The event type.
    pub event_type: String,
    /// The schema version.
    pub schema_version: i64,
    /// The payload, as JSON text.
    pub payload: String,
    /// The metadata, as JSON text.
    pub metadata: String,
    /// When it was recorded, or why that does not decode.
    pub recorded_at: Result<DateTime<Utc>, String>,
    /// Its tags, or why they do not decode (see [`tags_from_json`]).
    pub tags: Result<Vec<String>, String>,
}

/// Tags stored as a JSON array of strings (how SQLite and the dead-letter tables keep them).
pub fn tags_to_json(tags: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(tags).map_err(StoreError::database)
}

/// Tags read from a JSON array of strings; what does not decode says why.
pub fn tags_from_json(text: &str) -> Result<Vec<String>, String> {
    serde_json::from_str(text).map_err(|e| format!("tags are not a JSON array of strings: {e}"))
}

impl RawEvent {
    /// The record, or [`StoreError::Corrupt`] naming the row and what is wrong with it.
    pub fn decode(self) -> Result<RecordedEvent, StoreError> {
        let position = u64::try_from(self.position).unwrap_or(0);
        let corrupt = |message: String| -> StoreError {
            CorruptEvent::new(
                &self.stream_id,
                self.version,
                position,
                self.commit,
                &self.event_type,
                self.event_id.as_ref().ok().copied(),
                message,
            )
            .into()
        };
        let event_id = self.event_id.clone().map_err(&corrupt)?;
        if self.position <= 0 {
            return Err(corrupt(format!(
                "position {} is not positive",
                self.position
            )));
        }
        let stream_id =
            StreamId::new(self.stream_id.as_str()).map_err(|e| corrupt(e.to_string()))?;
        let version = stored_version(self.version).map_err(&corrupt)?;
        let schema_version = stored_schema_version(self.schema_version).map_err(&corrupt)?;
        let recorded_at = self.recorded_at.clone().map_err(&corrupt)?;
        let payload = serde_json::from_str(&self.payload)
            .map_err(|e| corrupt(format!("payload is not JSON: {e}")))?;
        let metadata: Metadata = serde_json::from_str(&self.metadata)
            .map_err(|e| corrupt(format!("metadata does not decode: {e}")))?;
        let tags = self.tags.clone().map_err(&corrupt)?;
        Ok(RecordedEvent {
            meta: EventMeta {
                event_id,
                stream_id,
                version,
                position: Position(position),
                commit: self.commit,
                event_type: self.event_type,
                schema_version,
                recorded_at,
                metadata,
                tags,
            },
            payload,
        })
    }
}

fn stored_version(version: i64) -> Result<Version, String> {
    match u64::try_from(version) {
        Ok(v) if v > 0 => Ok(Version(v)),
        _ => Err(format!("version {version} is not positive")),
    }
}

fn stored_schema_version(schema_version: i64) -> Result<u32, String> {
    u32::try_from(schema_version)
        .ok()
        .filter(|v| (1..=limits::MAX_SCHEMA_VERSION).contains(v))
        .ok_or_else(|| format!("schema version {schema_version} is out of range"))
}

/// The columns a replay reads (no stream id or metadata), as an adapter read them.
#[derive(Clone, Debug)]
pub struct RawReplayed {
    /// The event id, or why it does not decode.
    pub event_id: Result<EventId, String>,
    /// The stream version.
    pub version: i64,
    /// The global position.
    pub position: i64,
    /// The event type.
    pub event_type: String,
    /// The schema version.
    pub schema_version: i64,
    /// When it was recorded, or why that does not decode.
    pub recorded_at: Result<DateTime<Utc>, String>,
    /// The payload (JSON text is deserialized by the event type directly).
    pub payload: StoredPayload,
}

impl RawReplayed {
    /// The replayed event of `stream`, or [`StoreError::Corrupt`] naming the row.
    pub fn decode(self, stream: &StreamId) -> Result<ReplayedEvent, StoreError> {
        let position = u64::try_from(self.position).unwrap_or(0);
        let corrupt = |message: String| -> StoreError {
            CorruptEvent::new(
                stream.as_str(),
                self.version,
                position,
                0,
                &self.event_type,
                None,
                message,
            )
            .into()
        };
        if self.position <= 0 {
            return Err(corrupt(format!(
                "position {} is not positive",
                self.position
            )));
        }
        let version = stored_version(self.version).map_err(&corrupt)?;
        let schema_version = stored_schema_version(self.schema_version).map_err(&corrupt)?;
        let recorded_at = self.recorded_at.clone().map_err(&corrupt)?;
        let event_id = self.event_id.clone().map_err(&corrupt)?;
        Ok(ReplayedEvent {
            event_id,
            version,
            position: Position(position),
            event_type: self.event_type,
            schema_version,
            recorded_at,
            payload: self.payload,
        })
    }
}

/// The columns of a dead-letter row, as an adapter read them.
#[derive(Clone, Debug)]
pub struct RawParked {
    /// The dead letter's id.
    pub id: i64,
    /// The projection.
    pub projection: String,
    /// The event id, or why it does not decode.
    pub event_id: Result<EventId, String>,
    /// The stream id.
    pub stream_id: String,
    /// The stream version.
    pub version: i64,
    /// The checkpoint's commit key.
    pub commit: i64,
    /// The checkpoint's position.
    pub position: i64,
    /// The event type.
    pub event_type: String,
    /// The error it was parked with.
    pub error: String,
    /// When it was parked, or why that does not decode.
    pub parked_at: Result<DateTime<Utc>, String>,
}

impl RawParked {
    /// The dead letter, or an error naming the row.
    pub fn decode(self) -> Result<ParkedEvent, StoreError> {
        let id = self.id;
        let bad = |message: String| StoreError::database(format!("dead letter {id}: {message}"));
        Ok(ParkedEvent {
            id,
            projection: self.projection,
            event_id: self.event_id.map_err(bad)?,
            stream_id: StreamId::new(self.stream_id).map_err(|e| bad(e.to_string()))?,
            version: Version(from_db_int(self.version, "dead letter version")?),
            checkpoint: Checkpoint::new(
                from_db_int(self.commit, "dead letter commit key")?,
                Position(from_db_int(self.position, "dead letter position")?),
            ),
            event_type: self.event_type,
            error: self.error,
            parked_at: self.parked_at.map_err(bad)?,
        })
    }
}
