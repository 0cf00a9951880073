//! [`AppendNotifications`]: wake-ups from appends made by other processes (`LISTEN`).

use crate::classify::store_error;
use crate::store::PgStore;
use es_core::StoreError;
use sqlx::postgres::PgListener;
use std::time::Duration;

/// A `LISTEN` session on a store's notification channel: a wake-up hint, never a source of events.
///
/// Only stores built with [`notify(true)`](crate::PgStoreBuilder::notify) send notifications.
/// Notifications sent while the session was disconnected are lost (PostgreSQL keeps none), so a
/// reader must still poll `read_all` from its checkpoint; this only shortens the wait.
///
/// ```no_run
/// # async fn run(store: es_postgres::PgStore) -> Result<(), es_core::StoreError> {
/// let mut wake = store.listen().await?;
/// loop {
///     // read_all from the checkpoint here, then wait for the next append or 250 ms.
///     wake.wait(std::time::Duration::from_millis(250)).await?;
/// }
/// # }
/// ```
pub struct AppendNotifications {
    listener: PgListener,
}

impl std::fmt::Debug for AppendNotifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppendNotifications")
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Opens a `LISTEN` session on this store's notification channel. It holds one of the pool's
    /// connections until dropped (so drop it before [`PgStore::close`], which waits for them).
    pub async fn listen(&self) -> Result<AppendNotifications, StoreError> {
        let mut listener = PgListener::connect_with(self.pool())
            .await
            .map_err(store_error)?;
        listener
            .listen(&self.notify_channel())
            .await
            .map_err(store_error)?;
        Ok(AppendNotifications { listener })
    }
}

impl AppendNotifications {
    /// Waits for the next notification, at most `timeout`. Returns `true` when woken by an append
    /// (or by a reconnect, after which anything may have been missed), `false` on timeout.
    pub async fn wait(&mut self, timeout: Duration) -> Result<bool, StoreError> {
        match tokio::time::timeout(timeout, self.listener.try_recv()).await {
            Err(_elapsed) => Ok(false),
            Ok(Ok(_notification_or_reconnect)) => Ok(true),
            Ok(Err(e)) => Err(store_error(e)),
        }
    }
}
