//! [`SqliteStore`]: events, snapshots and checkpoints in one SQLite file.

use crate::classify::store_error;
use crate::error::OpenError;
use crate::query::query_clause;
use crate::row::{decode, decode_replayed, event_columns, event_id, micros, replay_columns};
use async_trait::async_trait;
use chrono::Utc;
use es_core::adapter::{append_with, from_db_int, tags_to_json, to_db_int};
use es_core::dcb::{AppendCondition, StreamAppend, check_appends, repeated_appends};
use es_core::tombstone;
use es_core::{
    AppendResult, AppendedEvent, Checkpoint, CheckpointStore, CorruptEvent, EventId, EventStore,
    EventStream, ExpectedVersion, NewEvent, Position, ReadAll, ReplayStream, Snapshot,
    SnapshotStore, StoreError, StreamId, Version, limits,
};
use futures::StreamExt;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{AssertSqlSafe, Row, SqliteConnection};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, watch};
use tracing::Instrument;

/// The table in which es-sqlite records its own schema migrations, apart from an application's
/// `_sqlx_migrations`, so read models can live in the same file with their own migrations.
pub const MIGRATIONS_TABLE: &str = "_es_migrations";

/// An event store in an SQLite file: the embedded, zero-set-up default.
///
/// The file is created and migrated on open, in WAL mode with `synchronous = FULL` (a committed
/// append survives a power cut). SQLite has one writer at a time, so positions are assigned in
/// commit order and the global log is in plain position order (`Checkpoint::commit` is 0).
/// Appends from one process are queued in-process; other processes wait on SQLite's busy timeout.
///
/// ```
/// use es_core::{EventStore, ExpectedVersion, NewEvent, StreamId, Version};
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("es-doc-{}", uuid::Uuid::now_v7()));
/// let store = es_sqlite::SqliteStore::open(dir.join("app.db")).await.unwrap();
/// let stream = StreamId::new("todo-1").unwrap();
/// store.append(&stream, ExpectedVersion::NoStream, vec![NewEvent::raw("todo.added", 1, serde_json::json!({}))]).await.unwrap();
/// assert_eq!(store.stream_version(&stream).await.unwrap(), Version(1));
/// # store.close().await; std::fs::remove_dir_all(dir).unwrap();
/// # });
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    shared: Arc<Shared>,
}

