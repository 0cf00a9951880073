//! Errors: [`StoreError`] from storage adapters, [`DecodeError`] for events that cannot be read back.

use crate::id::{
    Checkpoint, EventId, ExpectedVersion, InvalidStreamId, Position, StreamId, Version,
};
use crate::limits::shorten;

/// A boxed error from a storage backend or a user handler.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error from an event, snapshot or checkpoint store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The stream was not at the expected version. Nothing of the batch was written.
    #[error(
        "wrong expected version for stream `{stream}`: expected {expected}, but it is at version {actual}"
    )]
    Conflict {
        /// The stream appended to.
        stream: StreamId,
        /// What the writer expected.
        expected: ExpectedVersion,
        /// The version the stream actually had.
        actual: Version,
    },
    /// An event id of the batch is already stored, but the batch is not a repeat of a stored batch.
    #[error(
        "event id {event_id} is already stored (stream `{stream}`); nothing of the batch was written"
    )]
    DuplicateEventId {
        /// The stream appended to.
        stream: StreamId,
        /// The id that collided.
        event_id: crate::id::EventId,
    },
    /// The caller passed something no store accepts (see [`crate::limits`]); nothing was written.
    /// Every adapter checks input with the same functions, so all reject the same input with the
    /// same [`InputError`].
    #[error("invalid input: {0}")]
    InvalidInput(#[from] InputError),
    /// The database holds a schema this version of the adapter cannot use.
    #[error("incompatible database schema: {0}")]
    IncompatibleSchema(String),
    /// A stored row could not be turned into an event record (a row written around the store, by
    /// SQL or a foreign tool). Names the row, so a reader can skip past it (a parking projection
    /// parks it, see [`ErrorPolicy::park`](crate::ErrorPolicy::park)).
    #[error(transparent)]
    Corrupt(Box<CorruptEvent>),
    /// The store cannot be reached or cannot serve right now: the connection was refused or lost,
    /// the pool timed out, the server is shutting down or overloaded, SQLite stayed busy beyond
    /// its timeout, the disk is full. **Transient**: the same call may succeed later (the
    /// projection runner retries it until the store is back). Whether a failed append was stored
    /// is unknown; retry it with the same event ids and it is reported as `already_appended`.
    #[error("store unavailable: {0}")]
    Unavailable(#[source] BoxError),
    /// The database rejected the statement: a constraint, a missing privilege, a trigger (such as
    /// "stored events are immutable"). Not transient: the same call fails the same way.
    #[error("rejected by the database: {0}")]
    Rejected(#[source] BoxError),
    /// Any other failure of the database.
    #[error("database error: {0}")]
    Database(#[source] BoxError),
    /// The condition of a conditional append
    /// ([`EventStore::append_streams`](crate::EventStore::append_streams)) failed: an event after
    /// its `after` matches its query. Nothing was written. Read again and decide again (the
    /// [`Decisions`](crate::decision::Decisions) executor does).
    #[error(
        "append condition failed: event `{event_type}` at version {version} of stream `{stream}` (checkpoint {checkpoint}) matches the condition's query; nothing was written"
    )]
    ConditionFailed {
        /// The stream of the first matching event.
        stream: StreamId,
        /// Its version.
        version: Version,
        /// Its checkpoint.
        checkpoint: Checkpoint,
        /// Its type.
        event_type: String,
    },
    /// The stream was deleted ([`crate::tombstone`]): it takes no more events and does not load.
    /// Its events stay in the log. Not transient.
    #[error("stream `{stream}` was deleted (its tombstone is version {version})")]
    StreamDeleted {
        /// The deleted stream.
        stream: StreamId,
        /// The version of its tombstone, its last event.
        version: Version,
    },
    /// The store does not implement this operation.
    #[error("this store does not support {0}")]
    Unsupported(&'static str),
}

impl StoreError {
    /// Wraps a backend error.
    pub fn database(error: impl Into<BoxError>) -> Self {
        StoreError::Database(error.into())
    }

    /// Wraps a backend error that is transient ([`StoreError::Unavailable`]).
    pub fn unavailable(error: impl Into<BoxError>) -> Self {
        StoreError::Unavailable(error.into())
    }

    /// Wraps a backend error for a statement the database rejected ([`StoreError::Rejected`]).
    pub fn rejected(error: impl Into<BoxError>) -> Self {
        StoreError::Rejected(error.into())
    }

    /// Whether the same call may succeed later: [`StoreError::Unavailable`]. (A
    /// [`StoreError::Conflict`] is retried by [`Repository`](crate::Repository) on fresh state.)
    ///
    /// ```
    /// use es_core::StoreError;
    /// assert!(StoreError::unavailable("connection reset").is_transient());
    /// assert!(!StoreError::rejected("permission denied").is_transient());
    /// ```
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }

    /// Whether this is an expected-version conflict.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
    }

    /// Whether the stream was deleted ([`StoreError::StreamDeleted`]).
    pub fn is_stream_deleted(&self) -> bool {
        matches!(self, StoreError::StreamDeleted { .. })
    }

    /// Whether a conditional append failed its condition ([`StoreError::ConditionFailed`]).
    pub fn is_condition_failed(&self) -> bool {
        matches!(self, StoreError::ConditionFailed { .. })
    }

    /// The input error, if the store rejected the caller's input.
    pub fn input_error(&self) -> Option<&InputError> {
        match self {
            StoreError::InvalidInput(e) => Some(e),
            _ => None,
        }
    }
}

