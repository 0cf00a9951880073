//! [`JetStreamLog`]: a JetStream stream read as the global log of a read-only event store.

use crate::error::NatsError;
use crate::headers;
use async_nats::jetstream::{
    self,
    consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull},
};
use es_core::{
    AppendResult, AppendedEvent, Checkpoint, EventId, EventStore, EventStream, ExpectedVersion,
    NewEvent, Position, ReadAll, RecordedEvent, StoreError, StreamId, Version, async_trait,
};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, watch};

/// Which stream a [`JetStreamLog`] reads, and with which durable consumer.
#[derive(Clone, Debug)]
pub struct JetStreamLogConfig {
    /// The JetStream stream (as the relay's [`RelayConfig::stream`](crate::RelayConfig::stream)).
    pub stream: String,
    /// The durable pull consumer's name: one per projection (or subscription) reading the stream.
    pub consumer: String,
    /// How long the server waits for an acknowledgement before redelivering. Redeliveries are
    /// skipped by sequence, so this only bounds how long unacknowledged messages are held.
    pub ack_wait: Duration,
    /// Timeout of JetStream API requests.
    pub timeout: Duration,
}

impl JetStreamLogConfig {
    /// Reads `stream` with the durable consumer `consumer`.
    pub fn new(stream: impl Into<String>, consumer: impl Into<String>) -> Self {
        Self {
            stream: stream.into(),
            consumer: consumer.into(),
            ack_wait: Duration::from_secs(600),
            timeout: Duration::from_secs(5),
        }
    }
}

/// A JetStream stream (written by a [`Relay`](crate::Relay)) as the log of a read-only
/// [`EventStore`]: `read_all` delivers its messages as [`RecordedEvent`]s in stream order, each
/// with its **JetStream sequence as its position** (commit key 0); `head_position` is the
/// stream's last sequence. Stream id, version, type, schema version, time and metadata come from
/// the `es-*` headers, decoded by es-core's own row decoding, so handlers decode and upcast
/// exactly as on the source store. A message that does not decode is a
/// [`StoreError::Corrupt`] naming its sequence (a parking projection parks it).
///
/// Run a [`ProjectionRunner`](es_core::ProjectionRunner) on it with a projection store in the
/// consumer's own database: the checkpoint it commits in the read model's transaction *is* the
/// stream sequence, so a batch is applied exactly once whatever crashes; acknowledgements only
/// spare the server redeliveries. A rebuild replays the stream from sequence 1. Handlers without a
/// transaction ([`AtLeastOnce`](es_core::AtLeastOnce)) get every message at least once.
///
/// Reads go through the durable pull consumer [`consumer`](JetStreamLogConfig::consumer),
/// acknowledged (ack policy *all*) up to the checkpoint the runner asks to read after, which it
/// has committed. When a read starts elsewhere than where the consumer stands (a restart after a
/// crash, a rebuild), the consumer is re-created at the checkpoint's next sequence. So use one
/// consumer name per projection. Appends and stream reads are refused
/// ([`StoreError::Rejected`]): the log belongs to the source service.
///
/// [`append_signal`](EventStore::append_signal) fires on every message published on the
/// stream's subjects (a plain NATS subscription, on a task spawned by [`new`](Self::new), which
/// must therefore run inside a tokio runtime), so runners and subscriptions wake at once.
///
/// One reader per consumer name: two runners (or subscriptions) sharing a `JetStreamLog` would
/// move its durable consumer back and forth; give each its own with
/// [`with_consumer`](Self::with_consumer).
#[derive(Clone)]
pub struct JetStreamLog {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for JetStreamLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JetStreamLog")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

struct Inner {
    jetstream: jetstream::Context,
    config: JetStreamLogConfig,
    reader: Mutex<Reader>,
    signal: watch::Receiver<u64>,
    signal_task: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.signal_task.abort();
    }
}

#[derive(Default)]
struct Reader {
    consumer: Option<PullConsumer>,
    /// The sequence the consumer delivers next.
    next: u64,
    /// The last message handed out and not acknowledged.
    unacked: Option<jetstream::Message>,
    /// Messages the server delivered that were not handed out yet (a read stopped early at its
    /// limit or at a message that does not decode): dropping them would leave them delivered and
    /// unacknowledged, out of reach until redelivered.
    buffered: std::collections::VecDeque<jetstream::Message>,
    /// The consumer was re-created at `next` after a message came with a higher sequence: if
    /// the fresh consumer skips the same sequences, they are deleted from the stream.
    gap_checked: bool,
}

/// The most messages asked for in one pull request.
const MAX_FETCH: usize = 1000;

impl JetStreamLog {
    /// The log of `config.stream` over `client`. Needs no server round trip: a stream that does
    /// not exist yet is an [`StoreError::Unavailable`] error of each read until it does.
    pub fn new(client: async_nats::Client, config: JetStreamLogConfig) -> Self {
        let jetstream = jetstream::ContextBuilder::new()
            .timeout(config.timeout)
            .build(client.clone());
        let (sender, signal) = watch::channel(0u64);
        let signal_task = tokio::spawn(signal_appends(
            client,
            jetstream.clone(),
            config.stream.clone(),
            sender,
        ));
        Self {
            inner: Arc::new(Inner {
                jetstream,
                config,
                reader: Mutex::new(Reader::default()),
                signal,
                signal_task,
            }),
        }
    }