struct Shared {
    write: Mutex<()>,
    signal: watch::Sender<u64>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed, with its parent directory) and migrates the store at `path`.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| OpenError::Database {
                path: path.clone(),
                source: sqlx::Error::Io(e),
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        Self::open_with(options).await
    }

    /// Opens and migrates a store with your own connection options (journal mode, synchronous,
    /// busy timeout, ...).
    pub async fn open_with(options: SqliteConnectOptions) -> Result<Self, OpenError> {
        let path = options.get_filename().to_path_buf();
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .after_release(|conn, _| Box::pin(discard_if_in_transaction(conn)))
            .connect_with(options)
            .await
            .map_err(|e| OpenError::from_sqlx(path.clone(), e))?;
        Self::from_pool(pool, path).await
    }

    async fn from_pool(pool: SqlitePool, path: PathBuf) -> Result<Self, OpenError> {
        let mut migrator = sqlx::migrate!("./migrations");
        migrator.dangerous_set_table_name(MIGRATIONS_TABLE);
        if let Err(error) = migrator.run(&pool).await {
            pool.close().await;
            return Err(OpenError::from_migrate(path, error));
        }
        tracing::debug!(path = %path.display(), "opened SQLite event store");
        Ok(Self {
            pool,
            shared: Arc::new(Shared {
                write: Mutex::new(()),
                signal: watch::channel(0).0,
            }),
        })
    }

    /// The connection pool, for read models that live in the same file.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// Closes the pool (waits for connections to return).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Saves a checkpoint on the caller's connection or transaction, so a read model in this file
    /// can commit its writes and its checkpoint together (exactly-once).
    pub async fn save_checkpoint_in(
        conn: &mut SqliteConnection,
        name: &str,
        checkpoint: Checkpoint,
    ) -> Result<(), StoreError> {
        limits::check_checkpoint(name, checkpoint)?;
        sqlx::query(
            "INSERT INTO es_checkpoints (name, commit_key, position, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (name) DO UPDATE SET commit_key = excluded.commit_key,
                 position = excluded.position, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(to_db_int(checkpoint.commit, "checkpoint commit key")?)
        .bind(to_db_int(checkpoint.position.0, "checkpoint position")?)
        .bind(micros(Utc::now()))
        .execute(conn)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    /// Loads a checkpoint on the caller's connection or transaction.
    pub async fn load_checkpoint_in(
        conn: &mut SqliteConnection,
        name: &str,
    ) -> Result<Option<Checkpoint>, StoreError> {
        limits::check_name(name)?;
        let row = sqlx::query("SELECT commit_key, position FROM es_checkpoints WHERE name = ?1")
            .bind(name)
            .fetch_optional(conn)
            .await
            .map_err(store_error)?;
        row.map(|row| {
            let commit: i64 = row.try_get(0).map_err(store_error)?;
            let position: i64 = row.try_get(1).map_err(store_error)?;
            Ok(Checkpoint::new(
                from_db_int(commit, "checkpoint commit key")?,
                Position(from_db_int(position, "checkpoint position")?),
            ))
        })
        .transpose()
    }

    async fn append_locked(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: &[NewEvent],
    ) -> Result<AppendResult, StoreError> {
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)?;

        let stored = stored_with_ids(&mut *tx, events.iter().map(|e| &e.event_id)).await?;
        if let Some(repeat) = AppendResult::for_repeated_batch(stream, events, &stored)? {
            return Ok(repeat);
        }

        let actual = version_in(&mut tx, stream).await?;
        if !expected.matches(actual) {
            return Err(StoreError::Conflict {
                stream: stream.clone(),
                expected,
                actual,
            });
        }

        let appended = insert_batch(&mut tx, stream, actual, events, micros(Utc::now())).await?;
        tx.commit().await.map_err(store_error)?;
        Ok(AppendResult {
            events: appended,
            already_appended: false,
        })
    }
}

/// The current version of a stream, inside the write transaction, or
/// [`StoreError::StreamDeleted`] if its last event is its tombstone.
async fn version_in(tx: &mut SqliteConnection, stream: &StreamId) -> Result<Version, StoreError> {
    let last: Option<(i64, bool)> = sqlx::query_as(
        "SELECT version, event_type = ?2 FROM es_events WHERE stream_id = ?1
         ORDER BY version DESC LIMIT 1",
    )
    .bind(stream.as_str())
    .bind(tombstone::STREAM_DELETED)
    .fetch_optional(&mut *tx)
    .await
    .map_err(store_error)?;
    let (version, deleted) = last.unwrap_or((0, false));
    let version = Version(from_db_int(version, "version")?);
    if deleted {
        return Err(tombstone::deleted(stream, version));
    }
    Ok(version)
}

/// Inserts `events` after version `actual` of `stream` (the caller checked the version).
async fn insert_batch(
    tx: &mut SqliteConnection,
    stream: &StreamId,
    actual: Version,
    events: &[NewEvent],
    recorded_at: i64,
) -> Result<Vec<AppendedEvent>, StoreError> {
    let mut appended = Vec::with_capacity(events.len());
    for (i, event) in events.iter().enumerate() {
        let version = Version(actual.0 + 1 + i as u64);
        let payload = serde_json::to_string(&event.payload).map_err(StoreError::database)?;
        let metadata = serde_json::to_string(&event.metadata).map_err(StoreError::database)?;
        let position: i64 = sqlx::query_scalar(
            "INSERT INTO es_events
               (event_id, stream_id, version, event_type, schema_version, payload, metadata, recorded_at, tags)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING position",
        )
        .bind(event.event_id.0.to_string())
        .bind(stream.as_str())
        .bind(to_db_int(version.0, "version")?)
        .bind(&event.event_type)
        .bind(i64::from(event.schema_version))
        .bind(payload)
        .bind(metadata)
        .bind(recorded_at)
        .bind(tags_to_json(&event.tags)?)
        .fetch_one(&mut *tx)
        .await
        .map_err(store_error)?;
        appended.push(AppendedEvent {
            event_id: event.event_id,
            version,
            position: Position(from_db_int(position, "position")?),
        });
    }
    Ok(appended)
}

