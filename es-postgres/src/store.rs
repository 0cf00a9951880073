//! [`PgStore`]: events, snapshots and checkpoints in one PostgreSQL schema.

use crate::classify::store_error;
use crate::error::ConnectError;
use crate::locks;
use crate::row::TxId;
use crate::row::{decode, decode_replayed};
use crate::schema::SchemaName;
use crate::sql::{Statements, sql};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use es_core::adapter::{append_with, from_db_int, tags_to_json, to_db_int};
use es_core::dcb::{AppendCondition, StreamAppend, check_appends, repeated_appends};
use es_core::tombstone;
use es_core::{
    AppendResult, AppendedEvent, Checkpoint, CheckpointStore, CorruptEvent, EventId, EventStore,
    EventStream, ExpectedVersion, NewEvent, Position, ReadAll, ReplayStream, Snapshot,
    SnapshotStore, StoreError, StreamId, Version, limits,
};
use futures::{StreamExt, TryStreamExt};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, PgConnection, Row};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tracing::Instrument;

/// A transaction on the store's database, for read models that commit their writes and their
/// checkpoint together (see [`PgStore::save_checkpoint_in`]).
pub type PgTx<'c> = sqlx::Transaction<'c, sqlx::Postgres>;

/// The table (in the store's schema) in which es-postgres records its own migrations, apart from an
/// application's `_sqlx_migrations`.
pub const MIGRATIONS_TABLE: &str = "_es_migrations";

/// How often an append retries by itself when [`ExpectedVersion::Any`] loses a race for a version.
const ANY_VERSION_ATTEMPTS: usize = 100;

/// An event store in a PostgreSQL schema.
///
/// Cheap to clone (the pool and state are shared). See the [crate docs](crate) for the design of
/// the global order, its guarantees and its cost.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    shared: Arc<Shared>,
}

struct Shared {
    schema: SchemaName,
    sql: Statements,
    notify: bool,
    horizon_wait: Duration,
    signal: watch::Sender<u64>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("schema", &self.shared.schema.as_str())
            .field("notify", &self.shared.notify)
            .finish_non_exhaustive()
    }
}

/// Configures a [`PgStore`]: schema, notifications, migration on connect, pool size.
///
/// ```no_run
/// # async fn run() -> Result<(), es_postgres::ConnectError> {
/// let store = es_postgres::PgStore::builder()
///     .schema("billing")
///     .max_connections(20)
///     .connect("postgres://app@db/app")
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct PgStoreBuilder {
    schema: String,
    notify: bool,
    migrate: bool,
    max_connections: u32,
    horizon_wait: Duration,
    connect_timeout: Duration,
    acquire_timeout: Duration,
}

