//! Projections on PostgreSQL: the exactly-once [`ProjectionStore`], advisory-lock leases
//! ([`LeaseProvider`]) and `LISTEN` wake-ups ([`Wakeup`]).

use crate::classify::store_error;
use crate::listen::AppendNotifications;
use crate::store::{PgStore, PgTx};
use async_trait::async_trait;
use es_core::adapter::{RawParked, from_db_int, to_db_int};
use es_core::{
    Checkpoint, EventId, Lease, LeaseProvider, ParkedEvent, Position, ProjectionStore, StoreError,
    Wakeup, limits,
};
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row};
use std::time::Duration;

impl PgStore {
    /// `text` with `{s}` replaced by the store's quoted schema name.
    fn projection_sql(&self, text: &str) -> AssertSqlSafe<String> {
        // Safe: constant text and a validated, quoted schema name; values are bind parameters.
        AssertSqlSafe(text.replace("{s}", &self.schema().quoted()))
    }
}

/// Exactly-once projections into tables of the same database: each batch runs in one transaction
/// (`&mut PgTx<'_>` for the handler) that also locks and saves the projection's checkpoint row
/// and holds any parked event.
///
/// The checkpoint row is read `FOR UPDATE` (created first if missing), so a second runner of the
/// same projection waits for the first one's batch to commit and then sees that the checkpoint
/// moved: a batch is never applied twice, even without a lease.
///
/// ```no_run
/// use es_core::{EventHandler, HandlerError, Projection, ProjectionRunner, RecordedEvent};
/// use es_postgres::{PgStore, PgTx};
///
/// struct Deposits;
///
/// #[async_trait::async_trait]
/// impl<'c> EventHandler<PgTx<'c>> for Deposits {
///     fn event_types(&self) -> Vec<&'static str> { vec!["account.deposited"] }
///     async fn handle(&mut self, e: &RecordedEvent, tx: &mut PgTx<'c>) -> Result<(), HandlerError> {
///         sqlx::query("INSERT INTO deposits (amount) VALUES ($1)")
///             .bind(e.payload["amount"].as_i64())
///             .execute(&mut **tx).await.map_err(HandlerError::failed)?;
///         Ok(())
///     }
/// }
/// impl<'c> Projection<PgTx<'c>> for Deposits {
///     fn name(&self) -> &str { "deposits" }
/// }
///
/// # async fn run(url: &str) -> Result<(), Box<dyn std::error::Error>> {
/// let store = PgStore::connect(url).await?;
/// let handle = ProjectionRunner::new(store.clone(), store.clone(), Deposits)
///     .lease(store.clone(), std::time::Duration::from_secs(1))  // one active runner across processes
///     .wake_up(store.listen().await?)                            // appends from other processes (NOTIFY)
///     .spawn();
/// # handle.stop().await?; Ok(()) }
/// ```
#[async_trait]
impl ProjectionStore for PgStore {
    type Tx = PgTx<'static>;

    async fn begin(&self) -> Result<Self::Tx, StoreError> {
        self.pool().begin().await.map_err(store_error)
    }

    async fn commit(&self, tx: Self::Tx) -> Result<(), StoreError> {
        tx.commit().await.map_err(store_error)
    }

