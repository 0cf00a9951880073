//! [`ProjectionRunner`]: catch up from a checkpoint in batches, then follow live appends.

use super::Projection;
use super::lease::{Lease, LeaseProvider};
use super::policy::{ErrorPolicy, OnFailure};
use super::status::{ProjectionStatus, RunnerState, StatusCell};
use super::store::{ParkedEvent, ProjectionStore};
use super::wakeup::Wakeup;
use crate::envelope::RecordedEvent;
use crate::error::{CorruptEvent, StoreError};
use crate::handler::HandlerError;
use crate::id::{Checkpoint, Position, StreamId, Version};
use crate::store::{EventStore, ReadAll};
use futures::future::{BoxFuture, FutureExt};
use futures::{StreamExt, TryStreamExt};
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};
use tracing::Instrument;

/// Why a projection runner stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProjectionError {
    /// The event or projection store failed, also after the retries of the error policy.
    #[error("projection `{projection}`: store error: {source}")]
    Store {
        /// The projection.
        projection: String,
        /// The store's error.
        #[source]
        source: StoreError,
    },
    /// The handler failed on an event after every retry, and the policy is [`OnFailure::Stop`].
    /// The checkpoint is before the batch of this event.
    #[error(
        "projection `{projection}` failed on event `{event_type}` (stream `{stream}` version {version}, position {position}) after {attempts} attempts: {source}"
    )]
    Handler {
        /// The projection.
        projection: String,
        /// The event's stream.
        stream: StreamId,
        /// The event's version.
        version: Version,
        /// The event's global position.
        position: Position,
        /// The event's stored type name.
        event_type: String,
        /// How many times the batch was tried.
        attempts: u32,
        /// The handler's last error.
        #[source]
        source: HandlerError,
    },
    /// The projection's `flush` hook failed after every retry (policy [`OnFailure::Stop`]).
    #[error(
        "projection `{projection}`: flushing a batch failed after {attempts} attempts: {source}"
    )]
    Flush {
        /// The projection.
        projection: String,
        /// How many times the batch was tried.
        attempts: u32,
        /// The hook's last error.
        #[source]
        source: HandlerError,
    },
    /// The projection's `on_reset` hook failed; nothing was reset.
    #[error("projection `{projection}`: resetting failed: {source}")]
    Reset {
        /// The projection.
        projection: String,
        /// The hook's error.
        #[source]
        source: HandlerError,
    },
    /// The runner's task panicked or was cancelled.
    #[error("projection `{projection}`: the runner task ended abnormally: {message}")]
    Aborted {
        /// The projection.
        projection: String,
        /// What happened.
        message: String,
    },
}

/// The outcome of [`ProjectionRunner::retry_parked`].
#[derive(Debug, Default)]
pub struct RetryReport {
    /// Dead letters handled successfully (and removed).
    pub succeeded: usize,
    /// Dead letters that failed again (kept): id and error.
    pub failed: Vec<(i64, String)>,
}

/// Timing knobs of a runner.
#[derive(Clone, Debug)]
struct Settings {
    batch_size: usize,
    poll_min: Duration,
    poll_max: Duration,
    lease_retry: Duration,
    lease_check: Duration,
    policy: ErrorPolicy,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            batch_size: 500,
            poll_min: Duration::from_millis(10),
            poll_max: Duration::from_secs(1),
            lease_retry: Duration::from_secs(1),
            lease_check: Duration::from_secs(1),
            policy: ErrorPolicy::default(),
        }
    }
}