impl Default for PgStoreBuilder {
    fn default() -> Self {
        Self {
            schema: "public".to_owned(),
            notify: false,
            migrate: true,
            max_connections: 10,
            horizon_wait: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl PgStoreBuilder {
    /// The schema holding the store's tables (default `public`). Validated by [`SchemaName::new`]
    /// and always quoted in SQL. Created by the migration if it does not exist.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// Whether every append also sends a `NOTIFY` (default `false`), so other processes can wake
    /// up with [`PgStore::listen`] instead of polling. PostgreSQL serialises commits that notify:
    /// measured on a 2-core machine, it halved the throughput of 1-event appends. Leave it off for
    /// write-heavy stores.
    pub fn notify(mut self, notify: bool) -> Self {
        self.notify = notify;
        self
    }

    /// Whether connecting runs [`PgStore::migrate`] (default `true`). Turn it off for a
    /// least-privilege role that may only `INSERT` and `SELECT`, and migrate with an owner role.
    pub fn migrate(mut self, migrate: bool) -> Self {
        self.migrate = migrate;
        self
    }

    /// The size of the connection pool that [`connect`](Self::connect) opens (default 10).
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = max;
        self
    }

    /// How long `read_all` waits at most for transactions that are older than the newest stored
    /// event to finish (default 2 s), so a reader sees events committed just before it asked.
    /// After that it returns what is safe to return; it never skips an event either way.
    pub fn horizon_wait(mut self, wait: Duration) -> Self {
        self.horizon_wait = wait;
        self
    }

    /// How long [`connect`](Self::connect) waits at most for the first connection to the server
    /// (default 5 s): TCP, TLS, authentication. A server that is down, unreachable or silent fails
    /// within this time with a [`ConnectError::Connect`] naming the cause. (sqlx ignores a
    /// `connect_timeout` in the URL.)
    ///
    /// ```
    /// let builder = es_postgres::PgStore::builder().connect_timeout(std::time::Duration::from_secs(2));
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long an operation of the store waits at most for a connection of the pool, including
    /// opening a new one, before it fails with a pool timeout, [`StoreError::Unavailable`]
    /// (default 5 s). Operations wait this long when every connection is busy, or when the server
    /// has become unreachable after connecting: raise it for pools that are often all busy.
    ///
    /// ```
    /// let builder = es_postgres::PgStore::builder().acquire_timeout(std::time::Duration::from_secs(10));
    /// ```
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// Connects a new pool to `url` and opens the store (migrating unless turned off).
    ///
    /// A first connection is made directly, within the [connect
    /// timeout](Self::connect_timeout), so a failure is reported with its cause and the server's
    /// `host:port` ([`ConnectError::Connect`]) rather than as a pool timeout.
    pub async fn connect(self, url: &str) -> Result<PgStore, ConnectError> {
        let schema = SchemaName::new(self.schema.clone())?;
        // The pool's sessions look up unqualified names in the store's schema first, so a read
        // model's own tables (`CREATE TABLE balances ...` on `store.pool()`) live beside the
        // store's; the store's own statements are always schema-qualified.
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| ConnectError::database(schema.as_str(), e))?
            .options([("search_path", format!("{},public", schema.quoted()))]);
        let server = server_of(&options);
        let secret = url_password(url);
        let probe = tokio::time::timeout(
            self.connect_timeout,
            <PgConnection as sqlx::Connection>::connect_with(&options),
        )
        .await
        .map_err(|_| {
            ConnectError::timed_out(server.clone(), schema.as_str(), self.connect_timeout)
        })?
        .map_err(|e| ConnectError::connect(server.clone(), schema.as_str(), e, secret))?;
        // No ping before every acquire: it would add a round trip to every statement. Lazy: the
        // first connection above already proved the server reachable, and it runs the migration,
        // so connecting never holds two connections at once.
        let pool = PgPoolOptions::new()
            .max_connections(self.max_connections)
            .acquire_timeout(self.acquire_timeout)
            .test_before_acquire(false)
            .connect_lazy_with(options);
        match self.open(pool.clone(), Some(probe)).await {
            Ok(store) => Ok(store),
            Err(e) => {
                pool.close().await;
                Err(e)
            }
        }
    }

    /// Opens the store on an existing pool (migrating unless turned off).
    pub async fn pool(self, pool: PgPool) -> Result<PgStore, ConnectError> {
        self.open(pool, None).await
    }

    /// Opens the store on `pool`, migrating on `conn` if given (it is closed in any case).
    async fn open(self, pool: PgPool, conn: Option<PgConnection>) -> Result<PgStore, ConnectError> {
        let schema = SchemaName::new(self.schema)?;
        let store = PgStore {
            pool,
            shared: Arc::new(Shared {
                sql: Statements::new(&schema),
                schema,
                notify: self.notify,
                horizon_wait: self.horizon_wait,
                signal: watch::channel(0).0,
            }),
        };
        match (self.migrate, conn) {
            (true, Some(conn)) => store.migrate_on(conn).await?,
            (true, None) => store.migrate().await?,
            (false, Some(conn)) => {
                if let Err(error) = sqlx::Connection::close(conn).await {
                    tracing::debug!(%error, "closing the first connection failed");
                }
            }
            (false, None) => {}
        }
        tracing::debug!(schema = %store.shared.schema, "opened PostgreSQL event store");
        Ok(store)
    }
}

/// The server of `options` as an error names it: `host:port`, or the Unix socket.
fn server_of(options: &PgConnectOptions) -> String {
    if let Some(socket) = options.get_socket() {
        return socket.display().to_string();
    }
    let host = options.get_host();
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{}", options.get_port())
    } else {
        format!("{host}:{}", options.get_port())
    }
}

/// The password in the user info of a connection URL, to keep it out of error messages.
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?', '#']).next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    userinfo.split_once(':').map(|(_, password)| password)
}

impl PgStore {
    /// Connects to `url` and opens the store in schema `public`, creating or migrating its tables.
    pub async fn connect(url: &str) -> Result<Self, ConnectError> {
        Self::builder().connect(url).await
    }

    /// A builder for a store in another schema, with notifications, or without migrating.
    pub fn builder() -> PgStoreBuilder {
        PgStoreBuilder::default()
    }

    /// The connection pool, for read models that live in the same database. A pool opened by
    /// [`PgStoreBuilder::connect`] has `search_path` set to the store's schema, then `public`:
    /// unqualified tables a read model creates and queries on it live in the store's schema. (A
    /// pool passed to [`PgStoreBuilder::pool`] keeps the settings it was made with.)
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The schema holding the store's tables.
    pub fn schema(&self) -> &SchemaName {
        &self.shared.schema
    }

