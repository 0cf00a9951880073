//! One active runner per projection: [`LeaseProvider`], [`Lease`], [`LocalLeases`].

use crate::error::StoreError;
use async_trait::async_trait;
use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

/// Grants the right to run a projection, to one runner at a time.
///
/// A runner with a lease provider waits (in standby) until [`try_acquire`](Self::try_acquire)
/// grants the lease, checks it between batches, and goes back to standby if it is lost. The
/// PostgreSQL store grants leases across processes with a session advisory lock (released by the
/// database when the holder's connection dies). [`LocalLeases`] grants them within one process.
#[async_trait]
pub trait LeaseProvider: Send + Sync {
    /// Takes the lease of `projection` if nobody holds it.
    async fn try_acquire(&self, projection: &str) -> Result<Option<Box<dyn Lease>>, StoreError>;
}

/// A held lease. Dropping it releases it (possibly later, when its connection closes).
#[async_trait]
pub trait Lease: Send {
    /// Whether the lease is still held (for example, whether its database session is alive).
    async fn is_held(&mut self) -> Result<bool, StoreError>;

    /// Releases the lease now.
    async fn release(self: Box<Self>) -> Result<(), StoreError>;
}

#[async_trait]
impl<T: LeaseProvider + ?Sized> LeaseProvider for Arc<T> {
    async fn try_acquire(&self, projection: &str) -> Result<Option<Box<dyn Lease>>, StoreError> {
        (**self).try_acquire(projection).await
    }
}

/// Leases within one process: clones share the set of held leases.
///
/// SQLite and the in-memory store have no cross-process lease: with them, give every runner of a
/// projection in a process the same `LocalLeases`. Two processes running the same projection on
/// one SQLite file stay exactly-once for same-file read models (each batch checks and saves the
/// checkpoint inside one write transaction), but both do the work.
///
/// ```
/// use es_core::{LeaseProvider, LocalLeases};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let leases = LocalLeases::new();
/// let first = leases.try_acquire("balances").await.unwrap();
/// assert!(first.is_some());
/// assert!(leases.try_acquire("balances").await.unwrap().is_none());
/// drop(first);
/// assert!(leases.try_acquire("balances").await.unwrap().is_some());
/// # });
/// ```
#[derive(Clone, Debug, Default)]
pub struct LocalLeases {
    held: Arc<Mutex<HashSet<String>>>,
}

impl LocalLeases {
    /// No lease held.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl LeaseProvider for LocalLeases {
    async fn try_acquire(&self, projection: &str) -> Result<Option<Box<dyn Lease>>, StoreError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        if !held.insert(projection.to_owned()) {
            return Ok(None);
        }
        Ok(Some(Box::new(LocalLease {
            held: self.held.clone(),
            projection: projection.to_owned(),
        })))
    }
}

struct LocalLease {
    held: Arc<Mutex<HashSet<String>>>,
    projection: String,
}

impl Drop for LocalLease {
    fn drop(&mut self) {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.projection);
    }
}

#[async_trait]
impl Lease for LocalLease {
    async fn is_held(&mut self) -> Result<bool, StoreError> {
        Ok(true)
    }

    async fn release(self: Box<Self>) -> Result<(), StoreError> {
        Ok(())
    }
}
