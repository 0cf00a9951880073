//! Which [`StoreError`] an sqlx error from SQLite is: transient, rejected, or other.

use es_core::StoreError;
use es_core::adapter::BackendError;

/// Classifies an error of an SQLite statement (see the variants of [`StoreError`]):
///
/// - [`StoreError::Unavailable`] (transient): busy or locked beyond the busy timeout, I/O errors,
///   a full disk, a file that cannot be opened, the pool timed out or closed, the worker died;
/// - [`StoreError::Rejected`]: constraints and triggers (such as "stored events are immutable"),
///   a read-only file, a datatype mismatch;
/// - [`StoreError::Database`]: everything else.
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    let wrap = cleaned;
    match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::unavailable(wrap(error)),
        sqlx::Error::Database(db) => {
            // Extended result codes keep the primary code in their low byte.
            let primary = db
                .code()
                .and_then(|code| code.parse::<i32>().ok())
                .map(|code| code & 0xff);
            match primary {
                // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_NOMEM, SQLITE_IOERR, SQLITE_FULL,
                // SQLITE_CANTOPEN, SQLITE_PROTOCOL
                Some(5 | 6 | 7 | 10 | 13 | 14 | 15) => StoreError::unavailable(wrap(error)),
                // SQLITE_READONLY, SQLITE_CONSTRAINT, SQLITE_MISMATCH, SQLITE_AUTH, SQLITE_RANGE
                Some(8 | 19 | 20 | 23 | 25) => StoreError::rejected(wrap(error)),
                _ => StoreError::database(wrap(error)),
            }
        }
        _ => StoreError::database(wrap(error)),
    }
}

/// The server's message and code, without the driver's decorations (such as the server's source
/// line); the driver's error stays the source.
fn cleaned(error: sqlx::Error) -> BackendError {
    let message = match &error {
        sqlx::Error::Database(db) => match db.code() {
            Some(code) => format!("{} (SQLite code {code})", db.message()),
            None => db.message().to_owned(),
        },
        other => other.to_string(),
    };
    BackendError::new(message, error)
}
