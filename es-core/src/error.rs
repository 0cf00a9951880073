//! Errors: [`StoreError`] from storage adapters, [`DecodeError`] for events that cannot be read back.

use crate::id::{ExpectedVersion, InvalidStreamId, Position, StreamId, Version};

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
    /// The caller passed something the store cannot accept (an invalid name, a too long batch, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The database holds a schema this version of the adapter cannot use.
    #[error("incompatible database schema: {0}")]
    IncompatibleSchema(String),
    /// A stored row could not be turned into an event record (a corrupt or foreign row).
    #[error("corrupt stored event at stream `{stream}` version {version}: {message}")]
    Corrupt {
        /// The stream of the row.
        stream: String,
        /// The version of the row.
        version: i64,
        /// What was wrong.
        message: String,
    },
    /// The database failed (connection, I/O, constraint, ...).
    #[error("database error: {0}")]
    Database(#[source] BoxError),
}

impl StoreError {
    /// Wraps a backend error.
    pub fn database(error: impl Into<BoxError>) -> Self {
        StoreError::Database(error.into())
    }

    /// Whether this is an expected-version conflict.
    pub fn is_conflict(&self) -> bool {
        matches!(self, StoreError::Conflict { .. })
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