/// Runs a [`Projection`]: reads the global log from its stored checkpoint in batches (only the
/// event types the handler declares), hands each batch to the handler inside one unit of work of
/// the [`ProjectionStore`] `P`, saves the checkpoint in that same unit of work and commits; when
/// caught up, waits for new events (woken by the store's append signal, polling as a fallback).
///
/// - Exactly-once for read models in the projection store's database: with `P = SqliteStore` (or
///   `PgStore`), the handler gets `&mut` the transaction in which the checkpoint is committed.
/// - At-least-once for anything else: wrap the store in [`AtLeastOnce`](crate::AtLeastOnce)
///   (`Tx = ()`); the checkpoint is saved after each batch.
/// - Failing batches are retried with backoff, then the runner stops or parks the event
///   ([`ErrorPolicy`]). Each batch also checks, in its transaction, that the stored checkpoint is
///   where this runner left it, so two runners of one projection never apply a batch twice.
///
/// ```
/// use es_core::{AtLeastOnce, Checkpoint, EventHandler, EventStore, ExpectedVersion, HandlerError,
///     MemoryStore, NewEvent, Projection, ProjectionRunner, RecordedEvent, StreamId};
/// use std::sync::{Arc, atomic::{AtomicI64, Ordering}};
///
/// /// Sums deposits into a counter shared with the application.
/// struct Total(Arc<AtomicI64>);
///
/// #[async_trait::async_trait]
/// impl EventHandler for Total {
///     fn event_types(&self) -> Vec<&'static str> { vec!["account.deposited"] }
///     async fn handle(&mut self, e: &RecordedEvent, _: &mut ()) -> Result<(), HandlerError> {
///         self.0.fetch_add(e.payload["amount"].as_i64().unwrap_or(0), Ordering::SeqCst);
///         Ok(())
///     }
/// }
/// impl Projection for Total {
///     fn name(&self) -> &str { "total" }
/// }
///
/// # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let total = Arc::new(AtomicI64::new(0));
/// let handle = ProjectionRunner::new(store.clone(), store.clone(), Total(total.clone())).spawn();
///
/// let stream = StreamId::new("account-1").unwrap();
/// let deposit = NewEvent::raw("account.deposited", 1, serde_json::json!({ "amount": 5 }));
/// store.append(&stream, ExpectedVersion::Any, vec![deposit]).await.unwrap();
///
/// handle.wait_for(|s| s.checkpoint.position.0 >= 1).await;
/// assert_eq!(total.load(Ordering::SeqCst), 5);
/// assert_eq!(handle.status().lag, 0);
/// handle.stop().await.unwrap();
/// # });
/// ```
pub struct ProjectionRunner<S, P, H> {
    events: S,
    store: P,
    handler: H,
    name: String,
    settings: Settings,
    leases: Option<Arc<dyn LeaseProvider>>,
    wakeup: Option<Box<dyn Wakeup>>,
    status: StatusCell,
}

impl<S, P, H> std::fmt::Debug for ProjectionRunner<S, P, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProjectionRunner")
            .field("name", &self.name)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Why following the log ended without an error.
enum Ended {
    Shutdown,
    LeaseLost,
}

/// How one attempt at a batch failed.
enum BatchError {
    /// The stored checkpoint is not where this runner left it (another runner, or a reset).
    Moved(Checkpoint),
    Store(StoreError),
    Handler {
        index: Option<usize>,
        error: HandlerError,
    },
}

impl From<StoreError> for BatchError {
    fn from(value: StoreError) -> Self {
        BatchError::Store(value)
    }
}

/// A shutdown future that can be polled from several places and remembers that it fired.
struct Shutdown<'a> {
    future: BoxFuture<'a, ()>,
    fired: bool,
}

impl<'a> Shutdown<'a> {
    fn new(future: impl Future<Output = ()> + Send + 'a) -> Self {
        Self {
            future: future.boxed(),
            fired: false,
        }
    }

    fn fired(&mut self) -> bool {
        if !self.fired && (&mut self.future).now_or_never().is_some() {
            self.fired = true;
        }
        self.fired
    }

    /// Waits for shutdown or `duration`, whichever comes first; true on shutdown.
    async fn sleep(&mut self, duration: Duration) -> bool {
        if self.fired {
            return true;
        }
        tokio::select! {
            () = &mut self.future => { self.fired = true; true }
            () = tokio::time::sleep(duration) => false,
        }
    }
}

