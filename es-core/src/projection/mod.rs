//! The query side: [`Projection`]s kept up to date from the global log by a [`ProjectionRunner`].
//!
//! A projection is an [`EventHandler`] with a name and a few hooks. The runner reads the log from
//! the projection's checkpoint in batches, hands each batch to the handler in one unit of work of a
//! [`ProjectionStore`], saves the checkpoint in the same unit of work, and then follows new events.

mod lease;
mod policy;
mod runner;
mod status;
mod store;
mod wakeup;

pub use lease::{Lease, LeaseProvider, LocalLeases};
pub use policy::{ErrorPolicy, OnFailure};
pub use runner::{ProjectionError, ProjectionHandle, ProjectionRunner, RetryReport};
pub use status::{ProjectionStatus, RunnerState, lag};
pub use store::{AtLeastOnce, ParkedEvent, ProjectionStore};
pub use wakeup::Wakeup;

use crate::handler::{EventHandler, HandlerError};
use async_trait::async_trait;

/// A read model or subscriber run by a [`ProjectionRunner`]: an [`EventHandler`] with a stable
/// name (its checkpoint key) and hooks for rebuilds and batched writes.
///
/// `Ctx` is the projection store's transaction (`()` for [`MemoryStore`](crate::MemoryStore) and
/// [`AtLeastOnce`]). An empty [`EventHandler::event_types`] means every event.
///
/// ```
/// use es_core::prelude::*;
/// use es_core::{HandlerError, MemoryStore, NewEvent, RecordedEvent};
/// use std::collections::HashMap;
/// use std::sync::{Arc, Mutex};
///
/// /// Balances per account, shared with the application that queries them.
/// type Balances = Arc<Mutex<HashMap<String, i64>>>;
///
/// struct BalancesProjection { balances: Balances, pending: Vec<(String, i64)> }
///
/// #[async_trait]
/// impl EventHandler for BalancesProjection {
///     fn event_types(&self) -> Vec<&'static str> { vec!["account.deposited"] }
///     async fn handle(&mut self, e: &RecordedEvent, _: &mut ()) -> Result<(), HandlerError> {
///         // buffer; applied once per batch in `flush`
///         self.pending.push((e.meta.stream_id.to_string(), e.payload["amount"].as_i64().unwrap_or(0)));
///         Ok(())
///     }
/// }
///
/// #[async_trait]
/// impl Projection for BalancesProjection {
///     fn name(&self) -> &str { "balances" }
///     async fn flush(&mut self, _: &mut ()) -> Result<(), HandlerError> {
///         let mut balances = self.balances.lock().unwrap();
///         for (account, amount) in self.pending.drain(..) {
///             *balances.entry(account).or_default() += amount;
///         }
///         Ok(())
///     }
///     fn on_abort(&mut self) { self.pending.clear() }
///     async fn on_reset(&mut self, _: &mut ()) -> Result<(), HandlerError> {
///         self.balances.lock().unwrap().clear();
///         Ok(())
///     }
/// }
///
/// # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let deposit = |amount: i64| NewEvent::raw("account.deposited", 1, es_core::serde_json::json!({ "amount": amount }));
/// let account = StreamId::new("account-1").unwrap();
/// store.append(&account, ExpectedVersion::NoStream, vec![deposit(5), deposit(7)]).await.unwrap();
///
/// // The runner reads the log from the checkpoint "balances" (events and checkpoints both in
/// // the MemoryStore here), batch by batch, then follows new events until stopped.
/// let balances = Balances::default();
/// let projection = BalancesProjection { balances: balances.clone(), pending: Vec::new() };
/// let handle = ProjectionRunner::new(store.clone(), store.clone(), projection).spawn();
/// store.append(&account, ExpectedVersion::Exact(Version(2)), vec![deposit(1)]).await.unwrap();
///
/// handle.wait_for(|status| status.checkpoint.position.0 >= 3).await;
/// assert_eq!(balances.lock().unwrap()["account-1"], 13);
/// handle.stop().await.unwrap();
/// assert_eq!(store.load_checkpoint("balances").await.unwrap().map(|c| c.position), Some(Position(3)));
/// # });
/// ```
#[async_trait]
pub trait Projection<Ctx: Send + ?Sized = ()>: EventHandler<Ctx> {
    /// The projection's stable name: the key of its checkpoint, lease and dead letters.
    fn name(&self) -> &str;

    /// Called after the handler has seen every event of a batch, before the checkpoint is saved
    /// in the same unit of work: write buffered changes here (one multi-row statement per batch).
    async fn flush(&mut self, ctx: &mut Ctx) -> Result<(), HandlerError> {
        let _ = ctx;
        Ok(())
    }

    /// The unit of work of the current batch was rolled back (a failure, a retry): drop state
    /// buffered since the batch began.
    fn on_abort(&mut self) {}

    /// Clears the read model for a rebuild, in the unit of work that also forgets the checkpoint.
    async fn on_reset(&mut self, ctx: &mut Ctx) -> Result<(), HandlerError> {
        let _ = ctx;
        Ok(())
    }
}
