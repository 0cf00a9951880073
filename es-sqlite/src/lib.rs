//! # es-sqlite
//!
//! The embedded, zero-set-up event store of `es`: events, snapshots and subscription checkpoints in
//! one SQLite file (via sqlx), created and migrated on open.
//!
//! ```
//! use es_core::{EventStore, ExpectedVersion, NewEvent, StreamId};
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! # let dir = std::env::temp_dir().join(format!("es-doc-{}", uuid::Uuid::now_v7()));
//! let store = es_sqlite::SqliteStore::open(dir.join("bank.db")).await?;
//! let stream = StreamId::new("account-1").unwrap();
//! store.append(&stream, ExpectedVersion::NoStream, vec![NewEvent::raw("account.opened", 1, serde_json::json!({}))]).await?;
//! # store.close().await; std::fs::remove_dir_all(dir).unwrap();
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! Opening a file that is not an SQLite database, or one whose schema this version cannot use,
//! fails with a typed [`OpenError`].
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod error;
mod projection;
mod row;
mod store;

pub use error::OpenError;
pub use projection::SqliteTx;
pub use store::{MIGRATIONS_TABLE, SqliteStore};
