//! # es-postgres
//!
//! The production event store of `es`: events, snapshots and subscription checkpoints in one
//! PostgreSQL schema, through sqlx, with its migrations shipped in the crate.
//!
//! ```
//! use es_core::{EventStore, ExpectedVersion, NewEvent, ReadAll, StreamId};
//! use futures::TryStreamExt;
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! # let url = std::env::var("DATABASE_URL").expect("set DATABASE_URL: run `bash scripts/test`");
//! # let schema = format!("es_doc_{}", uuid::Uuid::now_v7().simple());
//! let store = es_postgres::PgStore::builder().schema(&schema).connect(&url).await?;
//! let stream = StreamId::new("account-1")?;
//! store
//!     .append(&stream, ExpectedVersion::NoStream, vec![NewEvent::raw("account.opened", 1, serde_json::json!({}))])
//!     .await?;
//! let log: Vec<_> = store.read_all(ReadAll::new()).try_collect().await?;
//! assert_eq!(log.len(), 1);
//! # sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA \"{schema}\" CASCADE"))).execute(store.pool()).await?;
//! # store.close().await;
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! ## Tables
//!
//! [`PgStore::migrate`] (run by `connect` unless [`PgStoreBuilder::migrate`] turns it off) creates,
//! in the configured schema (default `public`): `es_events`, `es_snapshots`, `es_checkpoints` and
//! its own migration table `_es_migrations`. Indexes serve reading a stream (`UNIQUE (stream_id,
//! version)`), the global log `(tx_id, global_position)`, the log filtered by type
//! `(event_type, tx_id, global_position)` and by time (`recorded_at`); `event_id` is unique.
//!
//! ## Appends
//!
//! A batch is one statement (`INSERT ... SELECT ... FROM unnest(...)` guarded by the expected
//! version), hence one round trip and one transaction. The expected-version check cannot be raced:
//! of two writers expecting the same version, the loser's insert hits the unique
//! `(stream_id, version)` key and gets [`StoreError::Conflict`](es_core::StoreError) with the
//! actual version; nothing of its batch is stored. Re-appending a stored batch (same event ids) is
//! reported with `already_appended`.
//!
//! ## The global order, and what it costs
//!
//! `global_position` comes from an identity sequence, and sequences are assigned at insert but
//! committed in any order: a reader that pages by `position > last_seen` could checkpoint past an
//! event whose transaction commits later with a smaller position, and never see it. This store
//! does not serialise writers to prevent that (measured on this project's 2-core machine, an
//! append lock cost 52-72% of throughput, because the lock is held through the WAL flush).
//! Instead every event records its writing transaction, `tx_id xid8 DEFAULT
//! pg_current_xact_id()`, and `read_all` returns events in `(tx_id, global_position)` order,
//! strictly below `pg_snapshot_xmin(pg_current_snapshot())`, the oldest transaction still running.
//! Every transaction below that horizon has finished, and every later one gets a larger id, so a
//! reader that pages with the [`Checkpoint`](es_core::Checkpoint) `{ commit: tx_id, position }` of
//! the last event it saw never skips one. Within a stream the order is version order (a writer can
//! only append version n+1 after version n committed, so it has a larger transaction id).
//!
//! Cost: nothing measurable on writes (an 8-byte column and one index that an ordered log needs
//! anyway). On reads: an event becomes visible to `read_all` only once every older writing
//! transaction *in the whole cluster* has finished, so a long-open writing transaction anywhere
//! delays subscribers (it never makes them skip). `read_all` waits up to
//! [`PgStoreBuilder::horizon_wait`] for transactions older than the newest event, so a reader sees
//! what was committed before it asked. Set `idle_in_transaction_session_timeout`, and keep append
//! transactions short. The order is transaction-id order, not commit order, and positions have gaps
//! (rolled-back inserts); a logical dump and restore resets transaction ids (pg_upgrade and
//! physical replicas keep them).
//!
//! ## Live tailing
//!
//! [`EventStore::append_signal`](es_core::EventStore::append_signal) wakes in-process readers
//! after every local append. Across processes, readers poll with backoff; `NOTIFY` is opt-in
//! ([`PgStoreBuilder::notify`], then [`PgStore::listen`]) because PostgreSQL serialises commits
//! that notify (measured: it halved 1-event append throughput).
//!
//! ## Immutability and least privilege
//!
//! A trigger rejects `UPDATE`, `DELETE` and `TRUNCATE` of `es_events` with "stored events are
//! immutable", and another one checks every `INSERT` statement, by any role including the
//! owner, once, after its rows are in: it rejects the whole statement (a check violation, "es:
//! ...") if a row's `tx_id` or `recorded_at` is not the writing transaction's id and `now()`,
//! which their defaults give, or if a stream's new versions do not follow on from its last one
//! without a gap ("es: version ... would leave a gap"). A taken version fails earlier, as a
//! unique violation of `es_events_stream_version`, so appends that lose a race retry as before.
//! An event forged with a small `tx_id` would sit behind every reader's checkpoint, and one with
//! a gap version would make its aggregate load at that version.
//!
//! An application role needs no more than [`PgStore::grant_application_role`] gives it: `USAGE`
//! on the schema, `SELECT` and column-level `INSERT` on `es_events` (not on `tx_id`,
//! `recorded_at` or `global_position`, so not even `OVERRIDING SYSTEM VALUE` gets through), and
//! read-write access to snapshots, checkpoints and dead letters. The owner migrates and grants:
//!
//! ```no_run
//! # async fn run(owner_url: &str, app_url: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let owner = es_postgres::PgStore::builder().schema("billing").connect(owner_url).await?;
//! owner.grant_application_role("app").await?;
//! // The application connects as `app`, without migrating:
//! let store = es_postgres::PgStore::builder().schema("billing").migrate(false).connect(app_url).await?;
//! # Ok(()) }
//! ```
//!
//! The owner (and a superuser) can still disable the triggers or rewrite the table: keep it for
//! migrations, and run the application as the granted role.
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

mod classify;
mod error;
mod grants;
mod keys;
mod listen;
mod locks;
mod projection;
mod row;
mod schema;
mod sql;
mod store;

pub use error::{ConnectCause, ConnectError};
pub use listen::AppendNotifications;
pub use schema::{InvalidSchemaName, MAX_SCHEMA_NAME_LEN, SchemaName};
pub use store::{MIGRATIONS_TABLE, PgStore, PgStoreBuilder, PgTx};