    /// The `NOTIFY` channel appends signal when notifications are on.
    pub fn notify_channel(&self) -> String {
        self.shared.schema.channel()
    }

    /// Whether appends send a `NOTIFY`.
    pub fn notifies(&self) -> bool {
        self.shared.notify
    }

    /// Closes the pool (waits for connections to return).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Creates the schema if needed and applies the es migrations it lacks. Idempotent and safe to
    /// run from several processes at once (sqlx takes an advisory lock). The migrations run on a
    /// dedicated connection with `search_path` set to the schema, and are recorded in
    /// `<schema>._es_migrations`, never in an application's `_sqlx_migrations`.
    pub async fn migrate(&self) -> Result<(), ConnectError> {
        let conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| ConnectError::database(self.shared.schema.as_str(), e))?
            .detach();
        self.migrate_on(conn).await
    }

    /// [`migrate`](Self::migrate) on a connection of the store's database, which is then closed.
    async fn migrate_on(&self, mut conn: PgConnection) -> Result<(), ConnectError> {
        let schema = &self.shared.schema;
        let quoted = schema.quoted();
        let result = async {
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
                    .bind(schema.as_str())
                    .fetch_one(&mut conn)
                    .await
                    .map_err(|e| ConnectError::database(schema.as_str(), e))?;
            sqlx::query(AssertSqlSafe(format!("SET search_path TO {quoted}")))
                .execute(&mut conn)
                .await
                .map_err(|e| ConnectError::database(schema.as_str(), e))?;
            let mut migrator = sqlx::migrate!("./migrations");
            migrator.dangerous_set_table_name(format!("{quoted}.{MIGRATIONS_TABLE}"));
            if !exists {
                migrator.create_schema(quoted.clone());
            }
            // `run_direct` on the connection itself: `run(&mut conn)` goes through `Acquire`, whose
            // lifetime bound makes this future (and `connect`'s) not `Send`.
            migrator
                .run_direct(None, &mut conn, false)
                .await
                .map_err(|e| ConnectError::from_migrate(schema.as_str(), e))
        }
        .await;
        // The connection's search_path was changed: never hand it back to the pool.
        if let Err(error) = sqlx::Connection::close(conn).await {
            tracing::debug!(%error, "closing the migration connection failed");
        }
        result
    }

    /// Saves a checkpoint on the caller's connection or transaction, so a read model in this
    /// database commits its writes and its checkpoint together (exactly-once).
    pub async fn save_checkpoint_in(
        &self,
        conn: &mut PgConnection,
        name: &str,
        checkpoint: Checkpoint,
    ) -> Result<(), StoreError> {
        limits::check_checkpoint(name, checkpoint)?;
        sqlx::query(sql(&self.shared.sql.save_checkpoint))
            .bind(name)
            .bind(to_db_int(checkpoint.commit, "checkpoint commit key")?)
            .bind(to_db_int(checkpoint.position.0, "checkpoint position")?)
            .execute(conn)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Loads a checkpoint on the caller's connection or transaction.
    pub async fn load_checkpoint_in(
        &self,
        conn: &mut PgConnection,
        name: &str,
    ) -> Result<Option<Checkpoint>, StoreError> {
        limits::check_name(name)?;
        let row = sqlx::query(sql(&self.shared.sql.load_checkpoint))
            .bind(name)
            .fetch_optional(conn)
            .await
            .map_err(store_error)?;
        let Some(row) = row else { return Ok(None) };
        let commit: i64 = row.try_get(0).map_err(store_error)?;
        let position: i64 = row.try_get(1).map_err(store_error)?;
        Ok(Some(Checkpoint::new(
            from_db_int(commit, "checkpoint commit key")?,
            Position(from_db_int(position, "checkpoint position")?),
        )))
    }

    /// The stored events with any of `ids`: for idempotent batch retries, and
    /// [`EventStore::find_events`].
    async fn stored(
        &self,
        ids: &[uuid::Uuid],
    ) -> Result<Vec<(StreamId, AppendedEvent)>, StoreError> {
        let rows = sqlx::query(sql(&self.shared.sql.stored_ids))
            .bind(ids)
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let stream: String = row.try_get(0).map_err(store_error)?;
                let id: uuid::Uuid = row.try_get(1).map_err(store_error)?;
                let version: i64 = row.try_get(2).map_err(store_error)?;
                let position: i64 = row.try_get(3).map_err(store_error)?;
                let stream_id = StreamId::new(stream.as_str()).map_err(|e| {
                    let position = u64::try_from(position).unwrap_or(0);
                    CorruptEvent::new(
                        &stream,
                        version,
                        position,
                        0,
                        "",
                        Some(EventId(id)),
                        e.to_string(),
                    )
                })?;
                Ok((
                    stream_id,
                    AppendedEvent {
                        event_id: EventId(id),
                        version: Version(from_db_int(version, "version")?),
                        position: Position(from_db_int(position, "position")?),
                    },
                ))
            })
            .collect()
    }

    /// [`EventStore::append_streams`] in one transaction: lock, check, insert, commit.
    async fn append_streams_once(
        &self,
        appends: &[StreamAppend],
        condition: Option<&AppendCondition>,
    ) -> Result<Vec<AppendResult>, StoreError> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        // The locks first, while the transaction has no id yet (see `locks`).
        let schema = self.shared.schema.as_str();
        let events = appends.iter().flat_map(|a| &a.events);
        let (keys, exclusive) = match condition {
            Some(condition) => {
                locks::condition_keys(schema, events, &condition.fail_if_events_match)
            }
            None => {
                let keys = locks::append_keys(schema, events);
                let shared = vec![false; keys.len()];
                (keys, shared)
            }
        };
        sqlx::query(
            "SELECT count(CASE WHEN x THEN pg_advisory_xact_lock(k) ELSE pg_advisory_xact_lock_shared(k) END)
             FROM unnest($1::bigint[], $2::bool[]) AS l(k, x)",
        )
        .bind(&keys[..])
        .bind(&exclusive[..])
        .execute(&mut *tx)
        .await
        .map_err(store_error)?;
        // A fresh snapshot (READ COMMITTED), taken after the locks: every event of a writer that
        // held one of them has committed and is visible.
        if let Some(condition) = condition {
            let after = condition.after.unwrap_or(Checkpoint::START);
            let mut check = sqlx::query(AssertSqlSafe(
                self.shared.sql.condition(&condition.fail_if_events_match),
            ))
            .bind(after.commit.to_string())
            .bind(to_db_int(after.position.0, "condition position")?);
            for item in &condition.fail_if_events_match.items {
                if !item.types.is_empty() {
                    check = check.bind(item.types.clone());
                }
                if !item.tags.is_empty() {
                    check = check.bind(item.tags.clone());
                }
            }
            if let Some(row) = check.fetch_optional(&mut *tx).await.map_err(store_error)? {
                let stream: String = row.try_get(0).map_err(store_error)?;
                let version: i64 = row.try_get(1).map_err(store_error)?;
                let TxId(commit) = row.try_get(2).map_err(store_error)?;
                let position: i64 = row.try_get(3).map_err(store_error)?;
                let event_type: String = row.try_get(4).map_err(store_error)?;
                let position = from_db_int(position, "position")?;
                let stream = StreamId::new(stream.as_str()).map_err(|e| {
                    StoreError::from(CorruptEvent::new(
                        &stream,
                        version,
                        position,
                        commit,
                        &event_type,
                        None,
                        e.to_string(),
                    ))
                })?;
                return Err(StoreError::ConditionFailed {
                    stream,
                    version: Version(from_db_int(version, "version")?),
                    checkpoint: Checkpoint::new(commit, Position(position)),
                    event_type,
                });
            }
        }
        // Streams in one order for every writer: two transactions inserting into the same streams
        // in opposite orders would each wait for the other's uncommitted version.
        let mut order: Vec<usize> = (0..appends.len()).collect();
        order.sort_by(|&a, &b| appends[a].stream.as_str().cmp(appends[b].stream.as_str()));
        let mut results = vec![AppendResult::default(); appends.len()];
        for i in order {
            results[i] = self.insert_in(&mut tx, &appends[i]).await?;
        }
        tx.commit().await.map_err(store_error)?;
        Ok(results)
    }

    /// One stream's batch inside a transaction (its tags are locked already): the append
    /// statement, whose guard makes a wrong expected version insert nothing.
    async fn insert_in(
        &self,
        tx: &mut PgConnection,
        append: &StreamAppend,
    ) -> Result<AppendResult, StoreError> {
        let events = &append.events;
        if events.is_empty() {
            return Ok(AppendResult::default());
        }
        let columns = BatchColumns::new(events)?;
        let required = append
            .expected
            .required()
            .map(|v| to_db_int(v.0, "expected version"))
            .transpose()?;
        let channel = self.shared.notify.then(|| self.notify_channel());
        let query = self.append_query(&append.stream, required, &columns, &[], channel.as_deref());
        let rows = query.fetch_all(&mut *tx).await.map_err(store_error)?;
        if rows.is_empty() {
            let actual = self.version_in(tx, &append.stream).await?;
            return Err(StoreError::Conflict {
                stream: append.stream.clone(),
                expected: append.expected,
                actual,
            });
        }
        appended(&rows, events)
    }

    /// The append statement for `stream` with its bind parameters (`keys`: the shared lock keys;
    /// empty inside a transaction that holds them already).
    fn append_query<'q>(
        &'q self,
        stream: &'q StreamId,
        required: Option<i64>,
        columns: &'q BatchColumns<'q>,
        keys: &'q [i64],
        channel: Option<&'q str>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        let text = if channel.is_some() {
            &self.shared.sql.append_notify
        } else {
            &self.shared.sql.append
        };
        let query = sqlx::query(sql(text))
            .bind(stream.as_str())
            .bind(required)
            .bind(&columns.ids[..])
            .bind(&columns.types[..])
            .bind(&columns.schema_versions[..])
            .bind(&columns.payloads[..])
            .bind(&columns.metadata[..])
            .bind(&columns.tags[..])
            .bind(keys);
        match channel {
            Some(channel) => query.bind(channel),
            None => query,
        }
    }

    /// The stream's version, or [`StoreError::StreamDeleted`] if its last event is its tombstone:
    /// why an append statement inserted nothing.
    async fn version_in<'c, C>(&self, conn: C, stream: &StreamId) -> Result<Version, StoreError>
    where
        C: sqlx::PgExecutor<'c>,
    {
        let last: Option<(i64, bool)> = sqlx::query_as(sql(&self.shared.sql.stream_state))
            .bind(stream.as_str())
            .fetch_optional(conn)
            .await
            .map_err(store_error)?;
        let (version, deleted) = last.unwrap_or((0, false));
        let version = Version(from_db_int(version, "version")?);
        if deleted {
            return Err(tombstone::deleted(stream, version));
        }
        Ok(version)
    }

    async fn append_batch(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<AppendResult, StoreError> {
        let ids: Vec<uuid::Uuid> = events.iter().map(|e| e.event_id.0).collect();
        let columns = BatchColumns::new(events)?;
        let required = expected
            .required()
            .map(|v| to_db_int(v.0, "expected version"))
            .transpose()?;
        let keys = locks::append_keys(self.shared.schema.as_str(), events.iter());
        let channel = self.shared.notify.then(|| self.notify_channel());

        for _attempt in 0..ANY_VERSION_ATTEMPTS {
            let query = self.append_query(stream, required, &columns, &keys, channel.as_deref());
            let lost_race = match query.fetch_all(&self.pool).await {
                Ok(rows) if rows.len() == events.len() => return appended(&rows, events),
                Ok(rows) if rows.is_empty() => false,
                Ok(rows) => {
                    return Err(StoreError::database(format!(
                        "appending {} events stored {} rows",
                        events.len(),
                        rows.len()
                    )));
                }
                Err(sqlx::Error::Database(db)) if db.is_unique_violation() => true,
                Err(e) => return Err(store_error(e)),
            };
            // The guard found another version, or a concurrent writer took a version or one of the
            // ids first. A retry of a stored batch is reported as such, not as a conflict.
            let stored = self.stored(&ids).await?;
            if let Some(repeat) = AppendResult::for_repeated_batch(stream, events, &stored)? {
                return Ok(repeat);
            }
            if lost_race && required.is_none() {
                tokio::task::yield_now().await;
                continue;
            }
            let actual = self.version_in(&self.pool, stream).await?;
            if !lost_race && expected.matches(actual) {
                // The stream was at another version when the guard ran; it is at the expected one
                // again only if that read raced an append of ours. Try again.
                continue;
            }
            return Err(StoreError::Conflict {
                stream: stream.clone(),
                expected,
                actual,
            });
        }
        Err(StoreError::database(format!(
            "gave up appending to `{stream}` after {ANY_VERSION_ATTEMPTS} lost races"
        )))
    }

    /// Waits (bounded by the builder's `horizon_wait`) until every transaction older than the newest
    /// stored event has finished, so that `read_all` returns events committed before it was called.
    async fn wait_for_horizon(&self, after_commit: u64) -> Result<(), StoreError> {
        let (horizon, newest): (Option<i64>, Option<i64>) =
            sqlx::query_as(sql(&self.shared.sql.newest_commit))
                .fetch_one(&self.pool)
                .await
                .map_err(store_error)?;
        let (Some(horizon), Some(newest)) = (horizon, newest) else {
            return Ok(());
        };
        if newest < horizon || u64::try_from(newest).is_ok_and(|n| n <= after_commit) {
            return Ok(());
        }
        let deadline = Instant::now() + self.shared.horizon_wait;
        let mut pause = Duration::from_micros(500);
        loop {
            tokio::time::sleep(pause).await;
            let horizon: Option<i64> = sqlx::query_scalar(sql(&self.shared.sql.horizon))
                .fetch_one(&self.pool)
                .await
                .map_err(store_error)?;
            if horizon.is_none_or(|h| h > newest) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                tracing::debug!(
                    horizon,
                    newest,
                    "an older transaction is still running; read_all returns what is safe"
                );
                return Ok(());
            }
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }
}

