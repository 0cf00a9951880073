//! Where a projection keeps its checkpoint and dead letters: [`ProjectionStore`], [`AtLeastOnce`].

use crate::envelope::RecordedEvent;
use crate::error::{CorruptEvent, StoreError};
use crate::id::{Checkpoint, EventId, Position, StreamId, Version};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// An event a projection could not handle, parked in the dead-letter table with its error.
#[derive(Clone, Debug, PartialEq)]
pub struct ParkedEvent {
    /// The dead letter's id (to retry or discard it).
    pub id: i64,
    /// The projection that failed.
    pub projection: String,
    /// The event's id.
    pub event_id: EventId,
    /// Its stream.
    pub stream_id: StreamId,
    /// Its version in the stream.
    pub version: Version,
    /// Where it is in the global log (re-read from there when retried).
    pub checkpoint: Checkpoint,
    /// Its stored type name.
    pub event_type: String,
    /// The handler's last error, as text.
    pub error: String,
    /// When it was parked.
    pub parked_at: DateTime<Utc>,
}

impl ParkedEvent {
    /// A dead letter for `event` (the store assigns `id` and may replace `parked_at`).
    pub fn new(projection: &str, event: &RecordedEvent, error: impl Into<String>) -> Self {
        Self {
            id: 0,
            projection: projection.to_owned(),
            event_id: event.meta.event_id,
            stream_id: event.meta.stream_id.clone(),
            version: event.meta.version,
            checkpoint: event.meta.checkpoint(),
            event_type: event.meta.event_type.clone(),
            error: error.into(),
            parked_at: Utc::now(),
        }
    }

    /// A dead letter for a stored row that does not decode (see [`StoreError::Corrupt`]). A row
    /// whose event id does not decode is parked with the nil id, one whose stream id is not valid
    /// under the stream id `<invalid>`; the error says what was stored.
    pub fn corrupt(projection: &str, row: &CorruptEvent) -> Self {
        Self {
            id: 0,
            projection: projection.to_owned(),
            event_id: row.event_id.unwrap_or(EventId(uuid::Uuid::nil())),
            stream_id: StreamId::new(row.stream.as_str())
                .unwrap_or_else(|_| StreamId::unchecked("<invalid>")),
            version: Version(u64::try_from(row.version).unwrap_or(0)),
            checkpoint: row.checkpoint(),
            event_type: row.event_type.clone(),
            error: row.to_string(),
            parked_at: Utc::now(),
        }
    }

    /// The global position of the parked event.
    pub fn position(&self) -> Position {
        self.checkpoint.position
    }
}

/// The unit of work a projection runner commits after each batch: a transaction (`Tx`) in which
/// the handler makes its writes, the checkpoint is saved and failed events are parked.
///
/// When the read model lives in the same database as the checkpoint (`SqliteStore`, `PgStore`),
/// `Tx` is a database transaction and a batch is applied exactly once: its writes and its
/// checkpoint commit together, or neither does. [`MemoryStore`](crate::MemoryStore) uses `Tx = ()`,
/// and [`AtLeastOnce`] turns any projection store into one with `Tx = ()` for handlers with external
/// side effects (each event may then be handled again after a crash, never skipped).
///
/// Dropping a `Tx` without [`commit`](Self::commit) must roll it back.
#[async_trait]
pub trait ProjectionStore: Send + Sync {
    /// The transaction handed to the handler (`&mut Tx` for every event of a batch).
    type Tx: Send;

    /// Begins a unit of work. On stores with a write lock (SQLite) this takes it, so two runners
    /// of one projection cannot interleave batches.
    async fn begin(&self) -> Result<Self::Tx, StoreError>;

    /// Commits a unit of work.
    async fn commit(&self, tx: Self::Tx) -> Result<(), StoreError>;

    /// The projection's checkpoint, read inside `tx` (locking it where the database can, so a
    /// concurrent runner of the same projection waits or sees the newer value).
    async fn load_checkpoint_in(
        &self,
        tx: &mut Self::Tx,
        projection: &str,
    ) -> Result<Option<Checkpoint>, StoreError>;

