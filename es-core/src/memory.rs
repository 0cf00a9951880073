//! [`MemoryStore`]: an in-memory event, snapshot and checkpoint store for tests and prototypes.

use crate::dcb::{AppendCondition, StreamAppend, check_appends, repeated_appends};
use crate::envelope::{AppendResult, AppendedEvent, EventMeta, NewEvent, RecordedEvent};
use crate::error::StoreError;
use crate::id::{Checkpoint, EventId, ExpectedVersion, Position, StreamId, Version};
use crate::projection::{ParkedEvent, ProjectionStore};
use crate::store::{CheckpointStore, EventStore, EventStream, ReadAll, Snapshot, SnapshotStore};
use async_trait::async_trait;
use chrono::Utc;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, PoisonError, RwLock};
use tokio::sync::watch;

/// An in-memory store. Clones share the same data. Appends are serialized by a lock, so the log
/// is in position order (checkpoints have `commit == 0`).
///
/// ```
/// use es_core::{EventStore, ExpectedVersion, MemoryStore, NewEvent, StreamId, Version};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let stream = StreamId::new("todo-1").unwrap();
/// let event = NewEvent::raw("todo.added", 1, serde_json::json!({ "title": "milk" }));
/// store.append(&stream, ExpectedVersion::NoStream, vec![event]).await.unwrap();
/// assert_eq!(store.stream_version(&stream).await.unwrap(), Version(1));
/// # });
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

struct Inner {
    data: RwLock<Data>,
    signal: watch::Sender<u64>,
}

#[derive(Default)]
struct Data {
    log: Vec<RecordedEvent>,
    streams: HashMap<StreamId, Vec<usize>>,
    ids: HashMap<EventId, usize>,
    snapshots: HashMap<StreamId, Snapshot>,
    checkpoints: HashMap<String, Checkpoint>,
    parked: Vec<ParkedEvent>,
    next_parked_id: i64,
    keys: HashMap<String, crate::personal::DataKey>,
    forgotten: Vec<(
        String,
        crate::personal::ForgetRequest,
        chrono::DateTime<Utc>,
    )>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(Inner {
                data: RwLock::new(Data::default()),
                signal: watch::channel(0).0,
            }),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Data> {
        // No code path panics while holding the lock, and the data stays consistent even if one
        // did (every write is validated before it mutates), so a poisoned lock is still usable.
        self.inner
            .data
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Data> {
        self.inner
            .data
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl Data {
    /// Stores `events` after version `actual` of `stream`.
    fn insert_batch(
        &mut self,
        stream: &StreamId,
        actual: Version,
        events: Vec<NewEvent>,
        now: chrono::DateTime<Utc>,
    ) -> Vec<AppendedEvent> {
        let mut appended = Vec::with_capacity(events.len());
        for (i, event) in events.into_iter().enumerate() {
            let index = self.log.len();
            let meta = EventMeta {
                event_id: event.event_id,
                stream_id: stream.clone(),
                version: Version(actual.0 + 1 + i as u64),
                position: Position(index as u64 + 1),
                commit: 0,
                event_type: event.event_type,
                schema_version: event.schema_version,
                recorded_at: now,
                metadata: event.metadata,
                tags: event.tags,
            };
            appended.push(AppendedEvent {
                event_id: meta.event_id,
                version: meta.version,
                position: meta.position,
            });
            self.ids.insert(meta.event_id, index);
            self.streams.entry(stream.clone()).or_default().push(index);
            self.log.push(RecordedEvent {
                meta,
                payload: event.payload,
            });
        }
        appended
    }

    fn version(&self, stream: &StreamId) -> Version {
        Version(self.streams.get(stream).map_or(0, |s| s.len() as u64))
    }

    /// The stream's version, or [`StoreError::StreamDeleted`] if its last event is a tombstone.
    fn open_version(&self, stream: &StreamId) -> Result<Version, StoreError> {
        let version = self.version(stream);
        match self.streams.get(stream).and_then(|s| s.last()) {
            Some(&i) if self.log[i].meta.event_type == crate::tombstone::STREAM_DELETED => {
                Err(crate::tombstone::deleted(stream, version))
            }
            _ => Ok(version),
        }
    }

    /// The stored events that have ids of `events`.
    fn stored_with_ids(&self, events: &[NewEvent]) -> Vec<(StreamId, AppendedEvent)> {
        self.stored_with_event_ids(events.iter().map(|e| &e.event_id))
    }

    /// The stored events that have one of `ids` (once per occurrence in `ids`).
    fn stored_with_event_ids<'i>(
        &self,
        ids: impl Iterator<Item = &'i EventId>,
    ) -> Vec<(StreamId, AppendedEvent)> {
        ids.filter_map(|id| self.ids.get(id))
            .map(|&i| {
                let m = &self.log[i].meta;
                let appended = AppendedEvent {
                    event_id: m.event_id,
                    version: m.version,
                    position: m.position,
                };
                (m.stream_id.clone(), appended)
            })
            .collect()
    }
}

#[async_trait]
impl EventStore for MemoryStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        crate::adapter::append_with(
            stream,
            expected,
            events,
            &self.inner.signal,
            |events| async move {
                let mut data = self.write();
                let stored = data.stored_with_ids(&events);
                if let Some(repeat) = AppendResult::for_repeated_batch(stream, &events, &stored)? {
                    return Ok(repeat);
                }
                let actual = data.open_version(stream)?;
                if !expected.matches(actual) {
                    return Err(StoreError::Conflict {
                        stream: stream.clone(),
                        expected,
                        actual,
                    });
                }
                let appended = data.insert_batch(stream, actual, events, Utc::now());
                Ok(AppendResult {
                    events: appended,
                    already_appended: false,
                })
            },
        )
        .await
    }

