//! [`Relay`]: the global log of a store, published to a JetStream stream exactly once.

use crate::error::NatsError;
use crate::headers;
use crate::status::{RelayStatus, StatusCell};
use crate::subject::SubjectMapping;
use async_nats::jetstream::{self, context::PublishErrorKind, message::PublishMessage};
use es_core::projection::{Lease, LeaseProvider, RunnerState, Wakeup};
use es_core::{Checkpoint, EventStore, ReadAll, RecordedEvent};
use futures::TryStreamExt;
use futures::future::{BoxFuture, FutureExt};
use std::future::{Future, IntoFuture};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, watch};
use tracing::Instrument;

/// Where and how a [`Relay`] publishes.
#[derive(Clone, Debug)]
pub struct RelayConfig {
    /// The JetStream stream's name (created if missing).
    pub stream: String,
    /// The subjects the stream captures (on creation): by default `<prefix>.>`.
    pub subjects: Vec<String>,
    /// Replicas of the stream (on creation): 1, or 3 on a cluster.
    pub replicas: usize,
    /// JetStream's duplicate window (on creation); exactly-once does not depend on it.
    pub duplicate_window: Duration,
    /// The subject of each event.
    pub mapping: SubjectMapping,
    /// Publish only events of these stored types (`None`: all).
    pub event_types: Option<Vec<String>>,
    /// Events read from the store and published (pipelined) per batch.
    pub batch_size: usize,
    /// How often to look for new events when caught up: from `poll_min`, doubling up to
    /// `poll_max` (with an append signal or wake-up hint, `poll_max` is only a fallback).
    pub poll_min: Duration,
    /// See `poll_min`.
    pub poll_max: Duration,
    /// First delay after a failure (NATS or the store unreachable); doubles up to `backoff_max`.
    pub backoff_min: Duration,
    /// See `backoff_min`.
    pub backoff_max: Duration,
    /// How long to wait for a publish acknowledgement or a JetStream API reply.
    pub timeout: Duration,
    /// The key of the relay's lease (one active relay per key): `es-nats-relay:<stream>`.
    pub lease_name: String,
}

impl RelayConfig {
    /// Publishes to stream `stream` on subjects `<prefix>.<aggregate>.<stream id>`.
    pub fn new(stream: impl Into<String>, prefix: impl Into<String>) -> Self {
        let stream = stream.into();
        let prefix = prefix.into();
        Self {
            lease_name: format!("es-nats-relay:{stream}"),
            stream,
            subjects: vec![format!("{prefix}.>")],
            replicas: 1,
            duplicate_window: Duration::from_secs(120),
            mapping: SubjectMapping::by_aggregate(prefix),
            event_types: None,
            batch_size: 500,
            poll_min: Duration::from_millis(10),
            poll_max: Duration::from_secs(1),
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            timeout: Duration::from_secs(5),
        }
    }

    /// Sets the number of replicas of the stream (when the relay creates it).
    pub fn replicas(mut self, replicas: usize) -> Self {
        self.replicas = replicas.max(1);
        self
    }

    /// Sets the subject mapping (keep it inside [`subjects`](Self::subjects)).
    pub fn mapping(mut self, mapping: SubjectMapping) -> Self {
        self.mapping = mapping;
        self
    }

