//! # es-nats
//!
//! Events across services on NATS JetStream.
//!
//! - [`Relay`] follows the global log of any [`EventStore`](es_core::EventStore) and publishes
//!   every event to a JetStream stream, in log order, exactly once (also after crashes and past
//!   the duplicate window), without a dual write in the application.
//! - [`JetStreamLog`] is the other side: a JetStream stream read through a durable pull consumer,
//!   as a read-only `EventStore` whose log positions are the stream's sequences. Any
//!   [`ProjectionRunner`](es_core::ProjectionRunner) runs on it, with the same `#[event_handler]`
//!   read models, event types, upcasters and [`ErrorPolicy`](es_core::ErrorPolicy) as on a local
//!   store; with a SQLite or PostgreSQL projection store the JetStream sequence is the checkpoint,
//!   committed in the read model's transaction (exactly once). Typed subscriptions come from
//!   [`SubscriptionBuilder`](es_core::SubscriptionBuilder) over it.
//! - [`Causation`] derives a command id, correlation and causation ids from the event that
//!   caused a command (process managers, sagas).
#![warn(missing_docs)]

mod causation;
mod error;
pub mod headers;
mod log;
mod relay;
mod status;
mod subject;

pub use causation::Causation;
pub use error::NatsError;
pub use log::{JetStreamLog, JetStreamLogConfig};
pub use relay::{Relay, RelayConfig, RelayHandle};
pub use status::RelayStatus;
pub use subject::{SubjectMapping, subject_token};

/// The `async_nats` crate, whose `Client` the relay and logs take.
pub use async_nats;