    async fn append_streams(
        &self,
        appends: Vec<StreamAppend>,
        condition: Option<AppendCondition>,
    ) -> Result<Vec<AppendResult>, StoreError> {
        check_appends(&appends, condition.as_ref())?;
        let results = {
            let mut data = self.write();
            let stored = data
                .stored_with_event_ids(appends.iter().flat_map(|a| &a.events).map(|e| &e.event_id));
            if let Some(repeat) = repeated_appends(&appends, &stored)? {
                return Ok(repeat);
            }
            if let Some(condition) = &condition {
                let start = condition.after.map_or(0, |a| a.position.0 as usize);
                if let Some(event) = data
                    .log
                    .iter()
                    .skip(start)
                    .find(|e| condition.violated_by(e))
                {
                    return Err(StoreError::ConditionFailed {
                        stream: event.meta.stream_id.clone(),
                        version: event.meta.version,
                        checkpoint: event.meta.checkpoint(),
                        event_type: event.meta.event_type.clone(),
                    });
                }
            }
            for append in &appends {
                let actual = data.open_version(&append.stream)?;
                if !append.expected.matches(actual) {
                    return Err(StoreError::Conflict {
                        stream: append.stream.clone(),
                        expected: append.expected,
                        actual,
                    });
                }
            }
            let now = Utc::now();
            appends
                .into_iter()
                .map(|append| {
                    let actual = data.version(&append.stream);
                    let events = data.insert_batch(&append.stream, actual, append.events, now);
                    AppendResult {
                        events,
                        already_appended: false,
                    }
                })
                .collect::<Vec<_>>()
        };
        if results.iter().any(|r| !r.events.is_empty()) {
            self.inner.signal.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(results)
    }

    fn read_stream<'a>(&'a self, stream: &'a StreamId, from: Version) -> EventStream<'a> {
        let data = self.read();
        let events: Vec<_> = data
            .streams
            .get(stream)
            .map(|indexes| {
                indexes
                    .iter()
                    .skip(from.0.saturating_sub(1) as usize)
                    .map(|&i| Ok(data.log[i].clone()))
                    .collect()
            })
            .unwrap_or_default();
        Box::pin(futures::stream::iter(events))
    }

    fn read_all<'a>(&'a self, query: ReadAll) -> EventStream<'a> {
        if let Err(error) = crate::limits::check_read_all(&query) {
            return Box::pin(futures::stream::once(async { Err(error) }));
        }
        let data = self.read();
        let start = query.after.position.0 as usize;
        let limit = query.limit.unwrap_or(usize::MAX);
        let events: Vec<_> = data
            .log
            .iter()
            .skip(start)
            .filter(|e| query.matches(e))
            .take(limit)
            .map(|e| Ok(e.clone()))
            .collect();
        Box::pin(futures::stream::iter(events))
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<Version, StoreError> {
        Ok(self.read().version(stream))
    }

    async fn list_streams(
        &self,
        prefix: &str,
        after: Option<&StreamId>,
        limit: usize,
    ) -> Result<Vec<(StreamId, Version)>, StoreError> {
        let data = self.read();
        let mut streams: Vec<(StreamId, Version)> = data
            .streams
            .iter()
            .filter(|(id, _)| id.as_str().starts_with(prefix))
            .filter(|(id, _)| after.is_none_or(|a| id.as_str() > a.as_str()))
            .map(|(id, events)| (id.clone(), Version(events.len() as u64)))
            .collect();
        streams.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        streams.truncate(limit);
        Ok(streams)
    }

    async fn head_position(&self) -> Result<Position, StoreError> {
        Ok(Position(self.read().log.len() as u64))
    }

    fn append_signal(&self) -> Option<watch::Receiver<u64>> {
        Some(self.inner.signal.subscribe())
    }