/// The first stored event that violates `condition`, inside the write transaction.
async fn condition_violation(
    tx: &mut SqliteConnection,
    condition: &AppendCondition,
) -> Result<Option<StoreError>, StoreError> {
    let clause = query_clause(&condition.fail_if_events_match, 2)?;
    let sql = format!(
        "SELECT e.stream_id, e.version, e.position, e.event_type FROM es_events e
         WHERE e.position > ?1 AND {} ORDER BY e.position LIMIT 1",
        clause.sql
    );
    let after = condition
        .after
        .map_or(Ok(0), |a| to_db_int(a.position.0, "condition position"))?;
    let mut query = sqlx::query(AssertSqlSafe(sql)).bind(after);
    for bind in clause.binds {
        query = query.bind(bind);
    }
    let Some(row) = query.fetch_optional(&mut *tx).await.map_err(store_error)? else {
        return Ok(None);
    };
    let stream: String = row.try_get(0).map_err(store_error)?;
    let version: i64 = row.try_get(1).map_err(store_error)?;
    let position: i64 = row.try_get(2).map_err(store_error)?;
    let position = from_db_int(position, "position")?;
    let event_type: String = row.try_get(3).map_err(store_error)?;
    let stream = StreamId::new(stream.as_str()).map_err(|e| {
        StoreError::from(CorruptEvent::new(
            &stream,
            version,
            position,
            0,
            &event_type,
            None,
            e.to_string(),
        ))
    })?;
    Ok(Some(StoreError::ConditionFailed {
        stream,
        version: Version(from_db_int(version, "version")?),
        checkpoint: Checkpoint::new(0, Position(position)),
        event_type,
    }))
}

/// Whether a connection handed back to the pool may be used again: not if sqlx still counts a
/// transaction on it. When a COMMIT or ROLLBACK fails (`database or disk is full`, an I/O error),
/// SQLite has rolled the transaction back, but sqlx-sqlite 0.9 does not lower its transaction
/// depth, and the connection would refuse every later `BEGIN` ("attempted to call begin_with at
/// non-zero transaction depth"). Returning `false` closes it; the pool opens a fresh one.
///
/// This covers appends, projection transactions and an application's own transactions on the
/// store's pool alike. It costs nothing on a connection outside a transaction.
async fn discard_if_in_transaction(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    use sqlx::Connection;
    if !conn.is_in_transaction() {
        return Ok(true);
    }
    // A dropped transaction queued a ROLLBACK on the connection; the ping runs after it, so the
    // depth is then up to date.
    conn.ping().await?;
    let healthy = !conn.is_in_transaction();
    if !healthy {
        tracing::warn!(
            "closing an SQLite connection whose COMMIT or ROLLBACK failed; the pool opens a new one"
        );
    }
    Ok(healthy)
}

/// The stored events that have one of `ids`, with their streams: what an append checks for a
/// repeated batch, and what [`EventStore::find_events`] answers.
async fn stored_with_ids<'e, 'i>(
    executor: impl sqlx::SqliteExecutor<'e>,
    ids: impl Iterator<Item = &'i EventId>,
) -> Result<Vec<(StreamId, AppendedEvent)>, StoreError> {
    let ids = serde_json::to_string(&ids.map(|id| id.0.to_string()).collect::<Vec<_>>())
        .map_err(StoreError::database)?;
    sqlx::query(
        "SELECT stream_id, event_id, version, position FROM es_events
         WHERE event_id IN (SELECT value FROM json_each(?1))",
    )
    .bind(ids)
    .fetch_all(executor)
    .await
    .map_err(store_error)?
    .iter()
    .map(|row| -> Result<(StreamId, AppendedEvent), StoreError> {
        let stream: String = row.try_get(0).map_err(store_error)?;
        let id: String = row.try_get(1).map_err(store_error)?;
        let version: i64 = row.try_get(2).map_err(store_error)?;
        let position: i64 = row.try_get(3).map_err(store_error)?;
        let corrupt = |message: String| -> StoreError {
            let position = u64::try_from(position).unwrap_or(0);
            CorruptEvent::new(&stream, version, position, 0, "", None, message).into()
        };
        let event_id = event_id(&id).map_err(corrupt)?;
        let stream_id = StreamId::new(stream.clone()).map_err(|e| corrupt(e.to_string()))?;
        Ok((
            stream_id,
            AppendedEvent {
                event_id,
                version: Version(from_db_int(version, "version")?),
                position: Position(from_db_int(position, "position")?),
            },
        ))
    })
    .collect::<Result<Vec<_>, _>>()
}

