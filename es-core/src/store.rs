//! The storage contract: [`EventStore`], [`SnapshotStore`], [`CheckpointStore`].

use crate::dcb::{AppendCondition, Query, StreamAppend};
use crate::envelope::{AppendResult, AppendedEvent, NewEvent, RecordedEvent, ReplayedEvent};
use crate::error::StoreError;
use crate::id::{Checkpoint, EventId, ExpectedVersion, Position, StreamId, Version};
use crate::metadata::Metadata;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures::stream::BoxStream;
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;
use tokio::sync::watch;

/// A stream of stored events, read lazily.
pub type EventStream<'a> = BoxStream<'a, Result<RecordedEvent, StoreError>>;

/// A stream of stored events as a replay needs them (see [`EventStore::replay_stream`]).
pub type ReplayStream<'a> = BoxStream<'a, Result<ReplayedEvent, StoreError>>;

/// A query over the global log: after a checkpoint, at most `limit` events, optionally only some
/// event types and a `recorded_at` range.
///
/// ```
/// use es_core::{Checkpoint, ReadAll};
/// let q = ReadAll::new().after(Checkpoint::START).limit(500).event_types(["account.deposited"]);
/// assert_eq!(q.limit, Some(500));
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadAll {
    /// Only events after this checkpoint.
    pub after: Checkpoint,
    /// At most this many events.
    pub limit: Option<usize>,
    /// Only events with one of these stored type names (`None`: all).
    pub event_types: Option<Vec<String>>,
    /// Only events recorded at or after this time.
    pub recorded_from: Option<DateTime<Utc>>,
    /// Only events recorded before this time.
    pub recorded_until: Option<DateTime<Utc>>,
    /// Only events that match this query (types and tags, see [`crate::dcb`]).
    pub query: Option<Query>,
    /// Only events whose metadata has this correlation id (indexed on every shipped store).
    pub correlation_id: Option<uuid::Uuid>,
}

impl ReadAll {
    /// All events from the start.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only events after `checkpoint`.
    pub fn after(mut self, checkpoint: Checkpoint) -> Self {
        self.after = checkpoint;
        self
    }

    /// At most `limit` events.
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Only these stored type names.
    pub fn event_types<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.event_types = Some(types.into_iter().map(Into::into).collect());
        self
    }

    /// Only events recorded in `[from, until)`.
    pub fn recorded_between(mut self, from: DateTime<Utc>, until: DateTime<Utc>) -> Self {
        self.recorded_from = Some(from);
        self.recorded_until = Some(until);
        self
    }

    /// Only the events of one correlation id: everything a request (and what it caused) stored.
    ///
    /// ```
    /// let id = uuid::Uuid::now_v7();
    /// let q = es_core::ReadAll::new().correlated_with(id);
    /// assert_eq!(q.correlation_id, Some(id));
    /// ```
    pub fn correlated_with(mut self, correlation_id: uuid::Uuid) -> Self {
        self.correlation_id = Some(correlation_id);
        self
    }

    /// Only events that match `query` (see [`crate::dcb`]): what a decision reads.
    pub fn matching(mut self, query: Query) -> Self {
        self.query = Some(query);
        self
    }

    /// Whether an event passes the type, time and query filters (not the checkpoint and limit).
    pub fn matches(&self, event: &RecordedEvent) -> bool {
        if let Some(query) = &self.query
            && !query.matches_event(event)
        {
            return false;
        }
        if self
            .correlation_id
            .is_some_and(|id| event.meta.metadata.correlation_id != Some(id))
        {
            return false;
        }
        self.event_types
            .as_ref()
            .is_none_or(|types| types.contains(&event.meta.event_type))
            && self
                .recorded_from
                .is_none_or(|from| event.meta.recorded_at >= from)
            && self
                .recorded_until
                .is_none_or(|until| event.meta.recorded_at < until)
    }
}