    /// Publishes only events of these stored types.
    pub fn event_types<I: IntoIterator<Item = S>, S: Into<String>>(mut self, types: I) -> Self {
        self.event_types = Some(types.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the batch size (at least 1).
    pub fn batch_size(mut self, size: usize) -> Self {
        self.batch_size = size.max(1);
        self
    }
}

/// Follows the global log of an [`EventStore`] and publishes every event (or those of some types)
/// to a JetStream stream, in log order, exactly once.
///
/// - **No dual write**: the application appends to its store only; the relay reads the log.
/// - **Exactly once, also after a crash at any point and past JetStream's duplicate window**: the
///   relay keeps no checkpoint of its own. On (re)start it reads the *last message of the
///   JetStream stream*, whose `es-checkpoint` header says which event of the log it carries, and
///   resumes after it. Each publish carries `Nats-Expected-Last-Sequence` (the sequence of the
///   previous event), so a lost publish makes every later one of the pipeline fail instead of
///   leaving a gap; the relay then re-reads the stream's last message and goes on from there.
///   `Nats-Msg-Id` = event id removes duplicates inside the window as a second line of defence.
///   The stream must therefore be written by this relay only. A stream without any relayed
///   message (new, or purged) is filled from the start of the log.
/// - **One active relay** per [`lease_name`](RelayConfig::lease_name) with a lease provider
///   ([`PgStore`](https://docs.rs/es-postgres) grants leases across processes with advisory locks);
///   the others stand by.
/// - Live: wakes on the store's append signal (and an optional [`Wakeup`], such as PostgreSQL
///   `LISTEN`), polls as a fallback; retries with backoff while NATS or the store is down.
pub struct Relay<S> {
    store: S,
    jetstream: jetstream::Context,
    config: RelayConfig,
    leases: Option<Arc<dyn LeaseProvider>>,
    lease_retry: Duration,
    // In a mutex only to make the relay `Sync` (its futures borrow it across awaits).
    wakeup: std::sync::Mutex<Option<Box<dyn Wakeup>>>,
    status: StatusCell,
}

impl<S> std::fmt::Debug for Relay<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// Where the relay stands in the JetStream stream.
#[derive(Clone, Copy, Debug)]
struct Position {
    /// The stream's last sequence.
    sequence: u64,
    /// The source checkpoint of the last relayed event in the stream.
    checkpoint: Checkpoint,
}

enum Ended {
    Shutdown,
    LeaseLost,
}

/// Why a session with the stream ended early.
enum Interrupted {
    /// Start over from the stream's last message at once (a publish was refused).
    Resync(String),
    /// Wait, then start over (NATS or the store unreachable).
    Failed(NatsError),
}

impl From<NatsError> for Interrupted {
    fn from(value: NatsError) -> Self {
        Interrupted::Failed(value)
    }
}

impl<S: EventStore> Relay<S> {
    /// A relay of `store`'s log over the NATS connection `client`.
    pub fn new(store: S, client: async_nats::Client, config: RelayConfig) -> Self {
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(config.timeout)
            .max_ack_inflight(config.batch_size.max(1) * 2)
            .build(client);
        Self {
            store,
            jetstream,
            status: StatusCell::new(&config.lease_name),
            config,
            leases: None,
            lease_retry: Duration::from_secs(1),
            wakeup: std::sync::Mutex::new(None),
        }
    }

    /// Runs only while holding the lease [`lease_name`](RelayConfig::lease_name) from
    /// `provider`, trying every `retry` while another relay holds it.
    pub fn lease(mut self, provider: impl LeaseProvider + 'static, retry: Duration) -> Self {
        self.leases = Some(Arc::new(provider));
        self.lease_retry = retry;
        self
    }

    /// Also wakes up on hints from `wakeup` (for example `PgStore::listen`) when caught up.
    pub fn wake_up(mut self, wakeup: impl Wakeup + 'static) -> Self {
        self.wakeup = std::sync::Mutex::new(Some(Box::new(wakeup)));
        self
    }

    /// The relay's progress.
    pub fn status(&self) -> RelayStatus {
        self.status.get()
    }

    /// Creates the JetStream stream if it does not exist.
    pub async fn ensure_stream(&self) -> Result<jetstream::stream::Stream, NatsError> {
        let config = jetstream::stream::Config {
            name: self.config.stream.clone(),
            subjects: self.config.subjects.clone(),
            num_replicas: self.config.replicas,
            duplicate_window: self.config.duplicate_window,
            ..Default::default()
        };
        self.jetstream
            .get_or_create_stream(config)
            .await
            .map_err(NatsError::jetstream)
    }

    /// Reads the stream's last sequence and the checkpoint of the last relayed event in it (from
    /// its `es-checkpoint` header; messages without one are skipped backwards).
    async fn resume_point(&self) -> Result<Position, NatsError> {
        let mut stream = self.ensure_stream().await?;
        let state = stream
            .info()
            .await
            .map_err(NatsError::jetstream)?
            .state
            .clone();
        let mut sequence = state.last_sequence;
        while state.messages > 0 && sequence >= state.first_sequence.max(1) {
            match stream.get_raw_message(sequence).await {
                Ok(message) => match headers::checkpoint(&message.headers) {
                    Some(Ok(checkpoint)) => {
                        return Ok(Position {
                            sequence: state.last_sequence,
                            checkpoint,
                        });
                    }
                    Some(Err(value)) => {
                        return Err(NatsError::BadCheckpoint {
                            stream: self.config.stream.clone(),
                            sequence,
                            value,
                        });
                    }
                    None => {}
                },
                Err(error)
                    if error.kind()
                        == jetstream::stream::LastRawMessageErrorKind::NoMessageFound =>
                {
                    // Deleted: look further back.
                }
                Err(error) => return Err(NatsError::jetstream(error)),
            }
            sequence -= 1;
        }
        Ok(Position {
            sequence: state.last_sequence,
            checkpoint: Checkpoint::START,
        })
    }

    /// Runs until `shutdown` completes (then returns `Ok` after the current batch) or a
    /// non-transient error.
    pub async fn run_until(
        &mut self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), NatsError> {
        let mut shutdown = Shutdown::new(shutdown);
        let result = self.run_inner(&mut shutdown).await;
        self.status.set_state(RunnerState::Stopped);
        result
    }

    async fn run_inner(&mut self, shutdown: &mut Shutdown<'_>) -> Result<(), NatsError> {
        loop {
            let mut lease = match self.leases.clone() {
                None => None,
                Some(provider) => match self.standby(&*provider, shutdown).await {
                    Some(lease) => Some(lease),
                    None => return Ok(()),
                },
            };
            let ended = self.follow(&mut lease, shutdown).await;
            if let Some(lease) = lease
                && let Err(error) = lease.release().await
            {
                tracing::warn!(relay = %self.config.lease_name, %error, "releasing the lease failed");
            }
            match ended? {
                Ended::Shutdown => return Ok(()),
                Ended::LeaseLost => {
                    tracing::warn!(relay = %self.config.lease_name, "lost the relay lease; back to standby")
                }
            }
        }
    }

    async fn standby(
        &mut self,
        provider: &dyn LeaseProvider,
        shutdown: &mut Shutdown<'_>,
    ) -> Option<Box<dyn Lease>> {
        self.status.set_state(RunnerState::Standby);
        loop {
            if shutdown.fired() {
                return None;
            }
            match provider.try_acquire(&self.config.lease_name).await {
                Ok(Some(lease)) => {
                    tracing::info!(relay = %self.config.lease_name, "acquired the relay lease");
                    return Some(lease);
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(relay = %self.config.lease_name, %error, "cannot ask for the lease")
                }
            }
            if shutdown.sleep(self.lease_retry).await {
                return None;
            }
        }
    }

    /// Follows the log while the lease (if any) is held, re-synchronising with the stream after
    /// every failure.
    async fn follow(
        &mut self,
        lease: &mut Option<Box<dyn Lease>>,
        shutdown: &mut Shutdown<'_>,
    ) -> Result<Ended, NatsError> {
        let mut failures = 0u32;
        let mut lease_checked = Instant::now();
        let mut last_resync: Option<Instant> = None;
        loop {
            if shutdown.fired() {
                return Ok(Ended::Shutdown);
            }
            self.status.set_state(RunnerState::CatchingUp);
            let mut wakeup = self
                .wakeup
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            let outcome = self
                .session(
                    lease,
                    &mut wakeup,
                    &mut lease_checked,
                    &mut failures,
                    shutdown,
                )
                .await;
            *self
                .wakeup
                .get_mut()
                .unwrap_or_else(PoisonError::into_inner) = wakeup;
            match outcome {
                Ok(ended) => return Ok(ended),
                Err(Interrupted::Resync(reason)) => {
                    tracing::info!(relay = %self.config.lease_name, %reason,
                        "publish refused; re-synchronising with the stream");
                    // Refusals in a row (another publisher on the stream, two relays without a
                    // lease): pace them instead of spinning. The stream stays exactly-once.
                    if last_resync.is_some_and(|at| at.elapsed() < Duration::from_secs(1))
                        && shutdown.sleep(self.config.backoff_min).await
                    {
                        return Ok(Ended::Shutdown);
                    }
                    last_resync = Some(Instant::now());
                }
                Err(Interrupted::Failed(error)) => {
                    failures = failures.saturating_add(1);
                    self.status.set_error(&error);
                    let delay = backoff(self.config.backoff_min, self.config.backoff_max, failures);
                    tracing::warn!(relay = %self.config.lease_name, %error, attempt = failures,
                        ?delay, "relay failed; retrying");
                    if shutdown.sleep(delay).await {
                        return Ok(Ended::Shutdown);
                    }
                }
            }
        }
    }

    /// One session: find the resume point in the stream, then read and publish until something
    /// fails or the relay stops.
    async fn session(
        &mut self,
        lease: &mut Option<Box<dyn Lease>>,
        wakeup: &mut Option<Box<dyn Wakeup>>,
        lease_checked: &mut Instant,
        failures: &mut u32,
        shutdown: &mut Shutdown<'_>,
    ) -> Result<Ended, Interrupted> {
        let mut at = self.resume_point().await?;
        tracing::info!(relay = %self.config.lease_name, stream = %self.config.stream,
            sequence = at.sequence, checkpoint = %at.checkpoint, "relay resumes after the stream's last event");
        self.status.set_position(at.checkpoint, at.sequence);
        let mut signal = self.store.append_signal();
        let mut idle = self.config.poll_min;
        loop {
            if shutdown.fired() {
                return Ok(Ended::Shutdown);
            }
            if let Some(held) = lease.as_mut()
                && lease_checked.elapsed() >= self.lease_retry
            {
                *lease_checked = Instant::now();
                if !held.is_held().await.unwrap_or(false) {
                    return Ok(Ended::LeaseLost);
                }
            }
            if let Some(signal) = signal.as_mut() {
                signal.borrow_and_update();
            }
            let mut query = ReadAll::new()
                .after(at.checkpoint)
                .limit(self.config.batch_size);
            query.event_types = self.config.event_types.clone();
            let batch: Vec<RecordedEvent> = self
                .store
                .read_all(query)
                .try_collect()
                .await
                .map_err(NatsError::from)?;
            if batch.is_empty() {
                *failures = 0;
                self.status.clear_error();
                if let Ok(head) = self.store.head_position().await {
                    self.status.set_head(head);
                }
                self.status.set_caught_up();
                self.status.tick();
                let woke = wait_for_append(&mut signal, wakeup, shutdown, idle).await;
                idle = if signal.is_some() || wakeup.is_some() {
                    self.config.poll_max
                } else if woke {
                    self.config.poll_min
                } else {
                    (idle * 2).min(self.config.poll_max)
                };
                continue;
            }
            idle = self.config.poll_min;
            let span = tracing::debug_span!("es.relay.batch", relay = %self.config.lease_name,
                events = batch.len(), after = %at.checkpoint);
            at = self.publish(&batch, at).instrument(span).await?;
            *failures = 0;
            self.status.clear_error();
            if self
                .status
                .record_batch(batch.len() as u64, at.checkpoint, at.sequence)
            {
                if let Ok(head) = self.store.head_position().await {
                    self.status.set_head(head);
                }
                let status = self.status.get();
                tracing::info!(relay = %self.config.lease_name, events_per_sec = status.events_per_sec.round(),
                    lag = status.lag, checkpoint = %at.checkpoint, sequence = at.sequence, "relay progress");
            }
        }
    }

    /// Publishes a batch, pipelined, each message expecting the previous one's sequence; waits
    /// for every acknowledgement in order. Returns the new position.
    async fn publish(
        &self,
        batch: &[RecordedEvent],
        at: Position,
    ) -> Result<Position, Interrupted> {
        let mut pending = Vec::with_capacity(batch.len());
        for (index, event) in batch.iter().enumerate() {
            let subject = self.config.mapping.subject(&event.meta);
            let headers = headers::encode(event).map_err(|e| publish_error(event, &subject, e))?;
            let payload = serde_json::to_vec(&event.payload)
                .map_err(|e| publish_error(event, &subject, e))?;
            let message = PublishMessage::build()
                .payload(payload.into())
                .headers(headers)
                .expected_last_sequence(at.sequence + index as u64);
            let ack = self
                .jetstream
                .send_publish(subject.clone(), message)
                .await
                .map_err(|e| publish_error(event, &subject, e))?;
            pending.push((event, subject, ack));
        }
        let mut position = at;
        let mut acked = 0u64;
        let mut interrupted = None;
        for (event, subject, ack) in pending {
            match ack.into_future().await {
                Ok(ack) if ack.duplicate => {
                    interrupted = Some(Interrupted::Resync(format!(
                        "event {} is already in the stream at sequence {}",
                        event.meta.event_id, ack.sequence
                    )));
                }
                Ok(ack) => {
                    position = Position {
                        sequence: ack.sequence,
                        checkpoint: event.meta.checkpoint(),
                    };
                    acked += 1;
                    continue;
                }
                Err(error) if error.kind() == PublishErrorKind::WrongLastSequence => {
                    interrupted = Some(Interrupted::Resync(error.to_string()));
                }
                Err(error) => interrupted = Some(publish_error(event, &subject, error)),
            }
            break;
        }
        match interrupted {
            None => Ok(position),
            Some(interrupted) => {
                // What was acknowledged before the failure is in the stream: count it.
                if acked > 0 {
                    self.status
                        .record_batch(acked, position.checkpoint, position.sequence);
                }
                Err(interrupted)
            }
        }
    }
}

fn publish_error(
    event: &RecordedEvent,
    subject: &str,
    error: impl Into<es_core::BoxError>,
) -> Interrupted {
    Interrupted::Failed(NatsError::Publish {
        event_id: event.meta.event_id,
        subject: subject.to_owned(),
        source: error.into(),
    })
}

fn backoff(min: Duration, max: Duration, attempt: u32) -> Duration {
    let factor = 1u32
        .checked_shl(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX);
    min.checked_mul(factor).unwrap_or(max).min(max)
}

impl<S: EventStore + 'static> Relay<S> {
    /// Runs the relay on a tokio task until [`RelayHandle::stop`] or an error.
    pub fn spawn(mut self) -> RelayHandle {
        let (stop, stopped) = oneshot::channel::<()>();
        let status = self.status.clone();
        let task = tokio::spawn(async move {
            self.run_until(async {
                let _ = stopped.await;
            })
            .await
        });
        RelayHandle {
            stop: Some(stop),
            task,
            status,
        }
    }
}

/// A relay running on a tokio task (from [`Relay::spawn`]). Dropping it stops the relay.
#[derive(Debug)]
pub struct RelayHandle {
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), NatsError>>,
    status: StatusCell,
}

