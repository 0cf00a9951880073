//! [`ConnectError`]: why a PostgreSQL event store could not be opened or migrated.

use crate::schema::InvalidSchemaName;

/// Why [`PgStore`](crate::PgStore) could not connect or migrate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The configured schema name is not acceptable.
    #[error(transparent)]
    InvalidSchemaName(#[from] InvalidSchemaName),
    /// The schema holds tables or migrations this version of es-postgres cannot use: another
    /// application's tables of the same names, or migrations from a newer es-postgres.
    #[error("schema `{schema}` has an incompatible es schema: {reason}")]
    IncompatibleSchema {
        /// The schema.
        schema: String,
        /// What did not fit.
        reason: String,
    },
    /// The database could not be reached or the migration failed.
    #[error("cannot connect to or migrate the event store in schema `{schema}`: {source}")]
    Database {
        /// The schema.
        schema: String,
        /// The sqlx error.
        #[source]
        source: sqlx::Error,
    },
}

impl ConnectError {
    pub(crate) fn database(schema: &str, source: sqlx::Error) -> Self {
        ConnectError::Database {
            schema: schema.to_owned(),
            source,
        }
    }

    pub(crate) fn from_migrate(schema: &str, error: sqlx::migrate::MigrateError) -> Self {
        use sqlx::migrate::MigrateError;
        let schema_name = schema.to_owned();
        match error {
            MigrateError::Execute(source) => ConnectError::database(schema, source),
            MigrateError::ExecuteMigration(source, version) => ConnectError::IncompatibleSchema {
                schema: schema_name,
                reason: format!("es schema migration {version} failed: {source}"),
            },
            MigrateError::VersionMissing(version) | MigrateError::VersionTooNew(version, _) => {
                ConnectError::IncompatibleSchema {
                    schema: schema_name,
                    reason: format!(
                        "it was written by a newer es-postgres (it has es schema migration {version}, unknown to this version)"
                    ),
                }
            }
            other => ConnectError::IncompatibleSchema {
                schema: schema_name,
                reason: other.to_string(),
            },
        }
    }
}