    /// The same stream through another durable consumer (for another projection), sharing the
    /// connection.
    pub fn with_consumer(&self, consumer: impl Into<String>) -> Self {
        let mut config = self.inner.config.clone();
        config.consumer = consumer.into();
        Self::new(self.inner.jetstream.client(), config)
    }

    /// The configuration.
    pub fn config(&self) -> &JetStreamLogConfig {
        &self.inner.config
    }

    async fn stream(&self) -> Result<jetstream::stream::Stream, StoreError> {
        self.inner
            .jetstream
            .get_stream(&self.inner.config.stream)
            .await
            .map_err(unavailable)
    }

    /// The durable consumer, delivering from sequence `start`: the existing one if it stands
    /// exactly there with nothing in flight, else a new one.
    async fn consumer_at(&self, start: u64) -> Result<PullConsumer, StoreError> {
        let stream = self.stream().await?;
        let name = &self.inner.config.consumer;
        if let Ok(mut consumer) = stream.get_consumer::<pull::Config>(name).await {
            let info = consumer.info().await.map_err(unavailable)?;
            if info.delivered.stream_sequence + 1 == start && info.num_ack_pending == 0 {
                return Ok(consumer);
            }
            tracing::debug!(consumer = %name, start, delivered = info.delivered.stream_sequence,
                "re-creating the durable consumer at the checkpoint");
            stream.delete_consumer(name).await.map_err(unavailable)?;
        }
        let config = pull::Config {
            durable_name: Some(name.clone()),
            deliver_policy: if start <= 1 {
                DeliverPolicy::All
            } else {
                DeliverPolicy::ByStartSequence {
                    start_sequence: start,
                }
            },
            ack_policy: AckPolicy::All,
            ack_wait: self.inner.config.ack_wait,
            max_ack_pending: 100_000,
            ..Default::default()
        };
        stream.create_consumer(config).await.map_err(unavailable)
    }

    async fn read_batch(&self, query: ReadAll) -> Vec<Result<RecordedEvent, StoreError>> {
        match self.read_batch_inner(&query).await {
            Ok(events) => events,
            Err(error) => vec![Err(error)],
        }
    }

    async fn read_batch_inner(
        &self,
        query: &ReadAll,
    ) -> Result<Vec<Result<RecordedEvent, StoreError>>, StoreError> {
        let mut reader = self.inner.reader.lock().await;
        let after = query.after.position.0;
        // The caller has committed everything up to `after`: the server may forget it.
        if let Some(message) = reader.unacked.take() {
            if sequence(&message)? <= after {
                if let Err(error) = message.ack().await {
                    tracing::debug!(%error, "acknowledging failed (the checkpoint is what counts)");
                }
            } else {
                reader.unacked = Some(message);
            }
        }
        let start = after + 1;
        if reader.consumer.is_none() || reader.next != start {
            reader.unacked = None;
            reader.buffered.clear();
            reader.consumer = None;
            reader.consumer = Some(self.consumer_at(start).await?);
            reader.next = start;
        }
        let limit = query.limit.unwrap_or(usize::MAX).max(1);
        let mut out = Vec::new();
        let mut lagging = 0;
        loop {
            if reader.buffered.is_empty() && !self.fetch(&mut reader, limit - out.len()).await? {
                // The stream may have stored a message its consumer has not noticed yet: wait
                // for it a little rather than until the next poll.
                if out.is_empty() && lagging < 10 && self.head_position().await?.0 >= reader.next {
                    lagging += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                }
                break;
            }
            while let Some(message) = reader.buffered.pop_front() {
                let seq = sequence(&message)?;
                if seq < reader.next {
                    continue; // a redelivery of a message already handed out
                }
                if seq > reader.next && !reader.gap_checked {
                    // A message delivered to a pull request that never arrived (a connection or
                    // server lost mid-pull) would be skipped: ask again from `next`.
                    tracing::debug!(
                        expected = reader.next,
                        got = seq,
                        "gap in the delivered sequences; re-creating the consumer to check it"
                    );
                    let next = reader.next;
                    reader.buffered.clear();
                    reader.consumer = None;
                    reader.consumer = Some(self.consumer_at(next).await?);
                    reader.gap_checked = true;
                    break;
                }
                reader.gap_checked = false;
                reader.next = seq + 1;
                let decoded = headers::decode(seq, message.headers.as_ref(), &message.payload);
                reader.unacked = Some(message);
                match decoded {
                    Ok(event) if query.matches(&event) => out.push(Ok(event)),
                    Ok(_) => {}
                    Err(error) => {
                        out.push(Err(error));
                        return Ok(out);
                    }
                }
                if out.len() >= limit {
                    return Ok(out);
                }
            }
        }
        Ok(out)
    }
}