/// An append-only store of event streams with a global, ordered log.
///
/// Object safe: `Arc<dyn EventStore>` works. Every adapter passes the conformance suite in
/// `es_core::testkit` (feature `testkit`).
#[async_trait]
pub trait EventStore: Send + Sync {
    /// Appends a batch to a stream, atomically: either every event is stored with consecutive
    /// versions, or none is. A stream not at `expected` yields [`StoreError::Conflict`] with the
    /// actual version. Re-appending a batch whose event ids are stored returns the stored result
    /// with `already_appended` set. An empty batch writes nothing and checks nothing.
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError>;

    /// Appends batches to several streams in one transaction, each guarded by its expected
    /// version, and, with a `condition`, only if no event after `condition.after` matches its
    /// query (see [`crate::dcb`]). All or nothing: a conflict on any stream
    /// ([`StoreError::Conflict`]) or a failed condition ([`StoreError::ConditionFailed`]) writes
    /// nothing. Returns one result per batch, in order. Repeating an append whose event ids are
    /// stored returns the stored results with `already_appended` set, like [`append`](Self::append).
    ///
    /// Every shipped store implements it; the default returns [`StoreError::Unsupported`].
    async fn append_streams(
        &self,
        appends: Vec<StreamAppend>,
        condition: Option<AppendCondition>,
    ) -> Result<Vec<AppendResult>, StoreError> {
        let _ = (appends, condition);
        Err(StoreError::Unsupported(
            "multi-stream and conditional appends",
        ))
    }

    /// Deletes a stream by appending its tombstone (see [`crate::tombstone`]): afterwards appends
    /// to it fail and loads of it fail with [`StoreError::StreamDeleted`]; its events stay in the
    /// log. `metadata` records who asked (its actor), `reason` why. Guarded by `expected` like an
    /// append (a stream already deleted yields [`StoreError::StreamDeleted`]). Logged at `info`.
    ///
    /// The default appends [`tombstone`](crate::tombstone::tombstone) with
    /// [`append`](Self::append); a store needs only to refuse appends after it.
    async fn delete_stream(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        metadata: Metadata,
        reason: &str,
    ) -> Result<AppendResult, StoreError> {
        let actor = metadata.actor.clone();
        let result = self
            .append(
                stream,
                expected,
                vec![crate::tombstone::tombstone(metadata, reason)],
            )
            .await?;
        tracing::info!(%stream, actor = actor.as_deref().unwrap_or(""), reason, "deleted a stream");
        Ok(result)
    }

    /// The events of a stream with version `>= from`, in version order.
    fn read_stream<'a>(&'a self, stream: &'a StreamId, from: Version) -> EventStream<'a>;

    /// The same events as [`read_stream`](Self::read_stream), without event ids and metadata:
    /// what [`Repository`](crate::Repository) folds an aggregate from. The default maps
    /// `read_stream`; stores override it to fetch and decode less (on PostgreSQL the metadata
    /// column alone costs about as much as the payload).
    fn replay_stream<'a>(&'a self, stream: &'a StreamId, from: Version) -> ReplayStream<'a> {
        self.read_stream(stream, from)
            .map_ok(ReplayedEvent::from)
            .boxed()
    }

