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
    /// No connection to the server could be opened: nothing listens, no answer in time, the
    /// credentials or the database name were refused, TLS failed. The message names the server
    /// (`host:port`, or the socket) and the cause, never the password.
    #[error(
        "cannot connect to PostgreSQL at {server} for the event store in schema `{schema}`: {cause}: {detail}"
    )]
    Connect {
        /// `host:port` (or the Unix socket path) from the connection URL.
        server: String,
        /// The schema.
        schema: String,
        /// What failed, for programs that react to it.
        cause: ConnectCause,
        /// The server's or the operating system's own words (or how long connecting waited).
        detail: String,
        /// The sqlx error, unless connecting timed out in es-postgres.
        #[source]
        source: Option<sqlx::Error>,
    },
    /// The URL is not valid, the database failed after connecting, or the migration failed.
    #[error("cannot connect to or migrate the event store in schema `{schema}`: {source}")]
    Database {
        /// The schema.
        schema: String,
        /// The sqlx error.
        #[source]
        source: sqlx::Error,
    },
}

/// What kept [`PgStore::connect`](crate::PgStore::connect) from opening a connection (see
/// [`ConnectError::Connect`]).
///
/// ```
/// use es_postgres::ConnectCause;
/// assert_eq!(ConnectCause::Refused.to_string(), "connection refused");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectCause {
    /// Nothing listens on the address (or the server is stopped).
    Refused,
    /// The server did not complete the connection in time (it accepts TCP but never answers, or
    /// packets are dropped).
    TimedOut,
    /// The server refused the role or its password (SQLSTATE class 28).
    Authentication,
    /// The database named in the URL does not exist (SQLSTATE 3D000).
    NoDatabase,
    /// TLS could not be negotiated or the certificate was refused.
    Tls,
    /// Anything else (an unknown host name, a protocol error, ...): see the error's detail.
    Other,
}

impl ConnectCause {
    /// Classifies a connection error from sqlx.
    ///
    /// ```
    /// use es_postgres::ConnectCause;
    /// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    /// assert_eq!(ConnectCause::of(&sqlx::Error::Io(refused)), ConnectCause::Refused);
    /// assert_eq!(ConnectCause::of(&sqlx::Error::PoolTimedOut), ConnectCause::TimedOut);
    /// ```
    pub fn of(error: &sqlx::Error) -> Self {
        use std::io::ErrorKind;
        match error {
            sqlx::Error::Io(io) => match io.kind() {
                ErrorKind::ConnectionRefused => ConnectCause::Refused,
                ErrorKind::TimedOut => ConnectCause::TimedOut,
                _ => ConnectCause::Other,
            },
            sqlx::Error::Tls(_) => ConnectCause::Tls,
            sqlx::Error::PoolTimedOut => ConnectCause::TimedOut,
            sqlx::Error::Database(db) => match db.code().as_deref() {
                Some(code) if code.starts_with("28") => ConnectCause::Authentication,
                Some("3D000") => ConnectCause::NoDatabase,
                _ => ConnectCause::Other,
            },
            _ => ConnectCause::Other,
        }
    }
}

impl std::fmt::Display for ConnectCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ConnectCause::Refused => "connection refused",
            ConnectCause::TimedOut => "timed out",
            ConnectCause::Authentication => "authentication failed",
            ConnectCause::NoDatabase => "database does not exist",
            ConnectCause::Tls => "TLS failed",
            ConnectCause::Other => "connection failed",
        })
    }
}

impl ConnectError {
    /// The cause, when no connection could be opened.
    ///
    /// ```
    /// use es_postgres::{ConnectCause, ConnectError};
    /// # fn check(error: ConnectError) {
    /// if error.cause() == Some(ConnectCause::Authentication) {
    ///     eprintln!("check the role and password: {error}");
    /// }
    /// # }
    /// ```
    pub fn cause(&self) -> Option<ConnectCause> {
        match self {
            ConnectError::Connect { cause, .. } => Some(*cause),
            _ => None,
        }
    }

    /// A failed connection attempt. `secret` (the password, if any) is cut out of the detail.
    pub(crate) fn connect(
        server: String,
        schema: &str,
        source: sqlx::Error,
        secret: Option<&str>,
    ) -> Self {
        let mut detail = source.to_string();
        if let Some(secret) = secret.filter(|s| !s.is_empty()) {
            detail = detail.replace(secret, "***");
        }
        ConnectError::Connect {
            server,
            schema: schema.to_owned(),
            cause: ConnectCause::of(&source),
            detail,
            source: Some(source),
        }
    }

    /// No connection within `timeout`.
    pub(crate) fn timed_out(server: String, schema: &str, timeout: std::time::Duration) -> Self {
        ConnectError::Connect {
            server,
            schema: schema.to_owned(),
            cause: ConnectCause::TimedOut,
            detail: format!("no connection within {timeout:?} (the connect timeout)"),
            source: None,
        }
    }

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
