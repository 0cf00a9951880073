//! [`Repository`]: load aggregates by replay (from a snapshot), execute commands with optimistic
//! concurrency.

use crate::aggregate::{Aggregate, Handle};
use crate::dcb::StreamAppend;
use crate::envelope::{AppendResult, AppendedEvent, EventEnvelope, NewEvent};
use crate::error::{ExecuteError, RepositoryError, StoreError};
use crate::event::DomainEvent;
use crate::id::{EventId, ExpectedVersion, StreamId, Version};
use crate::metadata::Metadata;
use crate::store::{EventStore, Snapshot, SnapshotStore};
use crate::tombstone;
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use std::collections::HashMap;
use std::marker::PhantomData;
use std::sync::Arc;
use tracing::Instrument;
use uuid::Uuid;

mod cache;
use cache::AggregateCache;

/// How many times [`Repository::execute`] retries a command after a concurrent write, by default.
pub const DEFAULT_MAX_RETRIES: usize = 10;

/// How many event ids of an idempotent command one lookup asks for: a command of up to this many
/// events is found with one query.
const LOOKUP_CHUNK: u64 = 8;

/// Loads aggregates of type `A` from store `S` and executes commands against them.
///
/// ```
/// # use es_core::{Aggregate, Apply, Event, Handle, MemoryStore, Repository};
/// # use serde::{Deserialize, Serialize};
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// struct Added { n: i64 }
/// impl Event for Added { const NAME: &'static str = "counter.added"; }
///
/// #[derive(Default)]
/// struct Counter { total: i64 }
/// impl Aggregate for Counter {
///     const NAME: &'static str = "counter";
///     type Event = Added;
///     fn apply(&mut self, e: &Added) { self.total += e.n }
/// }
///
/// #[derive(Clone)]
/// struct Add(i64);
/// impl Handle<Add> for Counter {
///     type Error = std::convert::Infallible;
///     async fn handle(&self, cmd: Add) -> Result<Vec<Added>, Self::Error> { Ok(vec![Added { n: cmd.0 }]) }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let counters = Repository::<Counter, _>::new(MemoryStore::new());
/// counters.execute("c1", Add(2)).await.unwrap();
/// counters.execute("c1", Add(3)).await.unwrap();
/// assert_eq!(counters.load("c1").await.unwrap().total, 5);
/// # });
/// ```
pub struct Repository<A, S> {
    store: S,
    max_retries: usize,
    /// `A::SNAPSHOT_EVERY` unless overridden by `with_snapshot_every`.
    snapshot_every: u64,
    cache: Option<Arc<AggregateCache<A>>>,
    _aggregate: PhantomData<fn() -> A>,
}

impl<A, S: Clone> Clone for Repository<A, S> {
    /// A repository over a clone of the store, sharing this one's cache (if any).
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            max_retries: self.max_retries,
            snapshot_every: self.snapshot_every,
            cache: self.cache.clone(),
            _aggregate: PhantomData,
        }
    }
}

/// An aggregate state with the version of the last event folded into it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loaded<A> {
    /// The state.
    pub state: A,
    /// The stream version it reflects.
    pub version: Version,
}

/// The outcome of a successful command.
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    /// The aggregate's stream.
    pub stream_id: StreamId,
    /// The stream version after the command.
    pub version: Version,
    /// The events stored (empty when the command decided nothing).
    pub events: Vec<AppendedEvent>,
    /// How many attempts it took (1 without conflicts).
    pub attempts: usize,
    /// True when [`execute_idempotent`](Repository::execute_idempotent) found the command's events
    /// already stored (by an earlier call whose reply was lost, or by a concurrent call with the
    /// same command id): the command was not decided again and nothing was written; `events` are
    /// the stored events and `version` is the version of the last of them (the stream may have
    /// moved on since). Always false for [`execute`](Repository::execute).
    pub already_applied: bool,
}

/// Where a load stops.
#[derive(Clone, Copy)]
enum Until {
    Head,
    Version(Version),
    Time(DateTime<Utc>),
}

