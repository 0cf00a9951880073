//! Stored events: [`NewEvent`] (to append), [`RecordedEvent`] (read back), [`EventEnvelope`] (decoded),
//! [`ReplayedEvent`] (read back for a replay).

use crate::error::{DecodeError, StoreError};
use crate::event::DomainEvent;
use crate::id::{Checkpoint, EventId, Position, StreamId, Version};
use crate::metadata::Metadata;
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Everything stored about an event except its payload.
#[derive(Clone, Debug, PartialEq)]
pub struct EventMeta {
    /// The event's unique id.
    pub event_id: EventId,
    /// The stream it belongs to.
    pub stream_id: StreamId,
    /// Its 1-based version in the stream.
    pub version: Version,
    /// Its global position.
    pub position: Position,
    /// The commit order key (see [`Checkpoint`]).
    pub commit: u64,
    /// The stable event type name, as stored.
    pub event_type: String,
    /// The schema version, as stored (before upcasting).
    pub schema_version: u32,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
    /// Correlation, causation, actor and user keys.
    pub metadata: Metadata,
    /// Its tags (see [`crate::dcb`]), in the order they were appended.
    pub tags: Vec<String>,
}

impl EventMeta {
    /// The checkpoint a reader that has seen this event stands at.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint::new(self.commit, self.position)
    }
}

/// An event as a store returns it: metadata plus the JSON payload, not yet decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedEvent {
    /// Where and when it is stored.
    pub meta: EventMeta,
    /// The payload in its stored schema version.
    pub payload: Value,
}

impl RecordedEvent {
    /// Decodes (and upcasts) the payload into `E`. The error names stream, version, position and type.
    pub fn decode<E: DomainEvent>(&self) -> Result<EventEnvelope<E>, DecodeError> {
        self.clone().into_decoded()
    }

    /// Like [`decode`](Self::decode), consuming the record to avoid copying the payload.
    pub fn into_decoded<E: DomainEvent>(self) -> Result<EventEnvelope<E>, DecodeError> {
        let RecordedEvent { meta, payload } = self;
        match E::from_payload(&meta.event_type, meta.schema_version, payload) {
            Ok(event) => Ok(EventEnvelope { meta, event }),
            Err(kind) => Err(DecodeError {
                stream: meta.stream_id,
                version: meta.version,
                position: meta.position,
                event_type: meta.event_type,
                schema_version: meta.schema_version,
                kind,
            }),
        }
    }
}

/// A stored event as a replay needs it: where it is in its stream and the log, its type, schema
/// version, time and payload, without the event id and metadata that folding does not use.
///
/// Returned by [`EventStore::replay_stream`](crate::EventStore::replay_stream), which
/// [`Repository`](crate::Repository) loads aggregates with, so that stores can skip columns.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplayedEvent {
    /// The event's id (the associated data of its encrypted personal values).
    pub event_id: EventId,
    /// Its 1-based version in the stream.
    pub version: Version,
    /// Its global position.
    pub position: Position,
    /// The stable event type name, as stored.
    pub event_type: String,
    /// The schema version, as stored (before upcasting).
    pub schema_version: u32,
    /// When the store recorded it.
    pub recorded_at: DateTime<Utc>,
    /// The payload in its stored schema version.
    pub payload: StoredPayload,
}

/// A payload as a store hands it to a replay: a parsed JSON value, or JSON text that the event
/// type deserializes directly (parsing it once instead of twice).
#[derive(Clone, Debug, PartialEq)]
pub enum StoredPayload {
    /// A parsed JSON value.
    Value(Value),
    /// JSON text.
    Json(String),
}

impl StoredPayload {
    /// The payload as a JSON value (parsing the text of [`StoredPayload::Json`]).
    pub fn to_value(&self) -> Result<Value, serde_json::Error> {
        match self {
            StoredPayload::Value(value) => Ok(value.clone()),
            StoredPayload::Json(text) => serde_json::from_str(text),
        }
    }
}

impl ReplayedEvent {
    /// Decodes (and upcasts) the payload into `E`; `stream` names the stream in the error.
    pub fn into_event<E: DomainEvent>(self, stream: &StreamId) -> Result<E, DecodeError> {
        let ReplayedEvent {
            version,
            position,
            event_type,
            schema_version,
            payload,
            ..
        } = self;
        let decoded = match payload {
            StoredPayload::Value(value) => E::from_payload(&event_type, schema_version, value),
            StoredPayload::Json(text) => E::from_json(&event_type, schema_version, &text),
        };
        decoded.map_err(|kind| DecodeError {
            stream: stream.clone(),
            version,
            position,
            event_type,
            schema_version,
            kind,
        })
    }
}

