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
//!
//! ## Immutability
//!
//! Triggers reject every statement that would change the stored log, with "es: stored events are
//! immutable": `UPDATE` (also `UPDATE OR REPLACE`), `DELETE`, and any `INSERT` over a stored
//! event's position, id or stream version, whatever its conflict clause (`INSERT OR REPLACE`,
//! `REPLACE`, `ON CONFLICT DO UPDATE`, `OR IGNORE`), as well as an insert at a position before the
//! log's last one. An insert must also be its stream's next version ("es: stream versions are
//! contiguous"). This guards against mistakes and against code that only has SQL access through
//! the store's [`pool`](SqliteStore::pool); anyone who can write the file can drop the triggers.
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod classify;
mod error;
mod keys;
mod projection;
mod query;
mod row;
mod store;

pub use error::OpenError;
pub use projection::SqliteTx;
pub use store::{MIGRATIONS_TABLE, SqliteStore};
