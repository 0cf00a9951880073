//! Identifiers and counters: [`StreamId`], [`Version`], [`Position`], [`Checkpoint`],
//! [`ExpectedVersion`] and [`EventId`].

use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

/// The longest stream id a store accepts, in bytes.
pub const MAX_STREAM_ID_LEN: usize = 512;

/// The name of one ordered stream of events, usually `"{aggregate}-{id}"` (for example `account-acc-1`).
///
/// A stream id is non-empty, at most [`MAX_STREAM_ID_LEN`] bytes and has no control characters.
///
/// ```
/// use es_core::StreamId;
/// let id = StreamId::new("account-acc-1").unwrap();
/// assert_eq!(id.as_str(), "account-acc-1");
/// assert!(StreamId::new("").is_err());
/// assert_eq!(StreamId::for_aggregate("account", "acc-1").unwrap(), id);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct StreamId(String);

/// A stream id that was empty, too long or held control characters.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid stream id {id:?}: {reason}")]
pub struct InvalidStreamId {
    /// The rejected id, cut to its first characters and its length when it is long (an error
    /// message never carries a whole oversized value).
    pub id: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

impl StreamId {
    /// Validates and wraps a stream id.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidStreamId> {
        let id = id.into();
        let reason = if id.is_empty() {
            Some("it is empty")
        } else if id.len() > MAX_STREAM_ID_LEN {
            Some("it is longer than 512 bytes")
        } else if id.chars().any(char::is_control) {
            Some("it contains a control character")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(InvalidStreamId {
                id: crate::limits::shorten(&id),
                reason,
            }),
            None => Ok(Self(id)),
        }
    }

    /// The stream of one aggregate instance: `"{aggregate}-{id}"`.
    pub fn for_aggregate(aggregate: &str, id: &str) -> Result<Self, InvalidStreamId> {
        if id.is_empty() {
            return Err(InvalidStreamId {
                id: String::new(),
                reason: "an aggregate id must not be empty",
            });
        }
        Self::new(format!("{aggregate}-{id}"))
    }

    /// A stream id known to be valid (a constant of this crate).
    pub(crate) fn unchecked(id: &str) -> Self {
        Self(id.to_owned())
    }