impl<A, S> Repository<A, S>
where
    A: Aggregate,
    S: EventStore + SnapshotStore,
{
    /// A repository over `store`.
    pub fn new(store: S) -> Self {
        Self {
            store,
            max_retries: DEFAULT_MAX_RETRIES,
            snapshot_every: A::SNAPSHOT_EVERY,
            cache: None,
            _aggregate: PhantomData,
        }
    }

    /// Overrides the aggregate type's `SNAPSHOT_EVERY` for this repository: take a snapshot every
    /// `every` events, or with 0 neither take nor load snapshots (every load replays the stream).
    /// A type without snapshot support (no `snapshot_every` in `#[aggregate(...)]`, so no
    /// `to_snapshot`) takes none whatever the interval.
    ///
    /// ```
    /// # use es_core::prelude::*;
    /// # use es_core::{MemoryStore, Repository};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
    /// # struct Added { n: i64 }
    /// #[derive(Default, Serialize, Deserialize, Aggregate)]
    /// #[aggregate(name = "counter", events = Added, snapshot_every = 100)]
    /// struct Counter { total: i64 }
    /// # #[event_handler] impl Counter { fn added(&mut self, e: &Added) { self.total += e.n } }
    /// # #[derive(Clone)] struct Add(i64);
    /// # #[command_handler] impl Counter {
    /// #     fn add(&self, c: Add) -> Result<Added, std::convert::Infallible> { Ok(Added { n: c.0 }) }
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = MemoryStore::new();
    /// let every_two = Repository::<Counter, _>::new(store.clone()).with_snapshot_every(2);
    /// every_two.execute("c1", Add(1)).await.unwrap();
    /// every_two.execute("c1", Add(2)).await.unwrap();
    /// let stream = StreamId::for_aggregate("counter", "c1").unwrap();
    /// assert!(store.load_snapshot(&stream).await.unwrap().is_some());
    ///
    /// let never = Repository::<Counter, _>::new(store.clone()).with_snapshot_every(0);
    /// never.execute("c2", Add(1)).await.unwrap();
    /// never.execute("c2", Add(2)).await.unwrap();
    /// let stream = StreamId::for_aggregate("counter", "c2").unwrap();
    /// assert!(store.load_snapshot(&stream).await.unwrap().is_none());
    /// assert_eq!(never.load("c1").await.unwrap().total, 3);
    /// # });
    /// ```
    pub fn with_snapshot_every(mut self, every: u64) -> Self {
        self.snapshot_every = every;
        self
    }

    /// Sets how many times a conflicting command is retried (0: never).
    pub fn with_max_retries(mut self, retries: usize) -> Self {
        self.max_retries = retries;
        self
    }

    /// Keeps the states of up to `capacity` aggregates in memory between commands, so that
    /// [`execute`](Self::execute) on a recently used aggregate skips the load (snapshot and replay)
    /// and costs one append. Clones of this repository share the cache.
    ///
    /// Commands are still decided on the current state, also with other writers (other processes,
    /// or repositories without this cache) appending to the same streams:
    /// - a command that produces events appends them at the cached version, so a cached state that
    ///   another writer overtook makes the append conflict, and the command is decided again on
    ///   the state reloaded from the store;
    /// - a command that is rejected or produces no events on a cached state is confirmed with one
    ///   cheap version query, and decided again on the reloaded state if the stream moved on.
    ///
    /// The least recently stored state is evicted when the cache is full. Loads
    /// ([`load`](Self::load) and the others) always read the store.
    ///
    /// ```
    /// # use es_core::{Aggregate, Event, Handle, MemoryStore, Repository};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Debug, Clone, Serialize, Deserialize)]
    /// # struct Added { n: i64 }
    /// # impl Event for Added { const NAME: &'static str = "counter.added"; }
    /// # #[derive(Default)]
    /// # struct Counter { total: i64 }
    /// # impl Aggregate for Counter {
    /// #     const NAME: &'static str = "counter";
    /// #     type Event = Added;
    /// #     fn apply(&mut self, e: &Added) { self.total += e.n }
    /// # }
    /// # #[derive(Clone)]
    /// # struct Add(i64);
    /// # impl Handle<Add> for Counter {
    /// #     type Error = std::convert::Infallible;
    /// #     async fn handle(&self, cmd: Add) -> Result<Vec<Added>, Self::Error> { Ok(vec![Added { n: cmd.0 }]) }
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = MemoryStore::new();
    /// let cached = Repository::<Counter, _>::new(store.clone()).with_cache(10_000);
    /// let other = Repository::<Counter, _>::new(store);
    /// cached.execute("c1", Add(2)).await.unwrap(); // loads, appends, keeps the state
    /// other.execute("c1", Add(3)).await.unwrap(); // another writer moves the stream on
    /// let done = cached.execute("c1", Add(4)).await.unwrap(); // conflicts once, reloads
    /// assert_eq!(done.attempts, 2);
    /// assert_eq!(other.load("c1").await.unwrap().total, 9);
    /// # });
    /// ```
    pub fn with_cache(mut self, capacity: usize) -> Self {
        self.cache = Some(Arc::new(AggregateCache::new(capacity)));
        self
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The stream of aggregate `id`.
    pub fn stream_id(id: &str) -> Result<StreamId, RepositoryError> {
        Ok(StreamId::for_aggregate(A::NAME, id)?)
    }

    /// The current state of aggregate `id` (the default state if it has no events).
    pub async fn load(&self, id: &str) -> Result<A, RepositoryError> {
        Ok(self.load_versioned(id).await?.state)
    }

    /// The current state with its version.
    pub async fn load_versioned(&self, id: &str) -> Result<Loaded<A>, RepositoryError> {
        let stream = Self::stream_id(id)?;
        self.load_stream(&stream, Until::Head).await
    }

    /// The state as of `version`: the fold of events `1..=version`.
    pub async fn load_at(&self, id: &str, version: Version) -> Result<A, RepositoryError> {
        let stream = Self::stream_id(id)?;
        Ok(self
            .load_stream(&stream, Until::Version(version))
            .await?
            .state)
    }

    /// The state as of a moment: the fold of the events recorded at or before `at`.
    pub async fn load_as_of(&self, id: &str, at: DateTime<Utc>) -> Result<A, RepositoryError> {
        let stream = Self::stream_id(id)?;
        Ok(self.load_stream(&stream, Until::Time(at)).await?.state)
    }

    /// Every event of aggregate `id`, decoded, with metadata. A deleted stream's history is hidden
    /// ([`StoreError::StreamDeleted`]); its events stay in the log, for `read_all`.
    pub async fn history(&self, id: &str) -> Result<Vec<EventEnvelope<A::Event>>, RepositoryError> {
        let stream = Self::stream_id(id)?;
        let mut events = self.store.read_stream(&stream, Version(1));
        let mut history = Vec::new();
        while let Some(record) = events.try_next().await? {
            if record.meta.event_type == tombstone::STREAM_DELETED {
                return Err(tombstone::deleted(&stream, record.meta.version).into());
            }
            history.push(record.into_decoded()?);
        }
        Ok(history)
    }

    /// Deletes aggregate `id` (see [`crate::tombstone`]): appends its stream's tombstone (guarded
    /// by `expected`), then drops its snapshot and cached state. Afterwards commands and loads of
    /// it fail with [`StoreError::StreamDeleted`]; its events stay in the log for read models.
    /// `metadata` records who asked, `reason` why.
    ///
    /// ```
    /// # use es_core::prelude::*;
    /// # use es_core::{MemoryStore, Repository, RepositoryError, StoreError};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
    /// # struct Added { n: i64 }
    /// # #[derive(Debug, Default, Aggregate)]
    /// # #[aggregate(name = "counter", events = Added)]
    /// # struct Counter { total: i64 }
    /// # #[event_handler] impl Counter { fn added(&mut self, e: &Added) { self.total += e.n } }
    /// # #[derive(Clone)] struct Add(i64);
    /// # #[command_handler] impl Counter {
    /// #     fn add(&self, c: Add) -> Result<Added, std::convert::Infallible> { Ok(Added { n: c.0 }) }
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let counters = Repository::<Counter, _>::new(MemoryStore::new());
    /// counters.execute("c1", Add(1)).await.unwrap();
    /// let by = Metadata::new().with_actor("support@example.com");
    /// counters.delete("c1", ExpectedVersion::Exact(Version(1)), by, "duplicate").await.unwrap();
    ///
    /// let error = counters.load("c1").await.unwrap_err();
    /// assert!(matches!(error, RepositoryError::Store(StoreError::StreamDeleted { .. })));
    /// assert_eq!(counters.load_at("c1", Version(1)).await.unwrap().total, 1);
    /// # });
    /// ```
    pub async fn delete(
        &self,
        id: &str,
        expected: ExpectedVersion,
        metadata: Metadata,
        reason: &str,
    ) -> Result<AppendResult, RepositoryError> {
        let stream = Self::stream_id(id)?;
        let result = self
            .store
            .delete_stream(&stream, expected, metadata, reason)
            .await?;
        if let Some(cache) = &self.cache {
            cache.take(&stream);
        }
        self.store.delete_snapshot(&stream).await?;
        Ok(result)
    }

    /// Executes a command: load, handle, append at the loaded version; on a concurrent write,
    /// reload and retry (see [`with_max_retries`](Self::with_max_retries)). With
    /// [`with_cache`](Self::with_cache), a recently used aggregate is not loaded but taken from
    /// memory, and still decided on its current state.
    ///
    /// # Retrying after an error
    ///
    /// When this returns an error, nothing of the command was stored, except in one case: a store
    /// error from the append itself ([`StoreError::Unavailable`] or [`StoreError::Database`]
    /// wrapped in [`ExecuteError::Repository`], such as a connection lost while the append
    /// committed) leaves it unknown whether the events were stored. Retrying `execute` then may
    /// store the command twice. Use [`execute_idempotent`](Self::execute_idempotent) for
    /// commands that must not be applied twice:
    ///
    /// - every error of `execute_idempotent` is safe to retry with the **same command id** (and
    ///   the same aggregate id and command): if the events of the failed call were stored, the
    ///   retry returns them with [`Executed::already_applied`] set, without deciding the command
    ///   again; if not, the retry decides the command on the current state and appends it, as the
    ///   first call would have;
    /// - transient errors ([`StoreError::is_transient`], the store unreachable) are the ones worth
    ///   retrying with a back-off; [`ExecuteError::Rejected`], [`ExecuteError::Encode`] and
    ///   [`StoreError::InvalidInput`] stored nothing and will usually fail the same way again;
    ///   [`ExecuteError::Conflict`] stored nothing and may succeed when retried later.
    pub async fn execute<C>(&self, id: &str, command: C) -> Result<Executed, ExecuteError<A::Error>>
    where
        A: Handle<C>,
        C: Clone + Send,
    {
        self.execute_with(id, command, Metadata::default()).await
    }

    /// Like [`execute`](Self::execute), storing `metadata` (actor, correlation, causation, ...)
    /// with every event.
    pub async fn execute_with<C>(
        &self,
        id: &str,
        command: C,
        metadata: Metadata,
    ) -> Result<Executed, ExecuteError<A::Error>>
    where
        A: Handle<C>,
        C: Clone + Send,
    {
        let span = tracing::debug_span!(
            "es.execute",
            aggregate = A::NAME,
            id,
            command = std::any::type_name::<C>()
        );
        self.execute_inner(id, None, command, metadata)
            .instrument(span)
            .await
    }

    /// Executes a command at most once per `command_id`: like [`execute`](Self::execute), and a
    /// retry with the same command id after an error returns the stored result instead of
    /// storing the command again (see "Retrying after an error" on [`execute`](Self::execute)).
    ///
    /// - The ids of the events are derived from the command id, the stream and the index of the
    ///   event in the command's batch ([`EventId::for_command`]), so a retry appends the same ids.
    /// - Before deciding, and again before each decision after a concurrent write, the repository
    ///   looks up whether the command's events are stored ([`EventStore::find_events`]: one
    ///   indexed query on the bundled stores). If so, it returns them in an [`Executed`] with
    ///   [`already_applied`](Executed::already_applied) set and `attempts` counting the
    ///   decisions not made plus the one that found it; the command is not decided again on the
    ///   newer state (a withdrawal stored once is not rejected when retried on the lower balance).
    ///   A concurrent call with the same command id that stores first is reported the same way.
    /// - The command id is stored as the events' `causation_id` when `metadata` has none.
    /// - A command that decided no events (or was rejected) stores nothing, so a retry decides it
    ///   again, on the then current state.
    /// - The key is the pair (command id, aggregate): the same command id sent to another
    ///   aggregate is another command. Reusing a command id for a different command on the same
    ///   aggregate returns the first command's events.
    ///
    /// The lookup costs one query per decision (with [`with_cache`](Self::with_cache), a command
    /// costs two round trips instead of one). A cached state older than the stored events is
    /// dropped from the cache when they are found.
    ///
    /// ```
    /// # use es_core::{Aggregate, Event, Handle, MemoryStore, Repository};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Debug, Clone, Serialize, Deserialize)]
    /// # struct Added { n: i64 }
    /// # impl Event for Added { const NAME: &'static str = "counter.added"; }
    /// # #[derive(Default)]
    /// # struct Counter { total: i64 }
    /// # impl Aggregate for Counter {
    /// #     const NAME: &'static str = "counter";
    /// #     type Event = Added;
    /// #     fn apply(&mut self, e: &Added) { self.total += e.n }
    /// # }
    /// # #[derive(Clone)]
    /// # struct Add(i64);
    /// # impl Handle<Add> for Counter {
    /// #     type Error = std::convert::Infallible;
    /// #     async fn handle(&self, cmd: Add) -> Result<Vec<Added>, Self::Error> { Ok(vec![Added { n: cmd.0 }]) }
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let counters = Repository::<Counter, _>::new(MemoryStore::new());
    /// let command_id = uuid::Uuid::now_v7(); // sent by the client, kept across its retries
    /// let first = counters.execute_idempotent("c1", command_id, Add(2)).await.unwrap();
    /// assert!(!first.already_applied);
    /// let again = counters.execute_idempotent("c1", command_id, Add(2)).await.unwrap();
    /// assert!(again.already_applied);
    /// assert_eq!(again.events, first.events);
    /// assert_eq!(counters.load("c1").await.unwrap().total, 2);
    /// let history = counters.history("c1").await.unwrap();
    /// assert_eq!(history[0].meta.metadata.causation_id, Some(command_id));
    /// # });
    /// ```
    pub async fn execute_idempotent<C>(
        &self,
        id: &str,
        command_id: Uuid,
        command: C,
    ) -> Result<Executed, ExecuteError<A::Error>>
    where
        A: Handle<C>,
        C: Clone + Send,
    {
        self.execute_idempotent_with(id, command_id, command, Metadata::default())
            .await
    }

    /// Like [`execute_idempotent`](Self::execute_idempotent), storing `metadata` with every event
    /// (its `causation_id` defaults to the command id).
    pub async fn execute_idempotent_with<C>(
        &self,
        id: &str,
        command_id: Uuid,
        command: C,
        metadata: Metadata,
    ) -> Result<Executed, ExecuteError<A::Error>>
    where
        A: Handle<C>,
        C: Clone + Send,
    {
        let span = tracing::debug_span!(
            "es.execute",
            aggregate = A::NAME,
            id,
            command = std::any::type_name::<C>(),
            %command_id
        );
        let metadata = match metadata.causation_id {
            Some(_) => metadata,
            None => metadata.with_causation_id(command_id),
        };
        self.execute_inner(id, Some(command_id), command, metadata)
            .instrument(span)
            .await
    }

    /// Executes one command on each of several aggregates and stores all their events in one
    /// transaction ([`EventStore::append_streams`]), each stream guarded by the version its
    /// aggregate was loaded at: all or nothing. If any aggregate rejects its command, nothing is
    /// stored; if another writer changed any of the streams meanwhile, every aggregate is loaded
    /// again and decides again (at most `max_retries` times more), like [`execute`](Self::execute).
    /// Returns one [`Executed`] per aggregate, in order. A transfer between two accounts:
    ///
    /// ```
    /// # use es_core::{Aggregate, Event, Handle, MemoryStore, Repository};
    /// # use serde::{Deserialize, Serialize};
    /// # #[derive(Debug, Clone, Serialize, Deserialize)]
    /// # struct Moved { amount: i64 }
    /// # impl Event for Moved { const NAME: &'static str = "account.moved"; }
    /// # #[derive(Default)]
    /// # struct Account { balance: i64 }
    /// # impl Aggregate for Account {
    /// #     const NAME: &'static str = "account";
    /// #     type Event = Moved;
    /// #     fn apply(&mut self, e: &Moved) { self.balance += e.amount }
    /// # }
    /// #[derive(Clone)]
    /// struct Move(i64); // negative: out of the account
    /// # impl Handle<Move> for Account {
    /// #     type Error = String;
    /// #     async fn handle(&self, cmd: Move) -> Result<Vec<Moved>, String> {
    /// #         if self.balance + cmd.0 < 0 { return Err("insufficient funds".into()) }
    /// #         Ok(vec![Moved { amount: cmd.0 }])
    /// #     }
    /// # }
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let accounts = Repository::<Account, _>::new(MemoryStore::new());
    /// accounts.execute("alice", Move(50)).await.unwrap();
    /// accounts.execute_together([("alice", Move(-30)), ("bob", Move(30))]).await.unwrap();
    /// let refused = accounts.execute_together([("alice", Move(-30)), ("bob", Move(30))]).await;
    /// assert!(refused.is_err()); // alice has 20: nothing of either side is stored
    /// assert_eq!(accounts.load("alice").await.unwrap().balance, 20);
    /// assert_eq!(accounts.load("bob").await.unwrap().balance, 30);
    /// # });
    /// ```
    pub async fn execute_together<'i, C, I>(
        &self,
        commands: I,
    ) -> Result<Vec<Executed>, ExecuteError<A::Error>>
    where
        A: Handle<C>,
        C: Clone + Send,
        I: IntoIterator<Item = (&'i str, C)>,
    {
        self.execute_together_with(commands, Metadata::default())
            .await
    }

    /// Like [`execute_together`](Self::execute_together), storing `metadata` with every event.
    pub async fn execute_together_with<'i, C, I>(
        &self,
        commands: I,
        metadata: Metadata,
    ) -> Result<Vec<Executed>, ExecuteError<A::Error>>
    where
        A: Handle<C>,
        C: Clone + Send,
        I: IntoIterator<Item = (&'i str, C)>,
    {
        let commands: Vec<(StreamId, C)> = commands
            .into_iter()
            .map(|(id, command)| Ok((Self::stream_id(id)?, command)))
            .collect::<Result<_, RepositoryError>>()?;
        let span = tracing::debug_span!(
            "es.execute_together",
            aggregate = A::NAME,
            aggregates = commands.len()
        );
        async {
            let mut attempt = 0;
            loop {
                attempt += 1;
                let mut decided = Vec::with_capacity(commands.len());
                for (stream, command) in &commands {
                    let Loaded { mut state, version } =
                        self.load_stream(stream, Until::Head).await?;
                    let events = state
                        .handle(command.clone())
                        .await
                        .map_err(ExecuteError::Rejected)?;
                    let batch = events
                        .iter()
                        .map(|event| {
                            NewEvent::from_event(event, metadata.clone()).map_err(|source| {
                                ExecuteError::Encode {
                                    event_type: event.event_type(),
                                    source,
                                }
                            })
                        })
                        .collect::<Result<Vec<_>, ExecuteError<A::Error>>>()?;
                    for event in &events {
                        state.apply(event);
                    }
                    decided.push((stream.clone(), version, batch, state));
                }
                let appends = decided
                    .iter()
                    .map(|(stream, version, batch, _)| {
                        StreamAppend::new(
                            stream.clone(),
                            ExpectedVersion::at(*version),
                            batch.clone(),
                        )
                    })
                    .collect();
                match self.store.append_streams(appends, None).await {
                    Ok(results) => {
                        let mut executed = Vec::with_capacity(results.len());
                        for ((stream, version, _, state), result) in
                            decided.into_iter().zip(results)
                        {
                            let new_version = result.last_version().unwrap_or(version);
                            self.maybe_snapshot(&stream, &state, version, new_version)
                                .await;
                            if let Some(cache) = &self.cache {
                                // Its cached state, if any, is older now.
                                let _ = cache.take(&stream);
                            }
                            executed.push(Executed {
                                stream_id: stream,
                                version: new_version,
                                events: result.events,
                                attempts: attempt,
                                already_applied: false,
                            });
                        }
                        return Ok(executed);
                    }
                    Err(error @ StoreError::Conflict { .. }) => {
                        if attempt > self.max_retries {
                            return Err(ExecuteError::Conflict {
                                attempts: attempt,
                                source: error,
                            });
                        }
                        tracing::debug!(attempt, %error, "concurrent write, retrying");
                    }
                    Err(error) => return Err(error.into()),
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn execute_inner<C>(
        &self,
        id: &str,
        command_id: Option<Uuid>,
        command: C,
        metadata: Metadata,
    ) -> Result<Executed, ExecuteError<A::Error>>
    where
        A: Handle<C>,
        C: Clone + Send,
    {
        let stream = Self::stream_id(id).map_err(ExecuteError::Repository)?;
        let mut attempt = 0;
        // The cache is used for the first decision only: after a conflict or a stale cached state
        // the command is decided on the state loaded from the store.
        let mut try_cache = true;
        // Whether the lookup of an idempotent command is due before the next decision.
        let mut look_up = true;
        loop {
            attempt += 1;
            if let Some(command_id) = command_id.filter(|_| look_up)
                && let Some(done) = self.applied_before(&stream, command_id, attempt).await?
            {
                return Ok(done);
            }
            look_up = true;
            let cached = match &self.cache {
                Some(cache) if try_cache => cache.take(&stream),
                _ => None,
            };
            try_cache = false;
            let from_cache = cached.is_some();
            let Loaded { mut state, version } = match cached {
                Some(loaded) => loaded,
                None => self.load_stream(&stream, Until::Head).await?,
            };
            let events = match state.handle(command.clone()).await {
                Ok(events) if !events.is_empty() => events,
                decided => {
                    // Nothing to append, so no guard tells whether the state was current.
                    if from_cache && self.store.stream_version(&stream).await? != version {
                        tracing::debug!(%stream, cached = %version, "cached state was stale, deciding again");
                        attempt -= 1;
                        // A decision of no events stores nothing: nothing new to look up.
                        look_up = false;
                        continue;
                    }
                    self.remember(&stream, Loaded { state, version });
                    return match decided {
                        Ok(_) => Ok(Executed {
                            stream_id: stream,
                            version,
                            events: Vec::new(),
                            attempts: attempt,
                            already_applied: false,
                        }),
                        Err(rejection) => Err(ExecuteError::Rejected(rejection)),
                    };
                }
            };
            let batch = events
                .iter()
                .enumerate()
                .map(|(index, event)| {
                    let mut new =
                        NewEvent::from_event(event, metadata.clone()).map_err(|source| {
                            ExecuteError::Encode {
                                event_type: event.event_type(),
                                source,
                            }
                        })?;
                    if let Some(command_id) = command_id {
                        new.event_id = EventId::for_command(command_id, &stream, index as u64);
                    }
                    Ok(new)
                })
                .collect::<Result<Vec<_>, ExecuteError<A::Error>>>()?;
            let appended = self
                .store
                .append(&stream, ExpectedVersion::at(version), batch)
                .await;
            if let Some(command_id) = command_id {
                // Between the lookup and this append a concurrent call with the same command id
                // stored it: the store reports the ids as stored (all of them, or some when this
                // decision had more events). Report that call's events, not this decision's.
                let stored_before = match &appended {
                    Ok(result) => result.already_appended,
                    Err(error) => matches!(error, StoreError::DuplicateEventId { .. }),
                };
                if stored_before
                    && let Some(done) = self.applied_before(&stream, command_id, attempt).await?
                {
                    return Ok(done);
                }
            }
            match appended {
                Ok(result) => {
                    let new_version = result.last_version().unwrap_or(version);
                    for event in &events {
                        state.apply(event);
                    }
                    self.maybe_snapshot(&stream, &state, version, new_version)
                        .await;
                    if !result.already_appended {
                        self.remember(
                            &stream,
                            Loaded {
                                state,
                                version: new_version,
                            },
                        );
                    }
                    return Ok(Executed {
                        stream_id: stream,
                        version: new_version,
                        events: result.events,
                        attempts: attempt,
                        already_applied: false,
                    });
                }
                Err(error @ StoreError::Conflict { .. }) => {
                    if attempt > self.max_retries {
                        return Err(ExecuteError::Conflict {
                            attempts: attempt,
                            source: error,
                        });
                    }
                    tracing::debug!(attempt, %error, "concurrent write, retrying");
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// The result of idempotent command `command_id` on `stream` if its events are stored, found
    /// with [`EventStore::find_events`]. An append stores a batch whole or not at all, so the
    /// command's events are the stored prefix of its derived ids; they are looked up
    /// [`LOOKUP_CHUNK`] ids at a time (one query for a command of up to that many events).
    async fn applied_before(
        &self,
        stream: &StreamId,
        command_id: Uuid,
        attempt: usize,
    ) -> Result<Option<Executed>, StoreError> {
        let mut events = Vec::new();
        loop {
            let from = events.len() as u64;
            let ids: HashMap<EventId, u64> = (from..from + LOOKUP_CHUNK)
                .map(|index| (EventId::for_command(command_id, stream, index), index))
                .collect();
            let wanted: Vec<EventId> = ids.keys().copied().collect();
            let mut found: Vec<(u64, _)> = self
                .store
                .find_events(&wanted)
                .await?
                .into_iter()
                .filter(|(s, _)| s == stream)
                .filter_map(|(_, event)| ids.get(&event.event_id).map(|&i| (i, event)))
                .collect();
            found.sort_unstable_by_key(|(index, _)| *index);
            let before = events.len();
            for (index, event) in found {
                if index != events.len() as u64 {
                    break;
                }
                events.push(event);
            }
            if events.len() - before < LOOKUP_CHUNK as usize {
                break;
            }
        }
        let Some(last) = events.last() else {
            return Ok(None);
        };
        let version = last.version;
        tracing::debug!(%stream, %command_id, %version, "command already applied");
        if let Some(cache) = &self.cache {
            cache.forget_older_than(stream, version);
        }
        Ok(Some(Executed {
            stream_id: stream.clone(),
            version,
            events,
            attempts: attempt,
            already_applied: true,
        }))
    }

    /// Keeps `loaded` for the next command on `stream`, if this repository caches.
    fn remember(&self, stream: &StreamId, loaded: Loaded<A>) {
        if let Some(cache) = &self.cache {
            cache.put(stream, loaded);
        }
    }

    /// Saves a snapshot when the append crossed a multiple of `SNAPSHOT_EVERY`. Failures are
    /// logged, not returned: the events are stored, and a snapshot is only a cache.
    async fn maybe_snapshot(&self, stream: &StreamId, state: &A, before: Version, after: Version) {
        let every = self.snapshot_every;
        if every == 0 || before.0 / every == after.0 / every {
            return;
        }
        let Some(encoded) = state.to_snapshot() else {
            return;
        };
        let result = match encoded {
            Ok(json) => {
                self.store
                    .save_snapshot(&Snapshot {
                        stream_id: stream.clone(),
                        version: after,
                        schema_version: A::SNAPSHOT_VERSION,
                        state: json,
                    })
                    .await
            }
            Err(error) => Err(StoreError::InvalidInput(crate::InputError::Other(format!(
                "cannot serialize the state: {error}"
            )))),
        };
        if let Err(error) = result {
            tracing::warn!(%stream, version = %after, %error, "snapshot not saved");
        }
    }

    async fn load_stream(
        &self,
        stream: &StreamId,
        until: Until,
    ) -> Result<Loaded<A>, RepositoryError> {
        let span = tracing::debug_span!("es.load", aggregate = A::NAME, %stream);
        async move {
            let mut loaded = match until {
                // A snapshot has no timestamp, so loads as of a time replay from the start.
                Until::Time(_) => None,
                Until::Head => self.load_snapshot(stream, None).await?,
                Until::Version(v) => self.load_snapshot(stream, Some(v)).await?,
            }
            .unwrap_or_else(|| Loaded {
                state: A::default(),
                version: Version::INITIAL,
            });
            let mut events = self.store.replay_stream(stream, loaded.version.next());
            while let Some(record) = events.try_next().await? {
                let past = match until {
                    Until::Head => false,
                    Until::Version(v) => record.version > v,
                    Until::Time(t) => record.recorded_at > t,
                };
                if past {
                    break;
                }
                if record.event_type == tombstone::STREAM_DELETED {
                    return Err(tombstone::deleted(stream, record.version).into());
                }
                let version = record.version;
                let event = record.into_event::<A::Event>(stream)?;
                loaded.state.apply(&event);
                loaded.version = version;
            }
            Ok(loaded)
        }
        .instrument(span)
        .await
    }

    async fn load_snapshot(
        &self,
        stream: &StreamId,
        at_most: Option<Version>,
    ) -> Result<Option<Loaded<A>>, RepositoryError> {
        if self.snapshot_every == 0 {
            return Ok(None);
        }
        let Some(snapshot) = self.store.load_snapshot(stream).await? else {
            return Ok(None);
        };
        if at_most.is_some_and(|v| snapshot.version > v) {
            return Ok(None);
        }
        if snapshot.schema_version != A::SNAPSHOT_VERSION {
            tracing::debug!(%stream, stored = snapshot.schema_version, current = A::SNAPSHOT_VERSION, "ignoring snapshot of another schema version");
            return Ok(None);
        }
        match A::from_snapshot(snapshot.state) {
            Some(Ok(state)) => Ok(Some(Loaded {
                state,
                version: snapshot.version,
            })),
            Some(Err(error)) => {
                tracing::warn!(%stream, %error, "ignoring a snapshot that does not decode; replaying");
                Ok(None)
            }
            None => Ok(None),
        }
    }
}
