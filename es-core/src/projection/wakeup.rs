//! Wake-ups from appends made by other processes: [`Wakeup`].

use crate::error::StoreError;
use async_trait::async_trait;
use std::time::Duration;

/// A source of "something was appended" hints from outside this process (PostgreSQL `LISTEN`).
///
/// A hint is never a source of events: the runner reads the log from its checkpoint after each
/// wake-up, and still polls (backing off to its longest poll interval) in case a hint is lost.
#[async_trait]
pub trait Wakeup: Send {
    /// Waits for the next hint, at most `timeout`. `Ok(true)`: woken; `Ok(false)`: timed out.
    async fn wait(&mut self, timeout: Duration) -> Result<bool, StoreError>;
}
