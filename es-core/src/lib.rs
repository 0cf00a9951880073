//! # es-core
//!
//! The core of `es`, an event-sourcing and CQRS framework: the traits that domain types and storage
//! adapters implement, event envelopes and metadata, the [`Repository`] that loads aggregates and
//! executes commands with optimistic concurrency, an in-memory store ([`MemoryStore`]) and a
//! given/when/then test kit ([`testing::AggregateTest`]).
//!
//! State is never stored directly: every change is an event appended to its aggregate's stream,
//! and the state is the fold of that stream. Storage adapters (`es-sqlite`, `es-postgres`) live in
//! their own crates and are swapped with one line.
//!
//! ```
//! use es_core::prelude::*;
//! use es_core::MemoryStore;
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
//! #[event(name = "account.deposited")]
//! struct Deposited { amount: i64 }
//!
//! #[derive(Debug, Clone, PartialEq, DomainEvent)]
//! enum AccountEvent { Deposited(Deposited) }
//!
//! #[derive(Debug, Default, Aggregate)]
//! #[aggregate(name = "account", events = AccountEvent)]
//! struct Account { balance: i64 }
//!
//! #[event_handler]
//! impl Account {
//!     fn deposited(&mut self, e: &Deposited) { self.balance += e.amount }
//! }
//!
//! #[derive(Clone)]
//! struct Deposit { amount: i64 }
//!
//! #[command_handler]
//! impl Account {
//!     fn deposit(&self, cmd: Deposit) -> Result<Deposited, String> {
//!         if cmd.amount <= 0 { return Err("amount must be positive".into()) }
//!         Ok(Deposited { amount: cmd.amount })
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let accounts = Repository::<Account, _>::new(MemoryStore::new());
//! accounts.execute("acc-1", Deposit { amount: 100 }).await.unwrap();
//! accounts.execute("acc-1", Deposit { amount: 20 }).await.unwrap();
//! assert_eq!(accounts.load("acc-1").await.unwrap().balance, 120);
//! assert_eq!(accounts.load_at("acc-1", Version(1)).await.unwrap().balance, 100);
//! assert!(accounts.execute("acc-1", Deposit { amount: -5 }).await.is_err());
//! # });
//! ```
//!
//! The macros (feature `derive`, on by default) write the impls of [`Event`], [`DomainEvent`],
//! [`Aggregate`], [`Apply`], [`Handle`] and [`EventHandler`]; the traits stay public for adapters,
//! tests and the rare hand-written case.
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod adapter;
mod aggregate;
pub mod dcb;
pub mod decision;
mod envelope;
mod error;
mod event;
mod handler;
mod id;
pub mod limits;
mod memory;
mod metadata;
pub mod personal;
pub mod projection;
mod repository;
mod store;
pub mod subscription;
pub mod testing;
#[cfg(feature = "testkit")]
pub mod testkit;
pub mod tombstone;

pub use aggregate::{Aggregate, Apply, Handle};
pub use envelope::{
    AppendResult, AppendedEvent, EventEnvelope, EventMeta, NewEvent, RecordedEvent, ReplayedEvent,
    StoredPayload,
};
pub use error::{
    BoxError, CorruptEvent, DecodeError, DecodeErrorKind, ExecuteError, InputError, JsonField,
    RepositoryError, StoreError,
};
pub use event::{DomainEvent, Event, IntoEvents};
pub use handler::{EventHandler, HandlerError, IntoHandlerResult};
pub use id::{
    Checkpoint, EventId, ExpectedVersion, InvalidStreamId, MAX_STREAM_ID_LEN, Position, StreamId,
    Version,
};
pub use memory::MemoryStore;
pub use metadata::Metadata;
pub use projection::{
    AtLeastOnce, ErrorPolicy, Lease, LeaseProvider, LocalLeases, OnFailure, ParkedEvent,
    Projection, ProjectionError, ProjectionHandle, ProjectionRunner, ProjectionStatus,
    ProjectionStore, RetryReport, RunnerState, Wakeup,
};
pub use repository::{DEFAULT_MAX_RETRIES, Executed, Loaded, Repository};
pub use store::{
    CheckpointStore, EventStore, EventStream, ReadAll, ReplayStream, Snapshot, SnapshotStore,
};
pub use subscription::{Subscription, SubscriptionBuilder};

/// The `async_trait` attribute, for implementing the object-safe async traits ([`EventStore`],
/// [`EventHandler`], [`Projection`] hooks, ...) without another dependency.
pub use async_trait::async_trait;

// The crates whose types appear in es-core's API, so an application needs no dependency of its
// own on them (and never one of another, incompatible version).

/// The `serde_json` crate: payloads ([`RecordedEvent::payload`]) and upcasters work with
/// [`serde_json::Value`]; `es_core::serde_json::json!` builds one.
pub use serde_json;