    /// Events of the global log after `query.after`, in log order (see [`Checkpoint`]).
    ///
    /// A reader that pages with the checkpoint of the last event it received never skips an event,
    /// even one committed later by a concurrent writer.
    fn read_all<'a>(&'a self, query: ReadAll) -> EventStream<'a>;

    /// The streams whose ids start with `prefix` (an aggregate type's streams: `"account-"`), in
    /// byte order of their ids, after `after`, at most `limit`, each with its version: a page of
    /// a listing. The default scans the log; the shipped stores answer from an index.
    async fn list_streams(
        &self,
        prefix: &str,
        after: Option<&StreamId>,
        limit: usize,
    ) -> Result<Vec<(StreamId, Version)>, StoreError> {
        let mut streams: std::collections::BTreeMap<String, (StreamId, Version)> =
            std::collections::BTreeMap::new();
        let mut events = self.read_all(ReadAll::new());
        while let Some(event) = events.try_next().await? {
            let id = event.meta.stream_id.as_str();
            if id.starts_with(prefix) && after.is_none_or(|a| id > a.as_str()) {
                streams.insert(
                    id.to_owned(),
                    (event.meta.stream_id.clone(), event.meta.version),
                );
            }
        }
        Ok(streams.into_values().take(limit).collect())
    }

    /// The current version of a stream (`Version(0)` if it has no events).
    async fn stream_version(&self, stream: &StreamId) -> Result<Version, StoreError>;

    /// The highest global position stored (`Position(0)` for an empty store).
    async fn head_position(&self) -> Result<Position, StoreError>;

    /// The checkpoint of the newest event of the log ([`Checkpoint::START`] if empty): a reader
    /// starting after it sees only events appended later. The default, `(0, head_position)`, is
    /// right for stores whose log is in position order; stores that order by commit override it.
    async fn head_checkpoint(&self) -> Result<Checkpoint, StoreError> {
        Ok(Checkpoint::new(0, self.head_position().await?))
    }

    /// A signal that changes after every append made through this store object (and its clones),
    /// so in-process readers can wake up instead of polling. `None` if the store has none.
    fn append_signal(&self) -> Option<watch::Receiver<u64>> {
        None
    }

    /// The stored events that have one of `ids`, each once, with its stream, in no particular
    /// order; ids that are not stored are left out (an empty `ids` finds nothing). This is how
    /// [`Repository::execute_idempotent`](crate::Repository::execute_idempotent) tells whether a
    /// command was applied already.
    ///
    /// The default scans the whole log with [`read_all`](Self::read_all), in pages of 1000,
    /// stopping once every id is found: correct on any store, but it reads every event for an id
    /// that is not stored. Stores override it with an indexed lookup (the in-memory, SQLite and
    /// PostgreSQL stores answer from their event id index, the same lookup that detects a
    /// repeated batch in [`append`](Self::append)).
    async fn find_events(
        &self,
        ids: &[EventId],
    ) -> Result<Vec<(StreamId, AppendedEvent)>, StoreError> {
        let mut wanted: HashSet<EventId> = ids.iter().copied().collect();
        let mut found = Vec::new();
        let mut after = Checkpoint::START;
        while !wanted.is_empty() {
            let page: Vec<RecordedEvent> = self
                .read_all(ReadAll::new().after(after).limit(1000))
                .try_collect()
                .await?;
            let Some(last) = page.last() else { break };
            after = last.meta.checkpoint();
            for event in page {
                if wanted.remove(&event.meta.event_id) {
                    let appended = AppendedEvent {
                        event_id: event.meta.event_id,
                        version: event.meta.version,
                        position: event.meta.position,
                    };
                    found.push((event.meta.stream_id, appended));
                }
            }
        }
        Ok(found)
    }
}

/// A snapshot of an aggregate's state at a stream version.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    /// The aggregate's stream.
    pub stream_id: StreamId,
    /// The version of the last event folded into `state`.
    pub version: Version,
    /// The schema version of `state`; a snapshot of another version is ignored.
    pub schema_version: u32,
    /// The serialized state.
    pub state: Value,
}

/// Stores the latest snapshot of each stream. Snapshots are a cache: losing one costs a replay.
#[async_trait]
pub trait SnapshotStore: Send + Sync {
    /// The latest snapshot of a stream.
    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError>;

    /// Stores a snapshot unless a snapshot at a newer or equal version is already stored.
    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError>;

    /// Deletes a stream's snapshot (the next load replays the stream). Forgetting a data subject
    /// drops the snapshots that may hold its personal data ([`crate::personal`]). Every shipped
    /// store implements it; the default returns [`StoreError::Unsupported`].
    async fn delete_snapshot(&self, stream: &StreamId) -> Result<(), StoreError> {
        let _ = stream;
        Err(StoreError::Unsupported("deleting snapshots"))
    }
}