impl<S, P, H> ProjectionRunner<S, P, H>
where
    S: EventStore,
    P: ProjectionStore,
    H: Projection<P::Tx>,
{
    /// A runner of `handler` over the log of `events`, keeping its checkpoint (and the handler's
    /// transaction) in `store`. Defaults: batches of 500, [`ErrorPolicy::default`], no lease.
    pub fn new(events: S, store: P, handler: H) -> Self {
        let name = handler.name().to_owned();
        Self {
            events,
            store,
            handler,
            status: StatusCell::new(&name),
            name,
            settings: Settings::default(),
            leases: None,
            wakeup: None,
        }
    }

    /// Reads and commits at most `size` events per batch (at least 1).
    pub fn batch_size(mut self, size: usize) -> Self {
        self.settings.batch_size = size.max(1);
        self
    }

    /// The error policy: retries, backoff, then stop or park.
    pub fn error_policy(mut self, policy: ErrorPolicy) -> Self {
        self.settings.policy = policy;
        self
    }

    /// How often to look for new events when caught up: polling starts at `min` and backs off to
    /// `max` while nothing arrives. With an append signal (in-process appends; PostgreSQL NOTIFY)
    /// the runner wakes at once and polls only every `max` as a fallback. Defaults: 10 ms, 1 s.
    pub fn poll_interval(mut self, min: Duration, max: Duration) -> Self {
        self.settings.poll_min = min;
        self.settings.poll_max = max.max(min);
        self
    }

    /// Also wakes up on hints from `wakeup` (for example `PgStore::listen`, PostgreSQL
    /// `LISTEN`/`NOTIFY`) when caught up, so appends from other processes are seen at once.
    pub fn wake_up(mut self, wakeup: impl Wakeup + 'static) -> Self {
        self.wakeup = Some(Box::new(wakeup));
        self
    }

    /// Runs only while holding the projection's lease from `provider`; a runner without the
    /// lease waits in standby, trying again every `retry`, and takes over when the holder dies.
    pub fn lease(mut self, provider: impl LeaseProvider + 'static, retry: Duration) -> Self {
        self.leases = Some(Arc::new(provider));
        self.settings.lease_retry = retry;
        self.settings.lease_check = retry;
        self
    }

    /// The projection's name (its checkpoint key).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// The handler, mutably.
    pub fn handler_mut(&mut self) -> &mut H {
        &mut self.handler
    }

    /// Consumes the runner, returning the handler.
    pub fn into_handler(self) -> H {
        self.handler
    }

    /// The runner's progress.
    pub fn status(&self) -> ProjectionStatus {
        self.status.get()
    }

    fn store_error(&self, source: StoreError) -> ProjectionError {
        ProjectionError::Store {
            projection: self.name.clone(),
            source,
        }
    }

    /// Resets the projection for a rebuild: calls the handler's `on_reset`, forgets the checkpoint
    /// and the dead letters, all in one unit of work. The next run replays the log from the start.
    /// Runners of the projection still running elsewhere see their checkpoint move back at their
    /// next batch and replay from the start as well (their in-memory state is theirs to reset).
    pub async fn rebuild(&mut self) -> Result<(), ProjectionError> {
        let mut tx = self.store.begin().await.map_err(|e| self.store_error(e))?;
        if let Err(source) = self.handler.on_reset(&mut tx).await {
            return Err(ProjectionError::Reset {
                projection: self.name.clone(),
                source,
            });
        }
        let reset = async {
            self.store.delete_checkpoint_in(&mut tx, &self.name).await?;
            self.store.clear_parked_in(&mut tx, &self.name).await?;
            self.store.commit(tx).await
        };
        reset.await.map_err(|e| self.store_error(e))?;
        self.status.set_checkpoint(Checkpoint::START);
        tracing::info!(projection = %self.name, "projection reset for a rebuild");
        Ok(())
    }

    /// The projection's dead letters.
    pub async fn parked(&self) -> Result<Vec<ParkedEvent>, ProjectionError> {
        self.store
            .parked(&self.name)
            .await
            .map_err(|e| self.store_error(e))
    }

    /// Hands every dead letter of the projection to the handler again, one unit of work each;
    /// those that succeed are removed, the others kept. (They are applied after events that came
    /// later in the log: the order of a parked event is lost.)
    pub async fn retry_parked(&mut self) -> Result<RetryReport, ProjectionError> {
        let mut report = RetryReport::default();
        for parked in self.parked().await? {
            let event = match self.read_parked(&parked).await {
                Ok(event) => event,
                // Still not decodable (or the store failed): kept, with the error.
                Err(error) => {
                    report.failed.push((parked.id, error.to_string()));
                    continue;
                }
            };
            let Some(event) = event else {
                report.failed.push((
                    parked.id,
                    format!("event {} is no longer in the log", parked.event_id),
                ));
                continue;
            };
            let mut tx = self.store.begin().await.map_err(|e| self.store_error(e))?;
            let handled = async {
                self.handler.handle(&event, &mut tx).await?;
                self.handler.flush(&mut tx).await
            }
            .await;
            match handled {
                Ok(()) => {
                    let done = async {
                        self.store.unpark_in(&mut tx, parked.id).await?;
                        self.store.commit(tx).await
                    };
                    done.await.map_err(|e| self.store_error(e))?;
                    report.succeeded += 1;
                }
                Err(error) => {
                    drop(tx);
                    self.handler.on_abort();
                    report.failed.push((parked.id, error.to_string()));
                }
            }
        }
        tracing::info!(projection = %self.name, succeeded = report.succeeded,
            failed = report.failed.len(), "retried parked events");
        Ok(report)
    }

    async fn read_parked(&self, parked: &ParkedEvent) -> Result<Option<RecordedEvent>, StoreError> {
        let before = Checkpoint::new(
            parked.checkpoint.commit,
            Position(parked.checkpoint.position.0.saturating_sub(1)),
        );
        let mut found: Vec<RecordedEvent> = self
            .events
            .read_all(ReadAll::new().after(before).limit(1))
            .try_collect()
            .await?;
        Ok(found.pop().filter(|e| e.meta.event_id == parked.event_id))
    }

    /// Runs until the projection fails (see [`ProjectionError`]); never returns `Ok`.
    pub async fn run(&mut self) -> Result<(), ProjectionError> {
        self.run_until(std::future::pending()).await
    }

    /// Runs until `shutdown` completes (then returns `Ok` after the current batch) or the
    /// projection fails.
    pub async fn run_until(
        &mut self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), ProjectionError> {
        let mut shutdown = Shutdown::new(shutdown);
        let result = self.run_inner(&mut shutdown).await;
        self.status.set_state(RunnerState::Stopped);
        match &result {
            Ok(()) => tracing::info!(projection = %self.name, "projection stopped"),
            Err(error) => tracing::error!(projection = %self.name, %error, "projection failed"),
        }
        result
    }

    async fn run_inner(&mut self, shutdown: &mut Shutdown<'_>) -> Result<(), ProjectionError> {
        loop {
            let mut lease = match self.leases.clone() {
                None => None,
                Some(provider) => match self.standby(&*provider, shutdown).await? {
                    Some(lease) => Some(lease),
                    None => return Ok(()),
                },
            };
            let ended = self.follow(&mut lease, shutdown).await;
            if let Some(lease) = lease {
                if let Err(error) = lease.release().await {
                    tracing::warn!(projection = %self.name, %error, "releasing the lease failed");
                }
            }
            match ended? {
                Ended::Shutdown => return Ok(()),
                Ended::LeaseLost => {
                    tracing::warn!(projection = %self.name, "lost the projection lease; back to standby");
                }
            }
        }
    }

    async fn standby(
        &mut self,
        provider: &dyn LeaseProvider,
        shutdown: &mut Shutdown<'_>,
    ) -> Result<Option<Box<dyn Lease>>, ProjectionError> {
        self.status.set_state(RunnerState::Standby);
        let mut logged = false;
        loop {
            if shutdown.fired() {
                return Ok(None);
            }
            match provider.try_acquire(&self.name).await {
                Ok(Some(lease)) => {
                    tracing::info!(projection = %self.name, "acquired the projection lease");
                    return Ok(Some(lease));
                }
                Ok(None) if !logged => {
                    tracing::info!(projection = %self.name, "another runner holds the lease; standing by");
                    logged = true;
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(projection = %self.name, %error, "cannot ask for the lease")
                }
            }
            // Another runner moves the stored checkpoint: show how far behind that one is.
            if let Ok(stored) = self.stored_checkpoint().await {
                self.status.set_checkpoint(stored);
            }
            self.refresh_head().await;
            if shutdown.sleep(self.settings.lease_retry).await {
                return Ok(None);
            }
        }
    }

    async fn stored_checkpoint(&mut self) -> Result<Checkpoint, StoreError> {
        let mut tx = self.store.begin().await?;
        let checkpoint = self.store.load_checkpoint_in(&mut tx, &self.name).await?;
        self.store.commit(tx).await?;
        Ok(checkpoint.unwrap_or_default())
    }

    async fn refresh_head(&mut self) {
        match self.events.head_position().await {
            Ok(head) => self.status.set_head(head),
            Err(error) => {
                tracing::debug!(projection = %self.name, %error, "cannot read the head position")
            }
        }
    }

    /// Catches up and follows the log while the lease (if any) is held.
    async fn follow(
        &mut self,
        lease: &mut Option<Box<dyn Lease>>,
        shutdown: &mut Shutdown<'_>,
    ) -> Result<Ended, ProjectionError> {
        let mut attempt = 0;
        let mut checkpoint = loop {
            match self.stored_checkpoint().await {
                Ok(checkpoint) => break checkpoint,
                Err(error) => {
                    attempt += 1;
                    if self.store_backoff(error, attempt, shutdown).await? {
                        return Ok(Ended::Shutdown);
                    }
                }
            }
        };
        self.status.set_checkpoint(checkpoint);
        self.refresh_head().await;
        self.status.set_state(RunnerState::CatchingUp);
        tracing::info!(projection = %self.name, %checkpoint, "projection started");

        let types: Vec<String> = self
            .handler
            .event_types()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let types = (!types.is_empty()).then_some(types);
        let mut signal = self.events.append_signal();
        let mut idle = self.settings.poll_min;
        let mut narrow = false;
        let mut verify = false;
        let mut lease_checked = Instant::now();

        loop {
            if shutdown.fired() {
                return Ok(Ended::Shutdown);
            }
            if let Some(held) = lease.as_mut() {
                if lease_checked.elapsed() >= self.settings.lease_check {
                    lease_checked = Instant::now();
                    if !held.is_held().await.unwrap_or(false) {
                        return Ok(Ended::LeaseLost);
                    }
                }
            }
            if let Some(signal) = signal.as_mut() {
                signal.borrow_and_update();
            }
            let mut query = ReadAll::new().after(checkpoint).limit(if narrow {
                1
            } else {
                self.settings.batch_size
            });
            query.event_types = types.clone();
            // After an empty read, read once more with the head taken first: if that read is empty
            // too, everything up to that head has been read (handled or filtered out), and the
            // checkpoint moves there, so the lag of a projection of some event types reaches 0.
            let head = if verify {
                match self.events.head_checkpoint().await {
                    Ok(head) => Some(head),
                    Err(error) => {
                        tracing::debug!(projection = %self.name, %error, "cannot read the head checkpoint");
                        None
                    }
                }
            } else {
                None
            };
            let reading = Instant::now();
            let batch = match self.read_batch(query, shutdown).await? {
                None => return Ok(Ended::Shutdown),
                Some(Read::Events(batch)) => batch,
                Some(Read::Corrupt(row)) => {
                    let parked = self.park_corrupt(&row, checkpoint).await?;
                    match self.after_batch(parked, &mut checkpoint, &mut narrow).await {
                        Some(ended) => return Ok(ended),
                        None => continue,
                    }
                }
            };
            tracing::trace!(projection = %self.name, events = batch.len(),
                elapsed_ms = reading.elapsed().as_millis() as u64, "batch read");

            if batch.is_empty() {
                if !verify {
                    verify = true;
                    continue;
                }
                verify = false;
                if let Some(head) = head.filter(|head| *head > checkpoint) {
                    let advanced = self.advance(checkpoint, head).await;
                    if let Some(ended) = self
                        .after_batch(advanced, &mut checkpoint, &mut narrow)
                        .await
                    {
                        return Ok(ended);
                    }
                }
                if self.status.get().state != RunnerState::Live {
                    tracing::info!(projection = %self.name, %checkpoint, "projection caught up; following live appends");
                }
                self.refresh_head().await;
                self.status.set_caught_up();
                if let Some(rate) = self.status.tick() {
                    tracing::debug!(projection = %self.name, events_per_sec = rate, lag = self.status.get().lag, "projection idle");
                }
                let woke = wait_for_append(&mut signal, &mut self.wakeup, shutdown, idle).await;
                idle = if signal.is_some() || self.wakeup.is_some() {
                    // Pushed wake-ups: polling is only a fallback for hints that never come.
                    self.settings.poll_max
                } else if woke {
                    self.settings.poll_min
                } else {
                    (idle * 2).min(self.settings.poll_max)
                };
                continue;
            }
            idle = self.settings.poll_min;
            verify = false;
            if self.status.get().state == RunnerState::Live {
                self.status.set_state(RunnerState::CatchingUp);
            }
            let processed = self.process(&batch, checkpoint, shutdown).await?;
            if let Some(ended) = self
                .after_batch(processed, &mut checkpoint, &mut narrow)
                .await
            {
                return Ok(ended);
            }
        }
    }

    /// Moves the runner on after a batch; `Some` when it ends.
    async fn after_batch(
        &mut self,
        processed: Processed,
        checkpoint: &mut Checkpoint,
        narrow: &mut bool,
    ) -> Option<Ended> {
        match processed {
            Processed::Committed(next) => {
                *checkpoint = next;
                *narrow = false;
                if next.position > self.status.get().head {
                    // The known head is stale: the lag would read 0 while it is not.
                    self.refresh_head().await;
                }
            }
            Processed::Moved(stored) => {
                tracing::warn!(projection = %self.name, expected = %checkpoint, stored = %stored,
                    "the stored checkpoint moved under this runner (another runner, or a reset); continuing from it");
                *checkpoint = stored;
                self.status.set_checkpoint(stored);
            }
            Processed::Narrow => *narrow = true,
            Processed::Shutdown => return Some(Ended::Shutdown),
        }
        None
    }

    /// Waits before retry `attempt` of a failed store operation; `Err` when retries are used up,
    /// `Ok(true)` on shutdown.
    async fn store_backoff(
        &mut self,
        error: StoreError,
        attempt: u32,
        shutdown: &mut Shutdown<'_>,
    ) -> Result<bool, ProjectionError> {
        self.status.set_error(&error);
        if attempt > self.settings.policy.max_retries && !error.is_transient() {
            return Err(self.store_error(error));
        }
        tracing::warn!(projection = %self.name, %error, attempt, transient = error.is_transient(),
            "store error; retrying");
        Ok(shutdown.sleep(self.settings.policy.delay(attempt)).await)
    }

    /// Reads the next batch, retrying store errors. `None`: shutdown. A read that fails after some
    /// events returns those (the error comes back at the head of the next read). A row the store
    /// cannot decode ([`StoreError::Corrupt`]) at the head is, once the retries are used up,
    /// returned to be parked when the policy parks.
    async fn read_batch(
        &mut self,
        query: ReadAll,
        shutdown: &mut Shutdown<'_>,
    ) -> Result<Option<Read>, ProjectionError> {
        let policy = self.settings.policy;
        let mut attempt = 0;
        loop {
            let mut events = Vec::new();
            let error = {
                let mut stream = self.events.read_all(query.clone());
                loop {
                    match stream.next().await {
                        None => break None,
                        Some(Ok(event)) => events.push(event),
                        Some(Err(error)) => break Some(error),
                    }
                }
            };
            let error = match error {
                None => return Ok(Some(Read::Events(events))),
                Some(error) if !events.is_empty() => {
                    tracing::debug!(projection = %self.name, %error, read = events.len(),
                        "reading the batch failed after some events; handling those first");
                    return Ok(Some(Read::Events(events)));
                }
                Some(error) => error,
            };
            attempt += 1;
            if let StoreError::Corrupt(row) = &error {
                if policy.on_failure == OnFailure::Park && attempt > policy.max_retries {
                    return Ok(Some(Read::Corrupt(row.clone())));
                }
            }
            if self.store_backoff(error, attempt, shutdown).await? {
                return Ok(None);
            }
        }
    }

    /// Moves the checkpoint to `head` after reading everything before it (nothing to handle).
    async fn advance(&mut self, expected: Checkpoint, head: Checkpoint) -> Processed {
        let moved = async {
            let mut tx = self.store.begin().await?;
            let stored = self
                .store
                .load_checkpoint_in(&mut tx, &self.name)
                .await?
                .unwrap_or_default();
            if stored != expected {
                return Ok(Err(stored));
            }
            self.store
                .save_checkpoint_in(&mut tx, &self.name, head)
                .await?;
            self.store.commit(tx).await?;
            Ok::<_, StoreError>(Ok(()))
        };
        match moved.await {
            Ok(Ok(())) => {
                self.status.record_batch(0, head);
                Processed::Committed(head)
            }
            Ok(Err(stored)) => Processed::Moved(stored),
            Err(error) => {
                // Only progress over events it does not handle is lost: it moves next time.
                tracing::debug!(projection = %self.name, %error, "cannot move the checkpoint to the head");
                Processed::Committed(expected)
            }
        }
    }

    /// Parks a row the store cannot decode, moving the checkpoint past it.
    async fn park_corrupt(
        &mut self,
        row: &CorruptEvent,
        checkpoint: Checkpoint,
    ) -> Result<Processed, ProjectionError> {
        tracing::error!(projection = %self.name, error = %row, position = row.position,
            "parking a stored event that does not decode");
        let parked = ParkedEvent::corrupt(&self.name, row);
        match self.apply(&[], checkpoint, Some(parked)).await {
            Ok(next) => {
                self.status.record_batch(0, next);
                Ok(Processed::Committed(next))
            }
            Err(BatchError::Moved(stored)) => Ok(Processed::Moved(stored)),
            Err(BatchError::Store(error)) => Err(self.store_error(error)),
            Err(BatchError::Handler { error, .. }) => {
                self.handler.on_abort();
                Err(ProjectionError::Flush {
                    projection: self.name.clone(),
                    attempts: 1,
                    source: error,
                })
            }
        }
    }

    /// Applies one batch with the error policy.
    async fn process(
        &mut self,
        batch: &[RecordedEvent],
        checkpoint: Checkpoint,
        shutdown: &mut Shutdown<'_>,
    ) -> Result<Processed, ProjectionError> {
        let policy = self.settings.policy;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let span = tracing::debug_span!("es.projection.batch", projection = %self.name,
                events = batch.len(), after = %checkpoint, attempt);
            let started = Instant::now();
            let result = self.apply(batch, checkpoint, None).instrument(span).await;
            let (index, error) = match result {
                Ok(next) => {
                    self.status.clear_error();
                    let n = batch.len() as u64;
                    if let Some(rate) = self.status.record_batch(n, next) {
                        self.refresh_head().await;
                        let lag = self.status.get().lag;
                        tracing::info!(projection = %self.name, events_per_sec = rate.round(), lag,
                            checkpoint = %next, "projection progress");
                    }
                    tracing::debug!(projection = %self.name, events = n, checkpoint = %next,
                        elapsed_ms = started.elapsed().as_millis() as u64, "batch committed");
                    return Ok(Processed::Committed(next));
                }
                Err(BatchError::Moved(stored)) => return Ok(Processed::Moved(stored)),
                Err(BatchError::Store(error)) => {
                    self.handler.on_abort();
                    self.status.set_error(&error);
                    // Transient errors (the store is unreachable) are retried until it is back;
                    // the policy's retry count applies to everything else.
                    if attempt > policy.max_retries && !error.is_transient() {
                        return Err(self.store_error(error));
                    }
                    tracing::warn!(projection = %self.name, %error, attempt,
                        transient = error.is_transient(), "batch failed in the store; retrying");
                    if shutdown.sleep(policy.delay(attempt)).await {
                        return Ok(Processed::Shutdown);
                    }
                    continue;
                }
                Err(BatchError::Handler { index, error }) => {
                    self.handler.on_abort();
                    (index.or((batch.len() == 1).then_some(0)), error)
                }
            };
            let failed = index.and_then(|i| batch.get(i));
            self.status.set_error(&error);
            if attempt <= policy.max_retries {
                tracing::warn!(projection = %self.name, %error, attempt,
                    position = failed.map(|e| e.meta.position.0),
                    "handler failed; retrying the batch");
                if shutdown.sleep(policy.delay(attempt)).await {
                    return Ok(Processed::Shutdown);
                }
                continue;
            }
            return match (policy.on_failure, index, failed) {
                (OnFailure::Stop, _, Some(event)) => Err(ProjectionError::Handler {
                    projection: self.name.clone(),
                    stream: event.meta.stream_id.clone(),
                    version: event.meta.version,
                    position: event.meta.position,
                    event_type: event.meta.event_type.clone(),
                    attempts: attempt,
                    source: error,
                }),
                (OnFailure::Stop, _, None) => Err(ProjectionError::Flush {
                    projection: self.name.clone(),
                    attempts: attempt,
                    source: error,
                }),
                (OnFailure::Park, Some(i), Some(event)) => {
                    let message = error.to_string();
                    tracing::error!(projection = %self.name, error = %message,
                        stream = %event.meta.stream_id, position = event.meta.position.0,
                        event_type = %event.meta.event_type, "parking an event that keeps failing");
                    let parked = ParkedEvent::new(&self.name, event, message);
                    match self.apply(&batch[..i], checkpoint, Some(parked)).await {
                        Ok(next) => {
                            // The parked event is not counted as handled.
                            self.status.record_batch(i as u64, next);
                            Ok(Processed::Committed(next))
                        }
                        Err(BatchError::Moved(stored)) => Ok(Processed::Moved(stored)),
                        Err(BatchError::Store(error)) => Err(self.store_error(error)),
                        Err(BatchError::Handler { error, .. }) if i > 0 => {
                            // An event before the parked one failed this time (a transient
                            // error): go on event by event, each with the whole error policy.
                            self.handler.on_abort();
                            tracing::warn!(projection = %self.name, %error,
                                "an earlier event of the batch failed while parking; narrowing to single events");
                            Ok(Processed::Narrow)
                        }
                        Err(BatchError::Handler { error, .. }) => {
                            self.handler.on_abort();
                            Err(ProjectionError::Flush {
                                projection: self.name.clone(),
                                attempts: attempt + 1,
                                source: error,
                            })
                        }
                    }
                }
                // The flush failed for a batch of several events: find the culprit one by one.
                (OnFailure::Park, _, _) => Ok(Processed::Narrow),
            };
        }
    }

    /// One attempt at a batch, in one unit of work. With `park`, that dead letter (of the event
    /// right after the batch) is parked in the same unit of work and the checkpoint moves past it.
    async fn apply(
        &mut self,
        batch: &[RecordedEvent],
        expected: Checkpoint,
        park: Option<ParkedEvent>,
    ) -> Result<Checkpoint, BatchError> {
        let next = match (&park, batch.last()) {
            (Some(parked), _) => parked.checkpoint,
            (None, Some(last)) => last.meta.checkpoint(),
            (None, None) => return Ok(expected),
        };
        let mut tx = self.store.begin().await?;
        let stored = self
            .store
            .load_checkpoint_in(&mut tx, &self.name)
            .await?
            .unwrap_or_default();
        if stored != expected {
            return Err(BatchError::Moved(stored));
        }
        for (index, event) in batch.iter().enumerate() {
            if let Err(error) = self.handler.handle(event, &mut tx).await {
                return Err(BatchError::Handler {
                    index: Some(index),
                    error,
                });
            }
        }
        if let Err(error) = self.handler.flush(&mut tx).await {
            return Err(BatchError::Handler { index: None, error });
        }
        if let Some(parked) = park {
            self.store.park_in(&mut tx, &parked).await?;
        }
        self.store
            .save_checkpoint_in(&mut tx, &self.name, next)
            .await?;
        self.store.commit(tx).await?;
        Ok(next)
    }
}