/// A batch as the columns of the append statement's `unnest`.
struct BatchColumns<'e> {
    ids: Vec<uuid::Uuid>,
    types: Vec<&'e str>,
    schema_versions: Vec<i32>,
    payloads: Vec<String>,
    metadata: Vec<String>,
    tags: Vec<String>,
}

impl<'e> BatchColumns<'e> {
    fn new(events: &'e [NewEvent]) -> Result<Self, StoreError> {
        let json = |value: Result<String, serde_json::Error>| value.map_err(StoreError::database);
        Ok(Self {
            ids: events.iter().map(|e| e.event_id.0).collect(),
            types: events.iter().map(|e| e.event_type.as_str()).collect(),
            // Within `integer` (checked by `limits::check_append`).
            schema_versions: events
                .iter()
                .map(|e| i32::try_from(e.schema_version).map_err(StoreError::database))
                .collect::<Result<_, _>>()?,
            payloads: events
                .iter()
                .map(|e| json(serde_json::to_string(&e.payload)))
                .collect::<Result<_, _>>()?,
            metadata: events
                .iter()
                .map(|e| json(serde_json::to_string(&e.metadata)))
                .collect::<Result<_, _>>()?,
            tags: events
                .iter()
                .map(|e| tags_to_json(&e.tags))
                .collect::<Result<_, _>>()?,
        })
    }
}