/// Stores named subscription checkpoints.
#[async_trait]
pub trait CheckpointStore: Send + Sync {
    /// The stored checkpoint of a subscription.
    async fn load_checkpoint(&self, name: &str) -> Result<Option<Checkpoint>, StoreError>;

    /// Stores a subscription's checkpoint.
    async fn save_checkpoint(&self, name: &str, checkpoint: Checkpoint) -> Result<(), StoreError>;

    /// Forgets a subscription's checkpoint (the next run starts from the beginning).
    async fn delete_checkpoint(&self, name: &str) -> Result<(), StoreError>;
}

macro_rules! forward_store {
    ($($ptr:ident),*) => {$(
        #[async_trait]
        impl<T: EventStore + ?Sized> EventStore for $ptr<T> {
            async fn append(&self, stream: &StreamId, expected: ExpectedVersion, events: Vec<NewEvent>) -> Result<AppendResult, StoreError> {
                (**self).append(stream, expected, events).await
            }
            async fn append_streams(&self, appends: Vec<StreamAppend>, condition: Option<AppendCondition>) -> Result<Vec<AppendResult>, StoreError> {
                (**self).append_streams(appends, condition).await
            }
            async fn delete_stream(&self, stream: &StreamId, expected: ExpectedVersion, metadata: Metadata, reason: &str) -> Result<AppendResult, StoreError> {
                (**self).delete_stream(stream, expected, metadata, reason).await
            }
            fn read_stream<'a>(&'a self, stream: &'a StreamId, from: Version) -> EventStream<'a> {
                (**self).read_stream(stream, from)
            }
            fn replay_stream<'a>(&'a self, stream: &'a StreamId, from: Version) -> ReplayStream<'a> {
                (**self).replay_stream(stream, from)
            }
            fn read_all<'a>(&'a self, query: ReadAll) -> EventStream<'a> {
                (**self).read_all(query)
            }
            async fn stream_version(&self, stream: &StreamId) -> Result<Version, StoreError> {
                (**self).stream_version(stream).await
            }
            async fn list_streams(&self, prefix: &str, after: Option<&StreamId>, limit: usize) -> Result<Vec<(StreamId, Version)>, StoreError> {
                (**self).list_streams(prefix, after, limit).await
            }
            async fn head_position(&self) -> Result<Position, StoreError> {
                (**self).head_position().await
            }
            async fn head_checkpoint(&self) -> Result<Checkpoint, StoreError> {
                (**self).head_checkpoint().await
            }
            fn append_signal(&self) -> Option<watch::Receiver<u64>> {
                (**self).append_signal()
            }
            async fn find_events(&self, ids: &[EventId]) -> Result<Vec<(StreamId, AppendedEvent)>, StoreError> {
                (**self).find_events(ids).await
            }
        }

        #[async_trait]
        impl<T: SnapshotStore + ?Sized> SnapshotStore for $ptr<T> {
            async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
                (**self).load_snapshot(stream).await
            }
            async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
                (**self).save_snapshot(snapshot).await
            }
            async fn delete_snapshot(&self, stream: &StreamId) -> Result<(), StoreError> {
                (**self).delete_snapshot(stream).await
            }
        }

        #[async_trait]
        impl<T: CheckpointStore + ?Sized> CheckpointStore for $ptr<T> {
            async fn load_checkpoint(&self, name: &str) -> Result<Option<Checkpoint>, StoreError> {
                (**self).load_checkpoint(name).await
            }
            async fn save_checkpoint(&self, name: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
                (**self).save_checkpoint(name, checkpoint).await
            }
            async fn delete_checkpoint(&self, name: &str) -> Result<(), StoreError> {
                (**self).delete_checkpoint(name).await
            }
        }
    )*};
}

forward_store!(Arc, Box);