impl JetStreamLog {
    /// Pulls up to `want` messages into the buffer (whole pull responses, never dropping part of
    /// one). False when none were available.
    async fn fetch(&self, reader: &mut Reader, want: usize) -> Result<bool, StoreError> {
        let Some(consumer) = reader.consumer.clone() else {
            return Ok(false);
        };
        // Bounded by the request timeout: a pull whose reply is lost (the server or the
        // connection died) would otherwise wait forever.
        let timeout = self.inner.config.timeout;
        let pull = consumer
            .fetch()
            .max_messages(want.clamp(1, MAX_FETCH))
            .messages();
        let mut batch = match tokio::time::timeout(timeout, pull).await {
            Ok(Ok(batch)) => batch,
            Ok(Err(error)) => {
                reader.consumer = None;
                return Err(unavailable(error));
            }
            Err(elapsed) => {
                reader.consumer = None;
                return Err(unavailable(elapsed));
            }
        };
        let mut received = false;
        loop {
            let error: es_core::BoxError = match tokio::time::timeout(timeout, batch.next()).await {
                Ok(None) => break,
                Ok(Some(Ok(message))) => {
                    reader.buffered.push_back(message);
                    received = true;
                    continue;
                }
                Ok(Some(Err(error))) => error,
                Err(elapsed) => Box::new(elapsed),
            };
            // Messages of this pull may be lost: the next read re-creates the consumer after
            // what was handed out.
            reader.consumer = None;
            if !received {
                return Err(unavailable(error));
            }
            break;
        }
        Ok(received)
    }
}

fn sequence(message: &jetstream::Message) -> Result<u64, StoreError> {
    message
        .info()
        .map(|info| info.stream_sequence)
        .map_err(|e| StoreError::database(format!("a JetStream message without ack info: {e}")))
}

fn unavailable(error: impl Into<es_core::BoxError>) -> StoreError {
    StoreError::unavailable(NatsError::jetstream(error))
}

fn read_only(what: &str) -> StoreError {
    StoreError::rejected(format!(
        "a JetStreamLog is read-only and has no {what}: the log belongs to the source service"
    ))
}

/// Bumps `sender` for every message published on the stream's subjects, (re)subscribing
/// whenever the connection or the stream comes back.
async fn signal_appends(
    client: async_nats::Client,
    jetstream: jetstream::Context,
    stream: String,
    sender: watch::Sender<u64>,
) {
    loop {
        let subjects = match jetstream.get_stream(&stream).await {
            Ok(mut stream) => match stream.info().await {
                Ok(info) => info.config.subjects.clone(),
                Err(_) => Vec::new(),
            },
            Err(_) => Vec::new(),
        };
        let mut subscriptions = Vec::new();
        for subject in subjects {
            if let Ok(subscriber) = client.subscribe(subject).await {
                subscriptions.push(subscriber);
            }
        }
        if subscriptions.is_empty() {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        let mut messages = futures::stream::select_all(subscriptions);
        while messages.next().await.is_some() {
            sender.send_modify(|n| *n = n.wrapping_add(1));
        }
        if sender.is_closed() {
            return;
        }
    }
}

#[async_trait]
impl EventStore for JetStreamLog {
    async fn append(
        &self,
        _stream: &StreamId,
        _expected: ExpectedVersion,
        _events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        Err(read_only("appends"))
    }

    fn read_stream<'a>(&'a self, _stream: &'a StreamId, _from: Version) -> EventStream<'a> {
        futures::stream::once(async { Err(read_only("stream reads")) }).boxed()
    }

    fn read_all<'a>(&'a self, query: ReadAll) -> EventStream<'a> {
        futures::stream::once(self.read_batch(query))
            .flat_map(futures::stream::iter)
            .boxed()
    }

    async fn stream_version(&self, _stream: &StreamId) -> Result<Version, StoreError> {
        Err(read_only("stream versions"))
    }

    async fn head_position(&self) -> Result<Position, StoreError> {
        let mut stream = self.stream().await?;
        let info = stream.info().await.map_err(unavailable)?;
        Ok(Position(info.state.last_sequence))
    }

    /// The stream's last sequence, but never past what this log's consumer has delivered once it
    /// has started reading: a projection runner moves its checkpoint to this head after an empty
    /// read, and a message the stream stored a moment before the consumer could deliver it must
    /// not be skipped. Before the first read (a subscription starting "from now"), the stream's
    /// last sequence.
    async fn head_checkpoint(&self) -> Result<Checkpoint, StoreError> {
        let last = self.head_position().await?.0;
        let reader = self.inner.reader.lock().await;
        let head = match reader.consumer {
            Some(_) => last.min(reader.next.saturating_sub(1)),
            None if reader.next > 0 => last.min(reader.next - 1),
            None => last,
        };
        Ok(Checkpoint::new(0, Position(head)))
    }

    fn append_signal(&self) -> Option<watch::Receiver<u64>> {
        Some(self.inner.signal.clone())
    }

    async fn find_events(
        &self,
        _ids: &[EventId],
    ) -> Result<Vec<(StreamId, AppendedEvent)>, StoreError> {
        Err(read_only("event lookup"))
    }
}