/// The result of an append statement that stored `events`: its rows (version, position) in
/// version order, paired with the events in batch order.
fn appended(
    rows: &[sqlx::postgres::PgRow],
    events: &[NewEvent],
) -> Result<AppendResult, StoreError> {
    let mut stored = rows
        .iter()
        .map(|row| -> Result<(i64, i64), StoreError> {
            Ok((
                row.try_get(0).map_err(store_error)?,
                row.try_get(1).map_err(store_error)?,
            ))
        })
        .collect::<Result<Vec<_>, _>>()?;
    stored.sort_unstable();
    let events = stored
        .into_iter()
        .zip(events)
        .map(|((version, position), event)| {
            Ok(AppendedEvent {
                event_id: event.event_id,
                version: Version(from_db_int(version, "version")?),
                position: Position(from_db_int(position, "position")?),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(AppendResult {
        events,
        already_appended: false,
    })
}

/// Whether an error (the source of a [`StoreError::Rejected`]) is a unique violation.
fn is_unique_violation(error: &(dyn std::error::Error + Send + Sync + 'static)) -> bool {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(sqlx::Error::Database(db)) = e.downcast_ref::<sqlx::Error>() {
            return db.is_unique_violation();
        }
        current = e.source();
    }
    false
}

/// A time clamped into what `timestamptz` holds (4713 BC to 294276 AD): every recorded time is
/// inside, so a bound outside it selects the same events as the nearest bound inside.
fn timestamptz_range(at: DateTime<Utc>) -> DateTime<Utc> {
    let bound = |year| {
        NaiveDate::from_ymd_opt(year, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc())
    };
    match (bound(-4000), bound(200_000)) {
        (Some(min), Some(max)) => at.clamp(min, max),
        _ => at,
    }
}

#[async_trait]
impl EventStore for PgStore {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        append_with(
            stream,
            expected,
            events,
            &self.shared.signal,
            |events| async move { self.append_batch(stream, expected, &events).await },
        )
        .await
    }

    async fn append_streams(
        &self,
        appends: Vec<StreamAppend>,
        condition: Option<AppendCondition>,
    ) -> Result<Vec<AppendResult>, StoreError> {
        check_appends(&appends, condition.as_ref())?;
        let span = tracing::debug_span!("es.append_streams", streams = appends.len());
        let ids: Vec<uuid::Uuid> = appends
            .iter()
            .flat_map(|a| &a.events)
            .map(|e| e.event_id.0)
            .collect();
        let results = async {
            for _attempt in 0..ANY_VERSION_ATTEMPTS {
                // Stored before? Found out only when the append fails: a repeated batch fails its
                // condition (it matches itself) or its ids' unique index.
                let repeat = || async {
                    let stored = self.stored(&ids).await?;
                    repeated_appends(&appends, &stored)
                };
                match self.append_streams_once(&appends, condition.as_ref()).await {
                    Err(StoreError::Rejected(e)) if is_unique_violation(&*e) => {
                        if let Some(repeat) = repeat().await? {
                            return Ok(repeat);
                        }
                        // A version taken by a concurrent writer: a conflict, or a race lost with
                        // `Any` (try again).
                        for append in &appends {
                            let actual = self.stream_version(&append.stream).await?;
                            if append.expected.required().is_some()
                                && !append.expected.matches(actual)
                            {
                                return Err(StoreError::Conflict {
                                    stream: append.stream.clone(),
                                    expected: append.expected,
                                    actual,
                                });
                            }
                        }
                        tokio::task::yield_now().await;
                    }
                    Err(
                        failed @ (StoreError::ConditionFailed { .. } | StoreError::Conflict { .. }),
                    ) => {
                        return match repeat().await? {
                            Some(repeat) => Ok(repeat),
                            None => Err(failed),
                        };
                    }
                    other => return other,
                }
            }
            Err(StoreError::database(format!(
                "gave up a multi-stream append after {ANY_VERSION_ATTEMPTS} lost races"
            )))
        }
        .instrument(span)
        .await?;
        if results
            .iter()
            .any(|r| !r.events.is_empty() && !r.already_appended)
        {
            self.shared.signal.send_modify(|n| *n = n.wrapping_add(1));
        }
        Ok(results)
    }

    fn read_stream<'a>(&'a self, stream: &'a StreamId, from: Version) -> EventStream<'a> {
        let from = i64::try_from(from.0).unwrap_or(i64::MAX);
        sqlx::query(sql(&self.shared.sql.read_stream))
            .bind(stream.as_str())
            .bind(from)
            .fetch(&self.pool)
            .map(|row| row.map_err(store_error).and_then(|row| decode(&row)))
            .boxed()
    }

    fn replay_stream<'a>(&'a self, stream: &'a StreamId, from: Version) -> ReplayStream<'a> {
        let from = i64::try_from(from.0).unwrap_or(i64::MAX);
        sqlx::query(sql(&self.shared.sql.replay_stream))
            .bind(stream.as_str())
            .bind(from)
            .fetch(&self.pool)
            .map(move |row| {
                row.map_err(store_error)
                    .and_then(|row| decode_replayed(stream, &row))
            })
            .boxed()
    }

    fn read_all<'a>(&'a self, query: ReadAll) -> EventStream<'a> {
        let text = self.shared.sql.read_all(&query);
        let page = async move {
            limits::check_read_all(&query)?;
            // Nothing is stored past i64::MAX: a checkpoint beyond it reads nothing, as elsewhere.
            let position = i64::try_from(query.after.position.0).unwrap_or(i64::MAX);
            self.wait_for_horizon(query.after.commit).await?;
            let mut q = sqlx::query(AssertSqlSafe(text))
                .bind(query.after.commit.to_string())
                .bind(position);
            if let Some(types) = query.event_types {
                q = q.bind(types);
            }
            if let Some(from) = query.recorded_from {
                q = q.bind(timestamptz_range(from));
            }
            if let Some(until) = query.recorded_until {
                q = q.bind(timestamptz_range(until));
            }
            for item in query.query.iter().flat_map(|m| &m.items) {
                if !item.types.is_empty() {
                    q = q.bind(item.types.clone());
                }
                if !item.tags.is_empty() {
                    q = q.bind(item.tags.clone());
                }
            }
            if let Some(id) = query.correlation_id {
                q = q.bind(id.to_string());
            }
            if let Some(limit) = query.limit {
                q = q.bind(i64::try_from(limit).unwrap_or(i64::MAX));
            }
            Ok::<_, StoreError>(
                q.fetch(&self.pool)
                    .map(|row| row.map_err(store_error).and_then(|row| decode(&row))),
            )
        };
        futures::stream::once(page).try_flatten().boxed()
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<Version, StoreError> {
        let v: i64 = sqlx::query_scalar(sql(&self.shared.sql.stream_version))
            .bind(stream.as_str())
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(Version(from_db_int(v, "version")?))
    }

    async fn list_streams(
        &self,
        prefix: &str,
        after: Option<&StreamId>,
        limit: usize,
    ) -> Result<Vec<(StreamId, Version)>, StoreError> {
        let rows = sqlx::query(AssertSqlSafe(self.shared.sql.list_streams()))
            .bind(prefix)
            .bind(es_core::adapter::prefix_end(prefix))
            .bind(after.map(StreamId::as_str))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await
            .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get(0).map_err(store_error)?;
                let version: i64 = row.try_get(1).map_err(store_error)?;
                Ok((
                    StreamId::new(id).map_err(StoreError::database)?,
                    Version(from_db_int(version, "version")?),
                ))
            })
            .collect()
    }

    async fn head_position(&self) -> Result<Position, StoreError> {
        let p: i64 = sqlx::query_scalar(sql(&self.shared.sql.head_position))
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(Position(from_db_int(p, "position")?))
    }

    async fn head_checkpoint(&self) -> Result<Checkpoint, StoreError> {
        // Every transaction below the horizon has ended. A reader after (horizon - 1, max) gets
        // the events of every transaction still running or not begun yet, and possibly a few that
        // committed just now: never fewer. Waiting first for the transactions older than the
        // newest stored event (as read_all does) keeps events committed before this call out,
        // even while an unrelated transaction elsewhere in the cluster holds the horizon back.
        self.wait_for_horizon(0).await?;
        // One statement, one snapshot: every transaction below the horizon has ended and its
        // events are visible, so none of them lies past (horizon - 1, max position).
        let (horizon, head): (Option<i64>, i64) =
            sqlx::query_as(sql(&self.shared.sql.horizon_and_head))
                .fetch_one(&self.pool)
                .await
                .map_err(store_error)?;
        let horizon = match horizon {
            Some(h) => from_db_int(h, "horizon")?,
            None => 0,
        };
        Ok(Checkpoint::new(
            horizon.saturating_sub(1),
            Position(from_db_int(head, "position")?),
        ))
    }

    fn append_signal(&self) -> Option<watch::Receiver<u64>> {
        Some(self.shared.signal.subscribe())
    }

    async fn find_events(
        &self,
        ids: &[EventId],
    ) -> Result<Vec<(StreamId, AppendedEvent)>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<uuid::Uuid> = ids.iter().map(|id| id.0).collect();
        self.stored(&ids).await
    }
}

