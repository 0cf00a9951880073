//! [`OpenError`]: why a SQLite event store could not be opened.

use std::path::PathBuf;

/// Why [`SqliteStore::open`](crate::SqliteStore::open) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The file exists but is not an SQLite database.
    #[error("`{path}` is not an SQLite database (wrong file, or corrupt)")]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The database holds tables or migrations this version of es-sqlite cannot use: another
    /// application's tables of the same names, or a schema written by a newer es-sqlite.
    #[error("`{path}` has an incompatible schema: {reason}")]
    IncompatibleSchema {
        /// The file.
        path: PathBuf,
        /// What did not fit.
        reason: String,
    },
    /// The database could not be opened or migrated.
    #[error("cannot open `{path}`: {source}")]
    Database {
        /// The file.
        path: PathBuf,
        /// The sqlx error.
        #[source]
        source: sqlx::Error,
    },
}

impl OpenError {
    pub(crate) fn from_sqlx(path: PathBuf, source: sqlx::Error) -> Self {
        let not_a_db = match &source {
            sqlx::Error::Database(db) => {
                db.code().as_deref() == Some("26") || db.message().contains("not a database")
            }
            _ => false,
        };
        if not_a_db {
            OpenError::NotADatabase { path }
        } else {
            OpenError::Database { path, source }
        }
    }

    pub(crate) fn from_migrate(path: PathBuf, error: sqlx::migrate::MigrateError) -> Self {
        use sqlx::migrate::MigrateError;
        match error {
            MigrateError::Execute(source) => Self::from_sqlx(path, source),
            MigrateError::ExecuteMigration(source, version) => {
                match Self::from_sqlx(path, source) {
                    OpenError::Database { path, source } => OpenError::IncompatibleSchema {
                        path,
                        reason: format!("es schema migration {version} failed: {source}"),
                    },
                    other => other,
                }
            }
            MigrateError::VersionMissing(version) | MigrateError::VersionTooNew(version, _) => {
                OpenError::IncompatibleSchema {
                    path,
                    reason: format!(
                        "it was written by a newer es-sqlite (it has es schema migration {version}, unknown to this version)"
                    ),
                }
            }
            other => OpenError::IncompatibleSchema {
                path,
                reason: other.to_string(),
            },
        }
    }
}
