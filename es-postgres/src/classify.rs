//! Which [`StoreError`] an sqlx error from PostgreSQL is: transient, rejected, or other.

use es_core::StoreError;
use es_core::adapter::BackendError;

/// Classifies an error of a PostgreSQL statement by its SQLSTATE (see the variants of
/// [`StoreError`]):
///
/// - [`StoreError::Unavailable`] (transient): connection exceptions (class 08), the server
///   shutting down or starting (57P01-57P03), insufficient resources (class 53: too many
///   connections, disk full, out of memory), serialization failures and deadlocks (40001, 40P01),
///   a lost connection (I/O errors, the connection closed mid-message), the pool timed out;
/// - [`StoreError::Rejected`]: integrity constraints (class 23), privileges and missing objects
///   (class 42), data exceptions (class 22), raised by a trigger (P0001, such as "stored events
///   are immutable"), a read-only transaction (25006);
/// - [`StoreError::Database`]: everything else.
pub(crate) fn store_error(error: sqlx::Error) -> StoreError {
    let wrap = cleaned;
    match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => StoreError::unavailable(wrap(error)),
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let class = code.get(..2).unwrap_or_default();
            match (class, code.as_str()) {
                ("08" | "53", _) | (_, "57P01" | "57P02" | "57P03" | "40001" | "40P01") => {
                    StoreError::unavailable(wrap(error))
                }
                ("23" | "42" | "22", _) | (_, "P0001" | "25006") => {
                    StoreError::rejected(wrap(error))
                }
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
            Some(code) => format!("{} (SQLSTATE {code})", db.message()),
            None => db.message().to_owned(),
        },
        other => other.to_string(),
    };
    BackendError::new(message, error)
}