    async fn load_checkpoint_in(
        &self,
        tx: &mut Self::Tx,
        projection: &str,
    ) -> Result<Option<Checkpoint>, StoreError> {
        limits::check_name(projection)?;
        // Create the row if missing, so there is always a row to lock: two runners starting at
        // once serialise on it instead of both starting from nothing.
        sqlx::query(self.projection_sql(
            "INSERT INTO {s}.es_checkpoints (name, commit_key, position) VALUES ($1, 0, 0)
             ON CONFLICT (name) DO NOTHING",
        ))
        .bind(projection)
        .execute(&mut **tx)
        .await
        .map_err(store_error)?;
        let row = sqlx::query(self.projection_sql(
            "SELECT commit_key, position FROM {s}.es_checkpoints WHERE name = $1 FOR UPDATE",
        ))
        .bind(projection)
        .fetch_optional(&mut **tx)
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

    async fn save_checkpoint_in(
        &self,
        tx: &mut Self::Tx,
        projection: &str,
        checkpoint: Checkpoint,
    ) -> Result<(), StoreError> {
        PgStore::save_checkpoint_in(self, tx, projection, checkpoint).await
    }

    async fn delete_checkpoint_in(
        &self,
        tx: &mut Self::Tx,
        projection: &str,
    ) -> Result<(), StoreError> {
        limits::check_name(projection)?;
        sqlx::query(self.projection_sql("DELETE FROM {s}.es_checkpoints WHERE name = $1"))
            .bind(projection)
            .execute(&mut **tx)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn park_in(&self, tx: &mut Self::Tx, parked: &ParkedEvent) -> Result<(), StoreError> {
        sqlx::query(self.projection_sql(
            "INSERT INTO {s}.es_dead_letters (projection, event_id, stream_id, version, commit_key,
                 position, event_type, error, parked_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        ))
        .bind(&parked.projection)
        .bind(parked.event_id.0)
        .bind(parked.stream_id.as_str())
        .bind(to_db_int(parked.version.0, "version")?)
        .bind(to_db_int(parked.checkpoint.commit, "commit key")?)
        .bind(to_db_int(parked.checkpoint.position.0, "position")?)
        .bind(&parked.event_type)
        .bind(&parked.error)
        .bind(parked.parked_at)
        .execute(&mut **tx)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn unpark_in(&self, tx: &mut Self::Tx, id: i64) -> Result<(), StoreError> {
        sqlx::query(self.projection_sql("DELETE FROM {s}.es_dead_letters WHERE id = $1"))
            .bind(id)
            .execute(&mut **tx)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn clear_parked_in(&self, tx: &mut Self::Tx, projection: &str) -> Result<(), StoreError> {
        sqlx::query(self.projection_sql("DELETE FROM {s}.es_dead_letters WHERE projection = $1"))
            .bind(projection)
            .execute(&mut **tx)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn parked(&self, projection: &str) -> Result<Vec<ParkedEvent>, StoreError> {
        let rows = sqlx::query(self.projection_sql(
            "SELECT id, projection, event_id, stream_id, version, commit_key, position, event_type,
                    error, parked_at
             FROM {s}.es_dead_letters WHERE projection = $1 ORDER BY id",
        ))
        .bind(projection)
        .fetch_all(self.pool())
        .await
        .map_err(store_error)?;
        rows.iter()
            .map(|row| {
                let db = StoreError::database;
                RawParked {
                    id: row.try_get(0).map_err(db)?,
                    projection: row.try_get(1).map_err(db)?,
                    event_id: Ok(EventId(row.try_get(2).map_err(db)?)),
                    stream_id: row.try_get(3).map_err(db)?,
                    version: row.try_get(4).map_err(db)?,
                    commit: row.try_get(5).map_err(db)?,
                    position: row.try_get(6).map_err(db)?,
                    event_type: row.try_get(7).map_err(db)?,
                    error: row.try_get(8).map_err(db)?,
                    parked_at: Ok(row.try_get(9).map_err(db)?),
                }
                .decode()
            })
            .collect()
    }
}

/// Leases across processes: a session-level advisory lock keyed by the store's schema and the
/// projection's name, held on a dedicated connection. PostgreSQL releases it when that connection
/// ends, so when a runner's process dies, a runner in standby elsewhere takes over.
#[async_trait]
impl LeaseProvider for PgStore {
    async fn try_acquire(&self, projection: &str) -> Result<Option<Box<dyn Lease>>, StoreError> {
        let namespace = format!("es-projection:{}", self.schema().as_str());
        // Outside the pool: the lock lives as long as this session.
        let mut conn = self.pool().acquire().await.map_err(store_error)?.detach();
        let acquired: bool =
            sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtext($1), hashtext($2))")
                .bind(&namespace)
                .bind(projection)
                .fetch_one(&mut conn)
                .await
                .map_err(store_error)?;
        if !acquired {
            let _ = conn.close().await;
            return Ok(None);
        }
        Ok(Some(Box::new(PgLease {
            conn,
            namespace,
            projection: projection.to_owned(),
        })))
    }
}

/// A held advisory lock and its session.
struct PgLease {
    conn: PgConnection,
    namespace: String,
    projection: String,
}

#[async_trait]
impl Lease for PgLease {
    async fn is_held(&mut self) -> Result<bool, StoreError> {
        // A session lock lasts as long as the session: a live session still holds it.
        let alive = tokio::time::timeout(Duration::from_secs(5), self.conn.ping()).await;
        Ok(matches!(alive, Ok(Ok(()))))
    }

    async fn release(mut self: Box<Self>) -> Result<(), StoreError> {
        sqlx::query("SELECT pg_advisory_unlock(hashtext($1), hashtext($2))")
            .bind(&self.namespace)
            .bind(&self.projection)
            .execute(&mut self.conn)
            .await
            .map_err(store_error)?;
        self.conn.close().await.map_err(store_error)
    }
}

#[async_trait]
impl Wakeup for AppendNotifications {
    async fn wait(&mut self, timeout: Duration) -> Result<bool, StoreError> {
        AppendNotifications::wait(self, timeout).await
    }
}
