//! Aggregates and commands: [`Aggregate`], [`Apply`], [`Handle`].

use crate::event::DomainEvent;
use serde_json::Value;
use std::future::Future;

/// A consistency boundary whose state is the fold of its event stream.
///
/// Derive it with `#[derive(Aggregate)]` and write the apply methods with `#[event_handler]`.
/// By hand it is a name, an event type and a fold, plus the snapshot hooks if the aggregate takes
/// snapshots:
///
/// ```
/// use es_core::{Aggregate, Event, Handle, MemoryStore, Repository, SnapshotStore, StreamId, Version};
/// use es_core::serde_json::{self, Value};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// struct Added { n: i64 }
/// impl Event for Added { const NAME: &'static str = "counter.added"; }
///
/// #[derive(Debug, Default, Serialize, Deserialize)]
/// struct Counter { total: i64 }
///
/// impl Aggregate for Counter {
///     const NAME: &'static str = "counter"; // streams "counter-{id}"
///     const SNAPSHOT_EVERY: u64 = 3;
///     type Event = Added;
///     fn apply(&mut self, e: &Added) { self.total += e.n }
///     fn to_snapshot(&self) -> Option<Result<Value, serde_json::Error>> {
///         Some(serde_json::to_value(self))
///     }
///     fn from_snapshot(state: Value) -> Option<Result<Self, serde_json::Error>> {
///         Some(serde_json::from_value(state))
///     }
/// }
///
/// # #[derive(Clone)] struct Add(i64);
/// # impl Handle<Add> for Counter {
/// #     type Error = std::convert::Infallible;
/// #     async fn handle(&self, c: Add) -> Result<Vec<Added>, Self::Error> { Ok(vec![Added { n: c.0 }]) }
/// # }
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let counters = Repository::<Counter, _>::new(store.clone());
/// for n in 1..=4 {
///     counters.execute("c1", Add(n)).await.unwrap();
/// }
/// // The third event crossed SNAPSHOT_EVERY: loads start from that snapshot and replay one event.
/// let stream = StreamId::for_aggregate(Counter::NAME, "c1").unwrap();
/// let snapshot = store.load_snapshot(&stream).await.unwrap().unwrap();
/// assert_eq!((snapshot.version, snapshot.state["total"].as_i64()), (Version(3), Some(6)));
/// assert_eq!(counters.load("c1").await.unwrap().total, 10);
/// # });
/// ```
pub trait Aggregate: Default + Send + Sync + 'static {
    /// The aggregate type's name; its streams are named `"{NAME}-{id}"`.
    const NAME: &'static str;

    /// Take a snapshot every this many events (0: never).
    const SNAPSHOT_EVERY: u64 = 0;

    /// The schema version of the snapshot state; stored snapshots of another version are ignored.
    const SNAPSHOT_VERSION: u32 = 1;

    /// The aggregate's event set.
    type Event: DomainEvent;

    /// Folds one event into the state. Must not fail: the event already happened.
    fn apply(&mut self, event: &Self::Event);

    /// Serializes the state for a snapshot (`None`: this aggregate has no snapshots).
    fn to_snapshot(&self) -> Option<Result<Value, serde_json::Error>> {
        None
    }

    /// Restores the state from a snapshot (`None`: this aggregate has no snapshots).
    fn from_snapshot(state: Value) -> Option<Result<Self, serde_json::Error>> {
        let _ = state;
        None
    }
}