    async fn find_events(
        &self,
        ids: &[EventId],
    ) -> Result<Vec<(StreamId, AppendedEvent)>, StoreError> {
        let unique: HashSet<&EventId> = ids.iter().collect();
        Ok(self.read().stored_with_event_ids(unique.into_iter()))
    }
}

#[async_trait]
impl SnapshotStore for MemoryStore {
    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        Ok(self.read().snapshots.get(stream).cloned())
    }

    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        crate::limits::check_snapshot(snapshot)?;
        let mut data = self.write();
        let newer = data
            .snapshots
            .get(&snapshot.stream_id)
            .is_none_or(|s| s.version < snapshot.version);
        if newer {
            data.snapshots
                .insert(snapshot.stream_id.clone(), snapshot.clone());
        }
        Ok(())
    }

    async fn delete_snapshot(&self, stream: &StreamId) -> Result<(), StoreError> {
        self.write().snapshots.remove(stream);
        Ok(())
    }
}

#[async_trait]
impl crate::personal::KeyStore for MemoryStore {
    async fn data_key(&self, subject: &str) -> Result<crate::personal::DataKey, StoreError> {
        let mut data = self.write();
        Ok(data
            .keys
            .entry(subject.to_owned())
            .or_insert_with(crate::personal::DataKey::generate)
            .clone())
    }

    async fn existing_key(
        &self,
        subject: &str,
    ) -> Result<Option<crate::personal::DataKey>, StoreError> {
        Ok(self.read().keys.get(subject).cloned())
    }

    async fn forget_key(
        &self,
        subject: &str,
        request: &crate::personal::ForgetRequest,
    ) -> Result<bool, StoreError> {
        let mut data = self.write();
        data.forgotten
            .push((subject.to_owned(), request.clone(), Utc::now()));
        Ok(data.keys.remove(subject).is_some())
    }
}

#[async_trait]
impl CheckpointStore for MemoryStore {
    async fn load_checkpoint(&self, name: &str) -> Result<Option<Checkpoint>, StoreError> {
        crate::limits::check_name(name)?;
        Ok(self.read().checkpoints.get(name).copied())
    }

    async fn save_checkpoint(&self, name: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        crate::limits::check_checkpoint(name, checkpoint)?;
        self.write().checkpoints.insert(name.to_owned(), checkpoint);
        Ok(())
    }

    async fn delete_checkpoint(&self, name: &str) -> Result<(), StoreError> {
        crate::limits::check_name(name)?;
        self.write().checkpoints.remove(name);
        Ok(())
    }
}

impl MemoryStore {
    /// Sets a checkpoint (without going through an async trait).
    pub(crate) fn set_checkpoint(&self, name: &str, checkpoint: Checkpoint) {
        self.write().checkpoints.insert(name.to_owned(), checkpoint);
    }
}

/// Projections over the in-memory store: `Tx = ()`, each call takes effect at once, so delivery is
/// at-least-once for the handler's own effects (the checkpoint is saved after each batch).
#[async_trait]
impl ProjectionStore for MemoryStore {
    type Tx = ();

    async fn begin(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn commit(&self, _tx: ()) -> Result<(), StoreError> {
        Ok(())
    }

    async fn load_checkpoint_in(
        &self,
        _tx: &mut (),
        projection: &str,
    ) -> Result<Option<Checkpoint>, StoreError> {
        self.load_checkpoint(projection).await
    }

    async fn save_checkpoint_in(
        &self,
        _tx: &mut (),
        projection: &str,
        checkpoint: Checkpoint,
    ) -> Result<(), StoreError> {
        self.save_checkpoint(projection, checkpoint).await
    }

    async fn delete_checkpoint_in(&self, _tx: &mut (), projection: &str) -> Result<(), StoreError> {
        self.delete_checkpoint(projection).await
    }

    async fn park_in(&self, _tx: &mut (), parked: &ParkedEvent) -> Result<(), StoreError> {
        let mut data = self.write();
        data.next_parked_id += 1;
        let id = data.next_parked_id;
        data.parked.push(ParkedEvent {
            id,
            ..parked.clone()
        });
        Ok(())
    }

    async fn unpark_in(&self, _tx: &mut (), id: i64) -> Result<(), StoreError> {
        self.write().parked.retain(|p| p.id != id);
        Ok(())
    }

    async fn clear_parked_in(&self, _tx: &mut (), projection: &str) -> Result<(), StoreError> {
        self.write().parked.retain(|p| p.projection != projection);
        Ok(())
    }

    async fn parked(&self, projection: &str) -> Result<Vec<ParkedEvent>, StoreError> {
        Ok(self
            .read()
            .parked
            .iter()
            .filter(|p| p.projection == projection)
            .cloned()
            .collect())
    }
}
