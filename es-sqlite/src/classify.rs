//! Which [`StoreError`] an sqlx error from SQLite is: transient, rejected, or other.

use es_core::StoreError;

/// Classifies an error of an SQLite statement (see the variants of [`StoreError`]):
///
/// - [`StoreError::Unavailable`] (transient): busy or locked beyond the busy timeout, I/O errors,
///   a full disk, a file that cannot be opened, the pool timed out or closed, the worker died;
/// - [`StoreError::Rejected`]: constraints and triggers (such as "stored events are immutable"),
///   a read-only file, a datatype mismatch;
/// - [`StoreError::Database`]: everything else.
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::unavailable(error),
        sqlx::Error::Database(db) => {
            // Extended result codes keep the primary code in their low byte.
            let primary = db
                .code()
                .and_then(|code| code.parse::<i32>().ok())
                .map(|code| code & 0xff);
            match primary {
                // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM, SQLITE_IOERR, SQLITE_FULL,
                // SQLITE_CANTOPEN, SQLITE_PROTOCOL
                Some(5 | 6 | 7 | 10 | 13 | 14 | 15) => StoreError::unavailable(error),
                // SQLITE_READONLY, SQLITE_CONSTRAINT, SQLITE_MISMATCH, SQLITE_AUTH, SQLITE_RANGE
                Some(8 | 19 | 20 | 23 | 25) => StoreError::rejected(error),
                _ => StoreError::database(error),
            }
        }
        _ => StoreError::database(error),
    }
}
