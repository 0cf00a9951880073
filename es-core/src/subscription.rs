//! Publish/subscribe inside an application: [`Subscription`]s to the log by event type, without a
//! projection table.
//!
//! A subscription is a [`ProjectionRunner`] whose handler forwards events into a bounded channel
//! and whose checkpoint lives in memory: it catches up from where it starts, then follows live
//! appends, and applies backpressure (the runner waits while the channel is full).

use crate::envelope::{EventEnvelope, RecordedEvent};
use crate::error::{DecodeError, StoreError};
use crate::event::DomainEvent;
use crate::handler::{EventHandler, HandlerError};
use crate::id::Checkpoint;
use crate::memory::MemoryStore;
use crate::projection::{
    AtLeastOnce, Projection, ProjectionHandle, ProjectionRunner, ProjectionStatus,
};
use crate::store::EventStore;
use async_trait::async_trait;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::mpsc;

/// Sets up a [`Subscription`]: where it starts, its buffer, then the event types.
///
/// ```
/// use es_core::{Event, EventStore, ExpectedVersion, MemoryStore, Metadata, NewEvent, StreamId, SubscriptionBuilder};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// struct UserRegistered { email: String }
/// impl Event for UserRegistered { const NAME: &'static str = "user.registered"; }
///
/// # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// // only events appended from now on
/// let mut welcome_mails = SubscriptionBuilder::new(store.clone()).from_now().await.unwrap()
///     .subscribe::<UserRegistered>();
///
/// let event = NewEvent::from_event(&UserRegistered { email: "ada@example.com".into() }, Metadata::new()).unwrap();
/// store.append(&StreamId::new("user-1").unwrap(), ExpectedVersion::NoStream, vec![event]).await.unwrap();
///
/// let received = welcome_mails.next().await.unwrap().unwrap();
/// assert_eq!(received.event.email, "ada@example.com");
/// # });
/// ```
#[derive(Debug)]
pub struct SubscriptionBuilder<S> {
    store: S,
    after: Checkpoint,
    buffer: usize,
    batch_size: usize,
}

impl<S: EventStore + 'static> SubscriptionBuilder<S> {
    /// A subscription to the log of `store`, from its first event.
    pub fn new(store: S) -> Self {
        Self {
            store,
            after: Checkpoint::START,
            buffer: 256,
            batch_size: 256,
        }
    }

    /// Starts after `checkpoint` (for example `meta.checkpoint()` of the last event a previous
    /// subscription delivered and you handled).
    pub fn after(mut self, checkpoint: Checkpoint) -> Self {
        self.after = checkpoint;
        self
    }

    /// Starts after the newest event stored now: only later appends are delivered.
    pub async fn from_now(mut self) -> Result<Self, StoreError> {
        self.after = self.store.head_checkpoint().await?;
        Ok(self)
    }

    /// How many events may wait in the channel before the reader pauses (default 256).
    pub fn buffer(mut self, events: usize) -> Self {
        self.buffer = events.max(1);
        self
    }

    /// Delivers the events of type `E` (an event or an event set), decoded and upcast.
    pub fn subscribe<E: DomainEvent>(self) -> Subscription<Result<EventEnvelope<E>, DecodeError>> {
        self.start(E::event_types(), |event| event.decode::<E>())
    }

    /// Delivers the stored events with these type names (all events if empty), not decoded.
    pub fn subscribe_types(self, event_types: &[&'static str]) -> Subscription<RecordedEvent> {
        self.start(event_types.to_vec(), RecordedEvent::clone)
    }

    fn start<T: Send + 'static>(
        self,
        event_types: Vec<&'static str>,
        map: fn(&RecordedEvent) -> T,
    ) -> Subscription<T> {
        let (sender, receiver) = mpsc::channel(self.buffer);
        let name = format!("subscription-{}", uuid::Uuid::now_v7());
        let checkpoints = AtLeastOnce(MemoryStore::new());
        checkpoints.0.set_checkpoint(&name, self.after);
        let forward = Forward {
            name,
            event_types,
            sender,
            map,
        };
        let handle = ProjectionRunner::new(self.store, checkpoints, forward)
            .batch_size(self.batch_size)
            .spawn();
        Subscription { receiver, handle }
    }
}

/// The handler of a subscription: sends each event into the channel.
struct Forward<T> {
    name: String,
    event_types: Vec<&'static str>,
    sender: mpsc::Sender<T>,
    map: fn(&RecordedEvent) -> T,
}

#[async_trait]
impl<T: Send + 'static> EventHandler for Forward<T> {
    fn event_types(&self) -> Vec<&'static str> {
        self.event_types.clone()
    }

    async fn handle(&mut self, event: &RecordedEvent, _: &mut ()) -> Result<(), HandlerError> {
        self.sender
            .send((self.map)(event))
            .await
            .map_err(|_| HandlerError::failed("the subscription was dropped"))
    }
}

impl<T: Send + 'static> Projection for Forward<T> {
    fn name(&self) -> &str {
        &self.name
    }
}

/// A live subscription to the log (from [`SubscriptionBuilder`]): a stream of events in log
/// order. Dropping it stops its reader.
#[derive(Debug)]
pub struct Subscription<T> {
    receiver: mpsc::Receiver<T>,
    handle: ProjectionHandle,
}

impl<T> Subscription<T> {
    /// The next event; `None` if the reader stopped (its store failed).
    pub async fn next(&mut self) -> Option<T> {
        self.receiver.recv().await
    }

    /// The reader's progress (its checkpoint is the last event put into the channel).
    pub fn status(&self) -> ProjectionStatus {
        self.handle.status()
    }

    /// Stops the reader; events already in the channel are dropped.
    pub async fn close(self) -> Result<(), crate::projection::ProjectionError> {
        self.handle.stop().await
    }
}

impl<T> futures::Stream for Subscription<T> {
    type Item = T;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.receiver.poll_recv(cx)
    }
}