/// What a read of the log gave the runner.
enum Read {
    /// The next events (possibly none).
    Events(Vec<RecordedEvent>),
    /// A row at the head that the store cannot decode, to be parked.
    Corrupt(Box<CorruptEvent>),
}

enum Processed {
    Committed(Checkpoint),
    Moved(Checkpoint),
    Narrow,
    Shutdown,
}

/// Waits for an append signal, a wake-up hint, `timeout`, or shutdown. True if woken.
async fn wait_for_append(
    signal: &mut Option<watch::Receiver<u64>>,
    wakeup: &mut Option<Box<dyn Wakeup>>,
    shutdown: &mut Shutdown<'_>,
    timeout: Duration,
) -> bool {
    let signalled = async {
        match signal.as_mut() {
            Some(receiver) => receiver.changed().await.is_ok(),
            None => std::future::pending().await,
        }
    };
    let hinted = async {
        match wakeup.as_mut() {
            Some(wakeup) => wakeup.wait(timeout).await,
            None => std::future::pending().await,
        }
    };
    enum Woke {
        Signal(bool),
        Hint(Result<bool, StoreError>),
        Timeout,
    }
    let woke = tokio::select! {
        ok = signalled => Woke::Signal(ok),
        hint = hinted => Woke::Hint(hint),
        _ = shutdown.sleep(timeout) => Woke::Timeout,
    };
    match woke {
        Woke::Signal(true) => true,
        Woke::Signal(false) => {
            // The store is gone: nothing will signal again; poll.
            *signal = None;
            false
        }
        Woke::Hint(Ok(woken)) => woken,
        Woke::Hint(Err(error)) => {
            tracing::warn!(%error, "the wake-up source failed; polling instead");
            *wakeup = None;
            false
        }
        Woke::Timeout => false,
    }
}

