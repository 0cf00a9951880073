//! Projections whose read model lives in the SQLite file: [`ProjectionStore`] for [`SqliteStore`].

use crate::classify::store_error;
use crate::row::{event_id, from_micros, micros};
use crate::store::SqliteStore;
use async_trait::async_trait;
use es_core::adapter::{RawParked, to_db_int};
use es_core::{Checkpoint, ParkedEvent, ProjectionStore, StoreError, limits};
use sqlx::Row;

/// The transaction a projection's handler gets on SQLite (`&mut SqliteTx<'_>`): its writes commit
/// together with the projection's checkpoint.
pub type SqliteTx<'c> = sqlx::Transaction<'c, sqlx::Sqlite>;

/// Exactly-once projections into tables of the same file: each batch runs in one
/// `BEGIN IMMEDIATE` transaction (SQLite's write lock, so batches of two runners cannot
/// interleave) holding the handler's writes, the checkpoint and any parked event.
///
/// ```
/// use es_core::{EventHandler, HandlerError, Projection, ProjectionRunner, RecordedEvent};
/// use es_sqlite::{SqliteStore, SqliteTx};
///
/// struct Deposits;
///
/// #[async_trait::async_trait]
/// impl<'c> EventHandler<SqliteTx<'c>> for Deposits {
///     fn event_types(&self) -> Vec<&'static str> { vec!["account.deposited"] }
///     async fn handle(&mut self, e: &RecordedEvent, tx: &mut SqliteTx<'c>) -> Result<(), HandlerError> {
///         sqlx::query("INSERT INTO deposits (amount) VALUES (?1)")
///             .bind(e.payload["amount"].as_i64())
///             .execute(&mut **tx).await.map_err(HandlerError::failed)?;
///         Ok(())
///     }
/// }
/// impl<'c> Projection<SqliteTx<'c>> for Deposits {
///     fn name(&self) -> &str { "deposits" }
/// }
///
/// # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
/// # let dir = std::env::temp_dir().join(format!("es-doc-{}", uuid::Uuid::now_v7()));
/// let store = SqliteStore::open(dir.join("app.db")).await.unwrap();
/// sqlx::query("CREATE TABLE deposits (amount INTEGER)").execute(store.pool()).await.unwrap();
/// let handle = ProjectionRunner::new(store.clone(), store.clone(), Deposits).spawn();
/// # handle.stop().await.unwrap(); store.close().await; std::fs::remove_dir_all(dir).unwrap();
/// # });
/// ```
#[async_trait]
impl ProjectionStore for SqliteStore {
    type Tx = SqliteTx<'static>;

    async fn begin(&self) -> Result<Self::Tx, StoreError> {
        self.pool()
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(store_error)
    }

    async fn commit(&self, tx: Self::Tx) -> Result<(), StoreError> {
        tx.commit().await.map_err(store_error)
    }

    async fn load_checkpoint_in(
        &self,
        tx: &mut Self::Tx,
        projection: &str,
    ) -> Result<Option<Checkpoint>, StoreError> {
        SqliteStore::load_checkpoint_in(tx, projection).await
    }

    async fn save_checkpoint_in(
        &self,
        tx: &mut Self::Tx,
        projection: &str,
        checkpoint: Checkpoint,
    ) -> Result<(), StoreError> {
        SqliteStore::save_checkpoint_in(tx, projection, checkpoint).await
    }

    async fn delete_checkpoint_in(
        &self,
        tx: &mut Self::Tx,
        projection: &str,
    ) -> Result<(), StoreError> {
        limits::check_name(projection)?;
        sqlx::query("DELETE FROM es_checkpoints WHERE name = ?1")
            .bind(projection)
            .execute(&mut **tx)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn park_in(&self, tx: &mut Self::Tx, parked: &ParkedEvent) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO es_dead_letters (projection, event_id, stream_id, version, commit_key,
                 position, event_type, error, parked_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .bind(&parked.projection)
        .bind(parked.event_id.0.to_string())
        .bind(parked.stream_id.as_str())
        .bind(to_db_int(parked.version.0, "version")?)
        .bind(to_db_int(parked.checkpoint.commit, "commit key")?)
        .bind(to_db_int(parked.checkpoint.position.0, "position")?)
        .bind(&parked.event_type)
        .bind(&parked.error)
        .bind(micros(parked.parked_at))
        .execute(&mut **tx)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn unpark_in(&self, tx: &mut Self::Tx, id: i64) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM es_dead_letters WHERE id = ?1")
            .bind(id)
            .execute(&mut **tx)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn clear_parked_in(&self, tx: &mut Self::Tx, projection: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM es_dead_letters WHERE projection = ?1")
            .bind(projection)
            .execute(&mut **tx)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn parked(&self, projection: &str) -> Result<Vec<ParkedEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, projection, event_id, stream_id, version, commit_key, position, event_type,
                    error, parked_at
             FROM es_dead_letters WHERE projection = ?1 ORDER BY id",
        )
        .bind(projection)
        .fetch_all(self.pool())
        .await
        .map_err(store_error)?;
        rows.iter().map(parked_from_row).collect()
    }
}

fn parked_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<ParkedEvent, StoreError> {
    let get_i64 = |i: usize| row.try_get::<i64, _>(i).map_err(store_error);
    let get_text = |i: usize| row.try_get::<String, _>(i).map_err(store_error);
    RawParked {
        id: get_i64(0)?,
        projection: get_text(1)?,
        event_id: event_id(&get_text(2)?),
        stream_id: get_text(3)?,
        version: get_i64(4)?,
        commit: get_i64(5)?,
        position: get_i64(6)?,
        event_type: get_text(7)?,
        error: get_text(8)?,
        parked_at: from_micros(get_i64(9)?),
    }
    .decode()
}
