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
//!
//! ```
//! use es_core::prelude::*;
//! use es_core::{MemoryStore, NewEvent};
//! use es_nats::{JetStreamLog, JetStreamLogConfig, Relay, RelayConfig};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
//! #[event(name = "order.placed")]
//! struct OrderPlaced { total: i64 }
//!
//! # fn free_port() -> u16 { std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port() }
//! # let (port, dir) = (free_port(), std::env::temp_dir().join(format!("es-nats-doc-{}", uuid::Uuid::now_v7())));
//! # let mut server = std::process::Command::new("nats-server")
//! #     .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"]).arg(&dir)
//! #     .stderr(std::process::Stdio::null()).spawn().expect("nats-server on PATH (bash scripts/test installs it)");
//! # while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() { std::thread::sleep(std::time::Duration::from_millis(20)) }
//! # let url = format!("nats://127.0.0.1:{port}");
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let client = es_nats::async_nats::connect(&url).await.unwrap();
//!
//! // The orders service appends to its store; the relay publishes its log to JetStream.
//! let orders = MemoryStore::new();
//! let relay = Relay::new(orders.clone(), client.clone(), RelayConfig::new("ORDERS", "orders")).spawn();
//! let placed = NewEvent::from_event(&OrderPlaced { total: 42 }, Metadata::new()).unwrap();
//! orders.append(&StreamId::new("order-1").unwrap(), ExpectedVersion::NoStream, vec![placed]).await.unwrap();
//!
//! // Another service subscribes to the stream, decoding with the same event type.
//! let log = JetStreamLog::new(client.clone(), JetStreamLogConfig::new("ORDERS", "mailer"));
//! let mut placed = SubscriptionBuilder::new(log).subscribe::<OrderPlaced>();
//! let received = placed.next().await.unwrap().unwrap();
//! assert_eq!((received.meta.stream_id.as_str(), received.event.total), ("order-1", 42));
//! assert_eq!(received.meta.position, Position(1)); // the JetStream sequence
//! relay.stop().await.unwrap();
//! # });
//! # server.kill().unwrap(); server.wait().unwrap(); std::fs::remove_dir_all(dir).ok();
//! ```
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