/// The `uuid` crate: [`EventId`] and the correlation and causation ids of [`Metadata`] are
/// [`uuid::Uuid`]s (`es_core::uuid::Uuid::now_v7()` makes a new one).
pub use uuid;

/// The `chrono` crate: [`EventMeta::recorded_at`] and [`Repository::load_as_of`] use
/// `chrono::DateTime<chrono::Utc>`.
pub use chrono;

/// The `futures` crate: [`EventStore::read_all`] and [`EventStore::read_stream`] return
/// [`futures::Stream`]s. The prelude brings [`futures::TryStreamExt`] (`try_next`,
/// `try_collect`) into scope.
pub use futures;

/// Everything an application needs in scope: the traits, the main types and (feature `derive`)
/// the macros.
///
/// ```
/// use es_core::prelude::*;
/// use es_core::MemoryStore;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
/// #[event(name = "account.deposited", version = 2, upcast(from = 1, with = cents_to_amount))]
/// struct Deposited { amount: i64 }
///
/// fn cents_to_amount(v1: serde_json::Value) -> Result<serde_json::Value, String> {
///     Ok(serde_json::json!({ "amount": v1["cents"] }))
/// }
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
/// #[event(name = "account.withdrawn")]
/// struct Withdrawn { amount: i64 }
///
/// #[derive(Debug, Clone, PartialEq, DomainEvent)]
/// enum AccountEvent { Deposited(Deposited), Withdrawn(Withdrawn) }
///
/// #[derive(Debug, Default, Aggregate)]
/// #[aggregate(name = "account", events = AccountEvent)]
/// struct Account { balance: i64 }
///
/// #[event_handler]
/// impl Account {
///     fn deposited(&mut self, e: &Deposited) { self.balance += e.amount }
///     fn withdrawn(&mut self, e: &Withdrawn) { self.balance -= e.amount }
/// }
///
/// #[derive(Clone)]
/// struct Withdraw(i64);
///
/// #[command_handler]
/// impl Account {
///     fn withdraw(&self, cmd: Withdraw) -> Result<Withdrawn, String> {
///         if cmd.0 > self.balance { return Err("insufficient funds".into()) }
///         Ok(Withdrawn { amount: cmd.0 })
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let stream = StreamId::for_aggregate("account", "a").unwrap();
/// // An event stored by older code, in schema version 1:
/// let v1 = es_core::NewEvent::raw("account.deposited", 1, serde_json::json!({ "cents": 70 }));
/// store.append(&stream, ExpectedVersion::NoStream, vec![v1]).await.unwrap();
///
/// let accounts = Repository::<Account, _>::new(store);
/// accounts.execute("a", Withdraw(20)).await.unwrap();
/// assert_eq!(accounts.load("a").await.unwrap().balance, 50);
/// assert!(accounts.execute("a", Withdraw(100)).await.is_err());
/// # });
/// ```
pub mod prelude {
    pub use crate::{
        Aggregate, Checkpoint, CheckpointStore, DomainEvent, ErrorPolicy, Event, EventEnvelope,
        EventHandler, EventMeta, EventStore, ExecuteError, ExpectedVersion, Handle, Metadata,
        Position, Projection, ProjectionRunner, ProjectionStore, ReadAll, Repository,
        SnapshotStore, StreamId, SubscriptionBuilder, Version, async_trait,
    };
    // `Aggregate` and `DomainEvent` above bring the derive macros of the same names too.
    // `Apply` stays out: with `Aggregate` in scope, `state.apply(&event)` would be ambiguous.
    #[cfg(feature = "derive")]
    pub use crate::{command_handler, event_handler, event_set};
    // The methods of `TryStreamExt` (`try_next`, `try_collect`, ...) on the streams of
    // `read_all` and `read_stream`, without taking the name.
    pub use futures::TryStreamExt as _;
}

// The docs of each macro (every key, its default) are in es-macros; the runnable examples of
// every key are here, where rustdoc adds them to the re-exported macro's page and runs them.
#[cfg(feature = "derive")]
#[doc = include_str!("docs/domain_event.md")]
pub use es_macros::DomainEvent;

#[cfg(feature = "derive")]
#[doc = include_str!("docs/aggregate.md")]
pub use es_macros::Aggregate;

#[cfg(feature = "derive")]
#[doc = include_str!("docs/event_handler.md")]
pub use es_macros::event_handler;

#[cfg(feature = "derive")]
#[doc = include_str!("docs/command_handler.md")]
pub use es_macros::command_handler;

#[cfg(feature = "derive")]
#[doc = include_str!("docs/event_set.md")]
pub use es_macros::event_set;

/// Items used by the code the macros generate. Not a public API.
#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;