impl From<RecordedEvent> for ReplayedEvent {
    fn from(record: RecordedEvent) -> Self {
        let RecordedEvent { meta, payload } = record;
        Self {
            event_id: meta.event_id,
            version: meta.version,
            position: meta.position,
            event_type: meta.event_type,
            schema_version: meta.schema_version,
            recorded_at: meta.recorded_at,
            payload: StoredPayload::Value(payload),
        }
    }
}

/// A decoded event with its metadata.
#[derive(Clone, Debug, PartialEq)]
pub struct EventEnvelope<E> {
    /// Where and when it is stored.
    pub meta: EventMeta,
    /// The event.
    pub event: E,
}

/// An event to append.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    /// Its id; repeating a batch with the same ids is detected (idempotent retries).
    pub event_id: EventId,
    /// The stable type name.
    pub event_type: String,
    /// The schema version of `payload`.
    pub schema_version: u32,
    /// The payload.
    pub payload: Value,
    /// Metadata.
    pub metadata: Metadata,
    /// Tags (see [`crate::dcb`]): what a [`Query`](crate::dcb::Query) selects the event by.
    pub tags: Vec<String>,
}

impl NewEvent {
    /// Encodes a domain event with a fresh id.
    ///
    /// ```
    /// use es_core::{Event, Metadata, NewEvent};
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct Deposited { amount: i64 }
    /// impl Event for Deposited { const NAME: &'static str = "account.deposited"; }
    ///
    /// let e = NewEvent::from_event(&Deposited { amount: 3 }, Metadata::new()).unwrap();
    /// assert_eq!(e.event_type, "account.deposited");
    /// assert_eq!(e.payload["amount"], 3);
    /// ```
    pub fn from_event<E: DomainEvent>(
        event: &E,
        metadata: Metadata,
    ) -> Result<Self, serde_json::Error> {
        Ok(Self {
            event_id: EventId::new(),
            event_type: event.event_type().to_owned(),
            schema_version: event.schema_version(),
            payload: event.to_payload()?,
            metadata,
            tags: event.tags(),
        })
    }

    /// A raw event: any type name, version and payload (for imports, tests and tools).
    pub fn raw(event_type: impl Into<String>, schema_version: u32, payload: Value) -> Self {
        Self {
            event_id: EventId::new(),
            event_type: event_type.into(),
            schema_version,
            payload,
            metadata: Metadata::default(),
            tags: Vec::new(),
        }
    }

    /// Replaces the metadata.
    pub fn with_metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// Replaces the tags.
    ///
    /// ```
    /// let e = es_core::NewEvent::raw("course.defined", 1, serde_json::json!({}))
    ///     .with_tags(["course:c1"]);
    /// assert_eq!(e.tags, ["course:c1"]);
    /// ```
    pub fn with_tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }
}

/// Where one appended event was stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AppendedEvent {
    /// Its id.
    pub event_id: EventId,
    /// Its version in the stream.
    pub version: Version,
    /// Its global position.
    pub position: Position,
}

/// The result of an append.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AppendResult {
    /// The stored events, in batch order.
    pub events: Vec<AppendedEvent>,
    /// True when the batch had been stored before (same event ids): nothing new was written.
    pub already_appended: bool,
}

impl AppendResult {
    /// The stream's version after this batch (`None` for an empty batch).
    pub fn last_version(&self) -> Option<Version> {
        self.events.last().map(|e| e.version)
    }
}

impl AppendResult {
    /// Decides what an append of `batch` means when some of its event ids are already stored
    /// (`stored`: the stored events with those ids, any order). `Ok(None)`: none is stored, append
    /// normally. `Ok(Some(result))`: the batch was appended before, exactly as now, to the same
    /// stream: report the stored result. `Err(DuplicateEventId)`: a partial or foreign collision.
    ///
    /// Every adapter uses this, so idempotent retries mean the same thing on every store.
    pub fn for_repeated_batch(
        stream: &StreamId,
        batch: &[NewEvent],
        stored: &[(StreamId, AppendedEvent)],
    ) -> Result<Option<AppendResult>, StoreError> {
        if stored.is_empty() {
            return Ok(None);
        }
        let found: Vec<Option<&(StreamId, AppendedEvent)>> = batch
            .iter()
            .map(|e| stored.iter().find(|(_, s)| s.event_id == e.event_id))
            .collect();
        let repeats = found.iter().all(|f| f.is_some_and(|(s, _)| s == stream))
            && found.windows(2).all(
                |w| matches!(w, [Some((_, a)), Some((_, b))] if b.version.0 == a.version.0 + 1),
            );
        if repeats {
            return Ok(Some(AppendResult {
                events: found.into_iter().flatten().map(|(_, e)| *e).collect(),
                already_appended: true,
            }));
        }
        let event_id = batch
            .iter()
            .zip(&found)
            .find_map(|(e, f)| f.map(|_| e.event_id))
            .unwrap_or_default();
        Err(StoreError::DuplicateEventId {
            stream: stream.clone(),
            event_id,
        })
    }
}