/// Folds one event type into a state. `#[event_handler]` implements it for every
/// `fn(&mut self, &E)` method; an aggregate must have one per event of its set.
///
/// By hand, an aggregate's [`Aggregate::apply`] dispatches on the variant of its event set and
/// calls the `Apply` impl of each event, which is what `#[derive(Aggregate)]` generates:
///
/// ```
/// use es_core::{Aggregate, Apply, DomainEvent};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
/// #[event(name = "door.opened")]
/// struct Opened {}
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
/// #[event(name = "door.closed")]
/// struct Closed {}
///
/// #[derive(Debug, Clone, PartialEq, DomainEvent)]
/// enum DoorEvent { Opened(Opened), Closed(Closed) }
///
/// #[derive(Default)]
/// struct Door { open: bool, uses: u32 }
///
/// impl Apply<Opened> for Door {
///     fn apply(&mut self, _: &Opened) { self.open = true; self.uses += 1 }
/// }
/// impl Apply<Closed> for Door {
///     fn apply(&mut self, _: &Closed) { self.open = false }
/// }
///
/// impl Aggregate for Door {
///     const NAME: &'static str = "door";
///     type Event = DoorEvent;
///     fn apply(&mut self, event: &DoorEvent) {
///         match event {
///             DoorEvent::Opened(e) => Apply::apply(self, e),
///             DoorEvent::Closed(e) => Apply::apply(self, e),
///         }
///     }
/// }
///
/// let mut door = Door::default();
/// for event in [Opened {}.into(), Closed {}.into(), Opened {}.into()] {
///     Aggregate::apply(&mut door, &event);
/// }
/// assert!(door.open);
/// assert_eq!(door.uses, 2);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no event handler for `{E}`",
    label = "no `fn(&mut self, event: &{E})` in the `#[event_handler]` impl of `{Self}`",
    note = "add a method `fn ...(&mut self, event: &{E})` to the `#[event_handler]` impl block of `{Self}`, or opt out with `#[aggregate(ignore({E}))]`"
)]
pub trait Apply<E> {
    /// Folds `event` into `self`.
    fn apply(&mut self, event: &E);
}

/// Handles one command type: validates it against the current state and decides the events.
/// `#[command_handler]` implements it for every method of the impl block.
///
/// By hand (an `async fn` satisfies the `Send` future of the signature when what it holds across
/// `.await`s is `Send`):
///
/// ```
/// use es_core::{Aggregate, ExecuteError, Handle, MemoryStore, Repository};
/// use es_core::prelude::*;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
/// #[event(name = "stock.reserved")]
/// struct Reserved { qty: u32 }
///
/// #[derive(Debug, Default, Aggregate)]
/// #[aggregate(name = "stock", events = Reserved)]
/// struct Stock { reserved: u32 }
///
/// #[event_handler]
/// impl Stock {
///     fn reserved(&mut self, e: &Reserved) { self.reserved += e.qty }
/// }
///
/// #[derive(Clone)]
/// struct Reserve { qty: u32 }
///
/// #[derive(Debug, PartialEq)]
/// enum StockError { SoldOut { left: u32 } }
///
/// impl Handle<Reserve> for Stock {
///     type Error = StockError;
///     async fn handle(&self, cmd: Reserve) -> Result<Vec<Reserved>, StockError> {
///         let left = 10 - self.reserved;
///         if cmd.qty > left {
///             return Err(StockError::SoldOut { left });
///         }
///         Ok(vec![Reserved { qty: cmd.qty }]) // `Vec<Self::Event>`; empty appends nothing
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let stock = Repository::<Stock, _>::new(MemoryStore::new());
/// stock.execute("sku-1", Reserve { qty: 7 }).await.unwrap();
/// match stock.execute("sku-1", Reserve { qty: 5 }).await {
///     Err(ExecuteError::Rejected(error)) => assert_eq!(error, StockError::SoldOut { left: 3 }),
///     other => panic!("{other:?}"),
/// }
/// assert_eq!(stock.load("sku-1").await.unwrap().reserved, 7);
/// # });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no command handler for `{C}`",
    label = "`{C}` is not handled by `{Self}`",
    note = "add a method `fn ...(&self, command: {C}) -> Result<_, _>` to a `#[command_handler]` impl block of `{Self}`"
)]
pub trait Handle<C>: Aggregate {
    /// Why a command is rejected.
    type Error: Send;

    /// Decides the events for `command`; must not change state (the events do that).
    fn handle(
        &self,
        command: C,
    ) -> impl Future<Output = Result<Vec<Self::Event>, Self::Error>> + Send;
}