impl<S, P, H> ProjectionRunner<S, P, H>
where
    S: EventStore + 'static,
    P: ProjectionStore + 'static,
    H: Projection<P::Tx> + 'static,
{
    /// Runs the projection on a tokio task until [`ProjectionHandle::stop`] or an error.
    pub fn spawn(mut self) -> ProjectionHandle {
        let (stop, stopped) = oneshot::channel::<()>();
        let status = self.status.clone();
        let name = self.name.clone();
        let task = tokio::spawn(async move {
            self.run_until(async {
                // A dropped sender stops the runner as well.
                let _ = stopped.await;
            })
            .await
        });
        ProjectionHandle {
            name,
            stop: Some(stop),
            task,
            status,
        }
    }
}

/// A projection running on a tokio task (from [`ProjectionRunner::spawn`]). Dropping the handle
/// stops the runner after its current batch.
#[derive(Debug)]
pub struct ProjectionHandle {
    name: String,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), ProjectionError>>,
    status: StatusCell,
}

impl ProjectionHandle {
    /// The projection's progress: state, checkpoint, lag, events/s.
    pub fn status(&self) -> ProjectionStatus {
        self.status.get()
    }

    /// Whether the runner has ended (stopped or failed).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits until `condition` holds for the status, or the runner ends. Returns the last status.
    pub async fn wait_for(
        &self,
        condition: impl Fn(&ProjectionStatus) -> bool,
    ) -> ProjectionStatus {
        loop {
            let status = self.status.get();
            if condition(&status) || self.task.is_finished() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops the runner after its current batch and waits for it.
    pub async fn stop(mut self) -> Result<(), ProjectionError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.join_inner().await
    }

    /// Waits for the runner to end by itself (an error, or a shutdown signal).
    pub async fn join(mut self) -> Result<(), ProjectionError> {
        self.join_inner().await
    }

    async fn join_inner(&mut self) -> Result<(), ProjectionError> {
        match (&mut self.task).await {
            Ok(result) => result,
            Err(error) => Err(ProjectionError::Aborted {
                projection: self.name.clone(),
                message: error.to_string(),
            }),
        }
    }
}