#[async_trait]
impl EventStore for SqliteStore {
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
            |events| async move {
                let _write = self.shared.write.lock().await;
                self.append_locked(stream, expected, &events).await
            },
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
        let results = async {
            let _write = self.shared.write.lock().await;
            let mut tx = self
                .pool
                .begin_with("BEGIN IMMEDIATE")
                .await
                .map_err(store_error)?;
            let ids = appends.iter().flat_map(|a| &a.events).map(|e| &e.event_id);
            let stored = stored_with_ids(&mut *tx, ids).await?;
            if let Some(repeat) = repeated_appends(&appends, &stored)? {
                return Ok(repeat);
            }
            if let Some(condition) = &condition
                && let Some(failed) = condition_violation(&mut tx, condition).await?
            {
                return Err(failed);
            }
            let mut actuals = Vec::with_capacity(appends.len());
            for append in &appends {
                let actual = version_in(&mut tx, &append.stream).await?;
                if !append.expected.matches(actual) {
                    return Err(StoreError::Conflict {
                        stream: append.stream.clone(),
                        expected: append.expected,
                        actual,
                    });
                }
                actuals.push(actual);
            }
            let recorded_at = micros(Utc::now());
            let mut results = Vec::with_capacity(appends.len());
            for (append, actual) in appends.iter().zip(actuals) {
                let events =
                    insert_batch(&mut tx, &append.stream, actual, &append.events, recorded_at)
                        .await?;
                results.push(AppendResult {
                    events,
                    already_appended: false,
                });
            }
            tx.commit().await.map_err(store_error)?;
            Ok::<_, StoreError>(results)
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
        sqlx::query(concat!(
            "SELECT ",
            event_columns!(),
            " FROM es_events WHERE stream_id = ?1 AND version >= ?2 ORDER BY version"
        ))
        .bind(stream.as_str())
        .bind(from)
        .fetch(&self.pool)
        .map(|row| row.map_err(store_error).and_then(|row| decode(&row)))
        .boxed()
    }