    /// The id as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The aggregate id of a stream of the aggregate type `A` (`"c1"` of `"cart-c1"` for an
    /// aggregate named `"cart"`), or `None` for a stream of another aggregate type. The inverse of
    /// [`StreamId::for_aggregate`], so a read model need not parse stream ids:
    ///
    /// ```
    /// # use es_core::prelude::*;
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
    /// # struct Added {}
    /// #[derive(Default, Aggregate)]
    /// #[aggregate(name = "cart", events = Added)]
    /// struct Cart {}
    /// # #[event_handler] impl Cart { fn added(&mut self, _: &Added) {} }
    ///
    /// let stream = StreamId::for_aggregate("cart", "c-1").unwrap();
    /// assert_eq!(stream.aggregate_id::<Cart>(), Some("c-1"));
    /// assert_eq!(StreamId::new("order-o1").unwrap().aggregate_id::<Cart>(), None);
    /// ```
    pub fn aggregate_id<A: crate::Aggregate>(&self) -> Option<&str> {
        self.0
            .strip_prefix(A::NAME)
            .and_then(|rest| rest.strip_prefix('-'))
            .filter(|id| !id.is_empty())
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for StreamId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for StreamId {
    type Error = InvalidStreamId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl TryFrom<&str> for StreamId {
    type Error = InvalidStreamId;
    fn try_from(value: &str) -> Result<Self, Self::Error> {
        Self::new(value)
    }
}

impl From<StreamId> for String {
    fn from(value: StreamId) -> Self {
        value.0
    }
}

/// The version of a stream: the number of events in it, and the 1-based number of one event in it.
///
/// `Version(0)` is an empty (or missing) stream; its first event has `Version(1)`. Versions are gapless.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Version(pub u64);

impl Version {
    /// The version of a stream with no events.
    pub const INITIAL: Version = Version(0);

    /// The version after this one.
    pub fn next(self) -> Version {
        Version(self.0 + 1)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The global position of an event in the log of all streams. Unique and increasing as events are
/// appended; see [`Checkpoint`] for the order in which readers see them.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Position(pub u64);

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Where a reader of the global log stands: the events it has seen are exactly those at or before it.
///
/// The global log is ordered by `(commit, position)`. Stores whose writers commit in position order
/// (the in-memory and SQLite stores) leave `commit` at 0, so the order is plain position order. The
/// PostgreSQL store sets `commit` to the id of the writing transaction, which is what lets a reader
/// never skip an event whose transaction commits after a later position was already visible.
///
/// ```
/// use es_core::{Checkpoint, Position};
/// assert!(Checkpoint::START < Checkpoint::new(0, Position(1)));
/// assert!(Checkpoint::new(1, Position(9)) < Checkpoint::new(2, Position(3)));
/// ```
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
pub struct Checkpoint {
    /// The commit order key (a transaction id on PostgreSQL, 0 elsewhere).
    pub commit: u64,
    /// The global position of the last event seen.
    pub position: Position,
}

impl Checkpoint {
    /// Before the first event.
    pub const START: Checkpoint = Checkpoint {
        commit: 0,
        position: Position(0),
    };

    /// A checkpoint at `(commit, position)`.
    pub fn new(commit: u64, position: Position) -> Self {
        Self { commit, position }
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.commit, self.position)
    }
}

/// What the writer expects the stream's version to be when it appends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExpectedVersion {
    /// Append whatever the version is.
    Any,
    /// The stream must not exist yet (have no events).
    NoStream,
    /// The stream must be at exactly this version. `Exact(Version(0))` is the same as `NoStream`.
    Exact(Version),
}

impl ExpectedVersion {
    /// The version the stream must have, if any.
    pub fn required(self) -> Option<Version> {
        match self {
            ExpectedVersion::Any => None,
            ExpectedVersion::NoStream => Some(Version::INITIAL),
            ExpectedVersion::Exact(v) => Some(v),
        }
    }

    /// Whether a stream at `actual` satisfies this expectation.
    pub fn matches(self, actual: Version) -> bool {
        self.required().is_none_or(|v| v == actual)
    }

    /// The expectation that a stream is still at `version` (`NoStream` for version 0).
    pub fn at(version: Version) -> Self {
        if version == Version::INITIAL {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exact(version)
        }
    }
}

impl fmt::Display for ExpectedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExpectedVersion::Any => f.write_str("any version"),
            ExpectedVersion::NoStream => f.write_str("no stream"),
            ExpectedVersion::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// The unique id of one event: a UUID v7, so ids sort by creation time, or, for the events of an
/// idempotent command, a UUID v5 derived from the command id (see [`EventId::for_command`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub Uuid);

impl EventId {
    /// A new time-ordered id.
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    /// The id of the `index`-th event (0-based) that command `command_id` stores in `stream`: a
    /// name-based UUID v5 whose namespace is the command id and whose name is the stream id's
    /// bytes followed by the index as 8 big-endian bytes. The same inputs always give the same
    /// id, so a retried command produces the ids it produced before and the store recognises
    /// them (see [`Repository::execute_idempotent`](crate::Repository::execute_idempotent)).
    /// These ids are not time-ordered.
    ///
    /// ```
    /// use es_core::{EventId, StreamId};
    /// let command = uuid::Uuid::now_v7();
    /// let stream = StreamId::new("account-acc-1").unwrap();
    /// let first = EventId::for_command(command, &stream, 0);
    /// assert_eq!(first, EventId::for_command(command, &stream, 0));
    /// assert_eq!(first.0.get_version_num(), 5);
    /// assert_ne!(first, EventId::for_command(command, &stream, 1));
    /// let other = StreamId::new("account-acc-2").unwrap();
    /// assert_ne!(first, EventId::for_command(command, &other, 0));
    /// assert_ne!(first, EventId::for_command(uuid::Uuid::now_v7(), &stream, 0));
    /// ```
    pub fn for_command(command_id: Uuid, stream: &StreamId, index: u64) -> Self {
        // The index has a fixed width, so no two (stream, index) pairs share a name.
        let mut name = Vec::with_capacity(stream.as_str().len() + 8);
        name.extend_from_slice(stream.as_str().as_bytes());
        name.extend_from_slice(&index.to_be_bytes());
        Self(Uuid::new_v5(&command_id, &name))
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<Uuid> for EventId {
    fn from(value: Uuid) -> Self {
        Self(value)
    }
}
