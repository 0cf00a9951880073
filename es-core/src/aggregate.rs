//! Aggregates and commands: [`Aggregate`], [`Apply`], [`Handle`].

use crate::event::DomainEvent;
use serde_json::Value;
use std::future::Future;

/// A consistency boundary whose state is the fold of its event stream.
///
/// Derive it with `#[derive(Aggregate)]` and write the apply methods with `#[event_handler]`.
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