/// Which JSON value of an event or snapshot an [`InputError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonField {
    /// The event's payload.
    Payload,
    /// The event's metadata.
    Metadata,
    /// A snapshot's state.
    SnapshotState,
}

impl std::fmt::Display for JsonField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            JsonField::Payload => "payload",
            JsonField::Metadata => "metadata",
            JsonField::SnapshotState => "snapshot state",
        })
    }
}

/// Input that no store accepts, with where it is. `index` is the event's index in its batch.
/// Oversized values are quoted by a short prefix only.
///
/// ```
/// use es_core::{ExpectedVersion, InputError, NewEvent, limits};
/// let event = NewEvent::raw("", 1, serde_json::json!({}));
/// let error = limits::check_append(ExpectedVersion::Any, &[event]).unwrap_err();
/// assert!(matches!(error.input_error(), Some(InputError::InvalidEventType { index: 0, .. })));
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InputError {
    /// One event id twice in one batch.
    #[error("event id {event_id} appears twice in one batch")]
    DuplicateEventId {
        /// The repeated id.
        event_id: EventId,
    },
    /// An event type that is empty, too long or holds a control character.
    #[error("event {index} of the batch: invalid event type {event_type:?}: {reason}")]
    InvalidEventType {
        /// The event's index in the batch.
        index: usize,
        /// The type (a short prefix if it is long).
        event_type: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A schema version of 0 or above [`limits::MAX_SCHEMA_VERSION`](crate::limits::MAX_SCHEMA_VERSION).
    #[error("{}schema version {schema_version} is out of range (1 to {max})", at(.index))]
    SchemaVersionOutOfRange {
        /// The event's index in the batch (`None`: a snapshot).
        index: Option<usize>,
        /// The rejected version.
        schema_version: u32,
        /// The largest accepted.
        max: u32,
    },
    /// A reserved metadata key (`correlation_id`, `causation_id`, `actor`) among the free keys:
    /// it would collide with (or overwrite) the typed field. Set the field instead.
    #[error(
        "event {index} of the batch: metadata key `{key}` is reserved; set it with Metadata::with_{key} instead of Metadata::with"
    )]
    ReservedMetadataKey {
        /// The event's index in the batch.
        index: usize,
        /// The key.
        key: String,
    },
    /// A JSON value nested deeper than [`limits::MAX_JSON_DEPTH`](crate::limits::MAX_JSON_DEPTH).
    #[error("{}{field} is nested more than {max} levels deep", at(.index))]
    JsonTooDeep {
        /// The event's index in the batch (`None`: a snapshot).
        index: Option<usize>,
        /// Which value.
        field: JsonField,
        /// The limit.
        max: usize,
    },
    /// A NUL character (`\u0000`) in a JSON string or key, which PostgreSQL cannot store.
    #[error("{}{field} holds a NUL character (\\u0000) in a string or key", at(.index))]
    NulInJson {
        /// The event's index in the batch (`None`: a snapshot).
        index: Option<usize>,
        /// Which value.
        field: JsonField,
    },
    /// A number above what stores keep ([`limits::MAX_VERSION`](crate::limits::MAX_VERSION) for
    /// versions, positions and commit keys).
    #[error("{what} {value} is out of range (at most {max})")]
    NumberOutOfRange {
        /// What the number is.
        what: &'static str,
        /// The number.
        value: u64,
        /// The largest accepted.
        max: u64,
    },
    /// A name (of a checkpoint or projection) that is empty, too long or holds a control character.
    #[error("invalid {what} {name:?}: {reason}")]
    InvalidName {
        /// What the name is of.
        what: &'static str,
        /// The name (a short prefix if it is long).
        name: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// A tag that is empty, too long or holds a control character (see
    /// [`limits::MAX_TAG_LEN`](crate::limits::MAX_TAG_LEN)).
    #[error("{}invalid tag {tag:?}: {reason}", at(.index))]
    InvalidTag {
        /// The event's index in the batch (`None`: a tag of a query).
        index: Option<usize>,
        /// The tag (a short prefix if it is long).
        tag: String,
        /// Why it was rejected.
        reason: &'static str,
    },
    /// More tags on one event, or items in one query, than
    /// [`limits::MAX_TAGS`](crate::limits::MAX_TAGS) allows.
    #[error("{}{count} {what}: at most {max}", at(.index))]
    TooMany {
        /// The event's index in the batch (`None`: a query).
        index: Option<usize>,
        /// What there are too many of.
        what: &'static str,
        /// How many there are.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// One stream twice in one multi-stream append: put its events in one batch.
    #[error("stream `{stream}` appears twice in one append; put its events in one batch")]
    StreamTwice {
        /// The stream.
        stream: StreamId,
    },
    /// Anything else a store cannot accept.
    #[error("{0}")]
    Other(String),
}

fn at(index: &Option<usize>) -> String {
    index.map_or_else(String::new, |i| format!("event {i} of the batch: "))
}

/// A stored event row that does not decode: what of it could be read, and why the rest not.
/// Text fields hold at most a short prefix of what is stored.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "corrupt stored event `{event_type}` in stream `{stream}` at version {version}, position {position}: {message}"
)]
pub struct CorruptEvent {
    /// The row's stream id, as stored.
    pub stream: String,
    /// The row's version, as stored.
    pub version: i64,
    /// The row's global position.
    pub position: u64,
    /// The row's commit key (see [`Checkpoint`]); 0 on stores whose log is in position order and
    /// on reads that do not select it (replays).
    pub commit: u64,
    /// The row's event type, as stored.
    pub event_type: String,
    /// The row's event id, if it decodes.
    pub event_id: Option<EventId>,
    /// What was wrong.
    pub message: String,
}