#[async_trait]
impl SnapshotStore for PgStore {
    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        let row = sqlx::query(sql(&self.shared.sql.load_snapshot))
            .bind(stream.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        let Some(row) = row else { return Ok(None) };
        let version: i64 = row.try_get(0).map_err(store_error)?;
        let schema_version: i32 = row.try_get(1).map_err(store_error)?;
        let Ok(Json(state)) = row.try_get::<Json<Value>, _>(2) else {
            // A snapshot is a cache: an unreadable one is ignored and the stream replayed.
            tracing::warn!(%stream, "ignoring a snapshot whose state does not decode");
            return Ok(None);
        };
        Ok(Some(Snapshot {
            stream_id: stream.clone(),
            version: Version(from_db_int(version, "snapshot version")?),
            schema_version: u32::try_from(schema_version).unwrap_or(0),
            state,
        }))
    }

    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        limits::check_snapshot(snapshot)?;
        let schema_version =
            i32::try_from(snapshot.schema_version).map_err(StoreError::database)?;
        sqlx::query(sql(&self.shared.sql.save_snapshot))
            .bind(snapshot.stream_id.as_str())
            .bind(to_db_int(snapshot.version.0, "snapshot version")?)
            .bind(schema_version)
            .bind(Json(&snapshot.state))
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn delete_snapshot(&self, stream: &StreamId) -> Result<(), StoreError> {
        let text = format!(
            "DELETE FROM {}.es_snapshots WHERE stream_id = $1",
            self.shared.schema.quoted()
        );
        sqlx::query(AssertSqlSafe(text))
            .bind(stream.as_str())
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

#[async_trait]
impl CheckpointStore for PgStore {
    async fn load_checkpoint(&self, name: &str) -> Result<Option<Checkpoint>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        self.load_checkpoint_in(&mut conn, name).await
    }

    async fn save_checkpoint(&self, name: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        self.save_checkpoint_in(&mut conn, name, checkpoint).await
    }

    async fn delete_checkpoint(&self, name: &str) -> Result<(), StoreError> {
        limits::check_name(name)?;
        sqlx::query(sql(&self.shared.sql.delete_checkpoint))
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{PgConnectOptions, server_of, url_password};
    use std::str::FromStr;

    #[test]
    fn the_password_of_a_url_is_found() {
        assert_eq!(url_password("postgres://u:p%40ss@h:1/db"), Some("p%40ss"));
        assert_eq!(url_password("postgres://u:a:b@h/db?x=@"), Some("a:b"));
        assert_eq!(url_password("postgres://u@h/db"), None);
        assert_eq!(url_password("postgres://h/db?user=u@x"), None);
        assert_eq!(url_password("not a url"), None);
    }

    #[test]
    fn the_server_is_host_and_port() {
        let options = PgConnectOptions::from_str("postgres://u:secret@db.example:6543/app")
            .expect("a valid URL");
        assert_eq!(server_of(&options), "db.example:6543");
        let options = PgConnectOptions::from_str("postgres://u@[::1]/app").expect("a valid URL");
        assert_eq!(server_of(&options), "[::1]:5432");
    }
}