    fn replay_stream<'a>(&'a self, stream: &'a StreamId, from: Version) -> ReplayStream<'a> {
        let from = i64::try_from(from.0).unwrap_or(i64::MAX);
        sqlx::query(concat!(
            "SELECT ",
            replay_columns!(),
            " FROM es_events WHERE stream_id = ?1 AND version >= ?2 ORDER BY version"
        ))
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
        if let Err(error) = limits::check_read_all(&query) {
            return futures::stream::once(async { Err(error) }).boxed();
        }
        let types = match &query.event_types {
            Some(types) => match serde_json::to_string(types) {
                Ok(json) => Some(json),
                Err(e) => {
                    return futures::stream::once(async { Err(StoreError::database(e)) }).boxed();
                }
            },
            None => None,
        };
        let after = i64::try_from(query.after.position.0).unwrap_or(i64::MAX);
        let limit = query
            .limit
            .and_then(|l| i64::try_from(l).ok())
            .unwrap_or(-1);
        // Numbered parameters: ?1-?5 always, ?6 the correlation id if any, then the query's.
        let first = if query.correlation_id.is_some() { 7 } else { 6 };
        let clause = match query
            .query
            .as_ref()
            .map(|q| query_clause(q, first))
            .transpose()
        {
            Ok(clause) => clause,
            Err(error) => return futures::stream::once(async { Err(error) }).boxed(),
        };
        let mut sql = concat!(
            "SELECT ",
            event_columns!(),
            " FROM es_events e WHERE position > ?1
               AND (?2 IS NULL OR event_type IN (SELECT value FROM json_each(?2)))
               AND (?3 IS NULL OR recorded_at >= ?3)
               AND (?4 IS NULL OR recorded_at < ?4)"
        )
        .to_owned();
        if query.correlation_id.is_some() {
            sql.push_str(" AND json_extract(metadata, '$.correlation_id') = ?6");
        }
        if let Some(clause) = &clause {
            sql.push_str(" AND ");
            sql.push_str(&clause.sql);
        }
        sql.push_str(" ORDER BY position LIMIT ?5");
        let mut statement = sqlx::query(AssertSqlSafe(sql))
            .bind(after)
            .bind(types)
            .bind(query.recorded_from.map(micros))
            .bind(query.recorded_until.map(micros))
            .bind(limit);
        if let Some(id) = query.correlation_id {
            statement = statement.bind(id.to_string());
        }
        for bind in clause.into_iter().flat_map(|c| c.binds) {
            statement = statement.bind(bind);
        }
        statement
            .fetch(&self.pool)
            .map(|row| row.map_err(store_error).and_then(|row| decode(&row)))
            .boxed()
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<Version, StoreError> {
        let v: i64 = sqlx::query_scalar(
            "SELECT COALESCE(MAX(version), 0) FROM es_events WHERE stream_id = ?1",
        )
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
        // SQLite compares text bytewise: the prefix's streams are [prefix, prefix_end).
        let rows = sqlx::query(
            "SELECT stream_id, max(version) FROM es_events
             WHERE stream_id >= ?1 AND (?2 IS NULL OR stream_id < ?2) AND (?3 IS NULL OR stream_id > ?3)
             GROUP BY stream_id ORDER BY stream_id LIMIT ?4",
        )
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
        let p: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM es_events")
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(Position(from_db_int(p, "position")?))
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
        stored_with_ids(&self.pool, ids.iter()).await
    }
}

#[async_trait]
impl SnapshotStore for SqliteStore {
    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        let row = sqlx::query(
            "SELECT version, schema_version, state FROM es_snapshots WHERE stream_id = ?1",
        )
        .bind(stream.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        let Some(row) = row else { return Ok(None) };
        let version: i64 = row.try_get(0).map_err(store_error)?;
        let schema_version: i64 = row.try_get(1).map_err(store_error)?;
        let state: String = row.try_get(2).map_err(store_error)?;
        let Ok(state) = serde_json::from_str(&state) else {
            // A snapshot is a cache: an unreadable one is ignored and the stream replayed.
            tracing::warn!(%stream, "ignoring a snapshot whose state is not JSON");
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
        let state = serde_json::to_string(&snapshot.state).map_err(StoreError::database)?;
        sqlx::query(
            "INSERT INTO es_snapshots (stream_id, version, schema_version, state) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version,
                 schema_version = excluded.schema_version, state = excluded.state
             WHERE excluded.version > es_snapshots.version",
        )
        .bind(snapshot.stream_id.as_str())
        .bind(to_db_int(snapshot.version.0, "snapshot version")?)
        .bind(i64::from(snapshot.schema_version))
        .bind(state)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn delete_snapshot(&self, stream: &StreamId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM es_snapshots WHERE stream_id = ?1")
            .bind(stream.as_str())
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}

#[async_trait]
impl CheckpointStore for SqliteStore {
    async fn load_checkpoint(&self, name: &str) -> Result<Option<Checkpoint>, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        Self::load_checkpoint_in(&mut conn, name).await
    }

    async fn save_checkpoint(&self, name: &str, checkpoint: Checkpoint) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await.map_err(store_error)?;
        Self::save_checkpoint_in(&mut conn, name, checkpoint).await
    }

    async fn delete_checkpoint(&self, name: &str) -> Result<(), StoreError> {
        limits::check_name(name)?;
        sqlx::query("DELETE FROM es_checkpoints WHERE name = ?1")
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