impl RelayHandle {
    /// The relay's progress: state, checkpoint, stream sequence, lag, events/s.
    pub fn status(&self) -> RelayStatus {
        self.status.get()
    }

    /// Waits until `condition` holds for the status, or the relay ends. Returns the last status.
    pub async fn wait_for(&self, condition: impl Fn(&RelayStatus) -> bool) -> RelayStatus {
        loop {
            let status = self.status.get();
            if condition(&status) || self.task.is_finished() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Stops the relay after its current batch and waits for it.
    pub async fn stop(mut self) -> Result<(), NatsError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(error) => Err(NatsError::jetstream(error)),
        }
    }
}

/// A shutdown future polled from several places, remembering that it fired.
pub(crate) struct Shutdown<'a> {
    future: BoxFuture<'a, ()>,
    fired: bool,
}

impl<'a> Shutdown<'a> {
    pub(crate) fn new(future: impl Future<Output = ()> + Send + 'a) -> Self {
        Self {
            future: future.boxed(),
            fired: false,
        }
    }

    pub(crate) fn fired(&mut self) -> bool {
        if !self.fired && (&mut self.future).now_or_never().is_some() {
            self.fired = true;
        }
        self.fired
    }

    /// Waits for shutdown or `duration`; true on shutdown.
    pub(crate) async fn sleep(&mut self, duration: Duration) -> bool {
        if self.fired {
            return true;
        }
        tokio::select! {
            () = &mut self.future => { self.fired = true; true }
            () = tokio::time::sleep(duration) => false,
        }
    }
}

/// Waits for an append signal, a wake-up hint, `timeout` or shutdown. True if woken.
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
        Hint(Result<bool, es_core::StoreError>),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: T) {}

    /// Every public future is `Send`, so it runs on a multi-threaded runtime's tasks.
    #[allow(dead_code, unreachable_code, clippy::diverging_sub_expression)]
    fn public_futures_are_send(mut relay: Relay<es_core::MemoryStore>, handle: RelayHandle) {
        assert_send(relay.ensure_stream());
        assert_send(relay.run_until(async {}));
        assert_send(handle.wait_for(|_| true));
        assert_send(handle.stop());
    }
}