impl CorruptEvent {
    /// The checkpoint a reader that skips this row stands at.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint::new(self.commit, Position(self.position))
    }

    /// Builds the error, shortening long text.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        stream: &str,
        version: i64,
        position: u64,
        commit: u64,
        event_type: &str,
        event_id: Option<EventId>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            stream: shorten(stream),
            version,
            position,
            commit,
            event_type: shorten(event_type),
            event_id,
            message: message.into(),
        }
    }
}

impl From<CorruptEvent> for StoreError {
    fn from(value: CorruptEvent) -> Self {
        StoreError::Corrupt(Box::new(value))
    }
}

/// Why a stored event could not be decoded into a Rust type.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// No event type of the target type has this name (or alias).
    #[error("no event type with this name is known to `{target}`")]
    UnknownType {
        /// The Rust type that was asked to decode the event.
        target: &'static str,
    },
    /// The stored schema version is newer than the code's.
    #[error("schema version {found} is newer than the newest this code knows ({supported})")]
    TooNew {
        /// The stored version.
        found: u32,
        /// The version of the Rust type.
        supported: u32,
    },
    /// The chain has no upcaster from this schema version.
    #[error("no upcaster from schema version {from}")]
    MissingUpcast {
        /// The version with no step.
        from: u32,
    },
    /// An upcaster failed.
    #[error("upcasting from schema version {from} failed: {message}")]
    Upcast {
        /// The version the failing step starts from.
        from: u32,
        /// The upcaster's error message.
        message: String,
    },
    /// The (upcast) payload does not deserialize into the Rust type.
    #[error("payload does not decode: {0}")]
    Payload(#[from] serde_json::Error),
}

/// A stored event that could not be decoded, with where it is stored.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot decode event `{event_type}` (schema version {schema_version}) in stream `{stream}` at version {version}, position {position}: {kind}"
)]
pub struct DecodeError {
    /// The stream of the event.
    pub stream: StreamId,
    /// Its version in the stream.
    pub version: Version,
    /// Its global position.
    pub position: Position,
    /// Its stored type name.
    pub event_type: String,
    /// Its stored schema version.
    pub schema_version: u32,
    /// What went wrong.
    #[source]
    pub kind: DecodeErrorKind,
}

/// An error loading an aggregate or reading its history.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RepositoryError {
    /// The aggregate id does not make a valid stream id.
    #[error(transparent)]
    InvalidId(#[from] InvalidStreamId),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored event could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

/// An error executing a command through a [`Repository`](crate::Repository).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecuteError<E> {
    /// The aggregate rejected the command; nothing was written.
    #[error("command rejected: {0}")]
    Rejected(E),
    /// Other writers kept changing the stream; every attempt conflicted. Nothing was written.
    #[error("gave up after {attempts} attempts: {source}")]
    Conflict {
        /// How many times the command was tried.
        attempts: usize,
        /// The last conflict.
        #[source]
        source: StoreError,
    },
    /// An event could not be serialized.
    #[error("cannot serialize event `{event_type}`: {source}")]
    Encode {
        /// The event's type name.
        event_type: &'static str,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// Loading the aggregate or storing the events failed.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

impl<E> From<StoreError> for ExecuteError<E> {
    fn from(value: StoreError) -> Self {
        ExecuteError::Repository(RepositoryError::Store(value))
    }
}

impl<E> ExecuteError<E> {
    /// The aggregate's own error, if the command was rejected.
    pub fn rejection(&self) -> Option<&E> {
        match self {
            ExecuteError::Rejected(e) => Some(e),
            _ => None,
        }
    }
}