    /// Saves the projection's checkpoint inside `tx`.
    async fn save_checkpoint_in(
        &self,
        tx: &mut Self::Tx,
        projection: &str,
        checkpoint: Checkpoint,
    ) -> Result<(), StoreError>;

    /// Forgets the projection's checkpoint inside `tx` (a rebuild replays from the start).
    async fn delete_checkpoint_in(
        &self,
        tx: &mut Self::Tx,
        projection: &str,
    ) -> Result<(), StoreError>;

    /// Parks an event in the dead-letter table inside `tx`.
    async fn park_in(&self, tx: &mut Self::Tx, parked: &ParkedEvent) -> Result<(), StoreError>;

    /// Removes a dead letter inside `tx` (after a successful retry, or to discard it).
    async fn unpark_in(&self, tx: &mut Self::Tx, id: i64) -> Result<(), StoreError>;

    /// Removes every dead letter of a projection inside `tx` (on rebuild).
    async fn clear_parked_in(&self, tx: &mut Self::Tx, projection: &str) -> Result<(), StoreError>;

    /// The dead letters of a projection, oldest first.
    async fn parked(&self, projection: &str) -> Result<Vec<ParkedEvent>, StoreError>;
}

/// Runs a projection with `Tx = ()` on top of any [`ProjectionStore`]: each checkpoint save or
/// park is its own short transaction. Use it for handlers whose effects are outside the store's
/// database (e-mails, other services, in-memory caches): delivery is at-least-once, the checkpoint
/// being saved after each batch.
///
/// ```
/// use es_core::{AtLeastOnce, MemoryStore, ProjectionStore};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = AtLeastOnce(MemoryStore::new());
/// let mut tx = store.begin().await.unwrap();
/// store.save_checkpoint_in(&mut tx, "mailer", es_core::Checkpoint::START).await.unwrap();
/// # });
/// ```
#[derive(Clone, Debug, Default)]
pub struct AtLeastOnce<P>(pub P);

#[async_trait]
impl<P: ProjectionStore> ProjectionStore for AtLeastOnce<P> {
    type Tx = ();

    async fn begin(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn commit(&self, _tx: ()) -> Result<(), StoreError> {
        Ok(())
    }

    async fn load_checkpoint_in(
        &self,
        _tx: &mut (),
        projection: &str,
    ) -> Result<Option<Checkpoint>, StoreError> {
        let mut tx = self.0.begin().await?;
        let checkpoint = self.0.load_checkpoint_in(&mut tx, projection).await?;
        self.0.commit(tx).await?;
        Ok(checkpoint)
    }

    async fn save_checkpoint_in(
        &self,
        _tx: &mut (),
        projection: &str,
        checkpoint: Checkpoint,
    ) -> Result<(), StoreError> {
        let mut tx = self.0.begin().await?;
        self.0
            .save_checkpoint_in(&mut tx, projection, checkpoint)
            .await?;
        self.0.commit(tx).await
    }

    async fn delete_checkpoint_in(&self, _tx: &mut (), projection: &str) -> Result<(), StoreError> {
        let mut tx = self.0.begin().await?;
        self.0.delete_checkpoint_in(&mut tx, projection).await?;
        self.0.commit(tx).await
    }

    async fn park_in(&self, _tx: &mut (), parked: &ParkedEvent) -> Result<(), StoreError> {
        let mut tx = self.0.begin().await?;
        self.0.park_in(&mut tx, parked).await?;
        self.0.commit(tx).await
    }

    async fn unpark_in(&self, _tx: &mut (), id: i64) -> Result<(), StoreError> {
        let mut tx = self.0.begin().await?;
        self.0.unpark_in(&mut tx, id).await?;
        self.0.commit(tx).await
    }

    async fn clear_parked_in(&self, _tx: &mut (), projection: &str) -> Result<(), StoreError> {
        let mut tx = self.0.begin().await?;
        self.0.clear_parked_in(&mut tx, projection).await?;
        self.0.commit(tx).await
    }

    async fn parked(&self, projection: &str) -> Result<Vec<ParkedEvent>, StoreError> {
        self.0.parked(projection).await
    }
}
