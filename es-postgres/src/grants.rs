//! [`PgStore::grant_application_role`]: the least privileges an application role needs, as code.

use crate::classify::store_error;
use crate::store::{MIGRATIONS_TABLE, PgStore};
use es_core::{InputError, StoreError};
use sqlx::AssertSqlSafe;

/// The columns of `es_events` an application role may write. Everything else (`global_position`,
/// `tx_id`, `recorded_at`) is assigned by the database, never by the writer.
pub(crate) const APPLICATION_INSERT_COLUMNS: &str =
    "event_id, stream_id, version, event_type, schema_version, payload, metadata, tags";

/// The tables an application role reads and writes as it likes (snapshots are a cache, checkpoints
/// and dead letters are the projections' bookkeeping).
const READ_WRITE_TABLES: [&str; 4] = [
    "es_snapshots",
    "es_checkpoints",
    "es_dead_letters",
    "es_keys",
];

/// The longest role name PostgreSQL keeps (`NAMEDATALEN - 1`).
const MAX_ROLE_NAME_LEN: usize = 63;

/// Validates a role name (the rules of [`SchemaName`](crate::SchemaName), with PostgreSQL's 63
/// bytes, and not one of the reserved names `public` and `none`), and quotes it.
fn quoted_role(role: &str) -> Result<String, StoreError> {
    let reason = if role.is_empty() {
        Some("it is empty")
    } else if role.len() > MAX_ROLE_NAME_LEN {
        Some("it is longer than 63 bytes")
    } else if !role.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        Some("only ASCII letters, digits and `_` are allowed")
    } else if role.starts_with(|c: char| c.is_ascii_digit()) {
        Some("it must start with a letter or `_`")
    } else if role.to_ascii_lowercase().starts_with("pg_") {
        Some("names starting with `pg_` are reserved by PostgreSQL")
    } else if ["public", "none"].contains(&role.to_ascii_lowercase().as_str()) {
        Some("it is reserved (`public` would grant to every role)")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(InputError::InvalidName {
            what: "role name",
            name: es_core::limits::shorten(role),
            reason,
        }
        .into()),
        // Validation rules out `"`, but quote as PostgreSQL does anyway.
        None => Ok(format!("\"{}\"", role.replace('"', "\"\""))),
    }
}

/// The statements that give `role` exactly the application privileges on the tables of `schema`
/// (both quoted).
pub(crate) fn application_grants(schema: &str, role: &str) -> Vec<String> {
    let s = schema;
    let tables = READ_WRITE_TABLES.map(|t| format!("{s}.{t}")).join(", ");
    vec![
        // Table-level first (this also revokes any column privileges): what an earlier, broader
        // grant left behind must not survive, e.g. INSERT on every column of es_events.
        format!(
            "REVOKE ALL ON {s}.es_events, {s}.{MIGRATIONS_TABLE}, {s}.es_forgotten, {tables} FROM {role}"
        ),
        format!("GRANT USAGE ON SCHEMA {s} TO {role}"),
        format!("GRANT SELECT ON {s}.es_events TO {role}"),
        format!("GRANT INSERT ({APPLICATION_INSERT_COLUMNS}) ON {s}.es_events TO {role}"),
        format!("GRANT SELECT, INSERT, UPDATE, DELETE ON {tables} TO {role}"),
        // The record of forgettings is append-only for the application.
        format!("GRANT SELECT, INSERT ON {s}.es_forgotten TO {role}"),
    ]
}

impl PgStore {
    /// Grants `role` exactly what an application needs to run this store in its schema, and
    /// revokes anything more it had on the store's tables. Run it as the role that migrated the
    /// schema (its owner), after [`migrate`](PgStore::migrate); it is idempotent.
    ///
    /// The role gets:
    ///
    /// - `USAGE` on the schema;
    /// - `SELECT` on `es_events`, and `INSERT` on its columns `event_id, stream_id, version,
    ///   event_type, schema_version, payload, metadata` only: it cannot name `tx_id`,
    ///   `recorded_at` or `global_position` (not even with `OVERRIDING SYSTEM VALUE`), which the
    ///   database assigns; no `UPDATE`, `DELETE` or `TRUNCATE`;
    /// - `SELECT, INSERT, UPDATE, DELETE` on `es_snapshots`, `es_checkpoints`,
    ///   `es_dead_letters` and `es_keys` (projections park events and lock, save and reset
    ///   checkpoints; the dead letters' identity column needs no sequence privilege; personal
    ///   data keys are created and deleted), and `SELECT, INSERT` on `es_forgotten`;
    /// - nothing on `_es_migrations`, and no `CREATE` on the schema.
    ///
    /// Leases (advisory locks) and `LISTEN`/`NOTIFY` need no privileges. A trigger checks every
    /// insert, the owner's too: each stream's next versions only, with the real transaction id
    /// and time (see the [crate docs](crate#immutability-and-least-privilege)).
    ///
    /// The role must exist; its name is validated like a [`SchemaName`](crate::SchemaName) (up
    /// to 63 bytes; `public` and `none` are refused) and quoted, so it is case-sensitive.
    ///
    /// ```no_run
    /// use es_postgres::PgStore;
    /// # async fn run(owner_url: &str, app_url: &str) -> Result<(), Box<dyn std::error::Error>> {
    /// // Once, at deployment, as the schema's owner:
    /// let owner = PgStore::builder().schema("billing").connect(owner_url).await?;
    /// owner.grant_application_role("billing_app").await?;
    /// owner.close().await;
    ///
    /// // The application, connecting as billing_app:
    /// let store = PgStore::builder().schema("billing").migrate(false).connect(app_url).await?;
    /// # Ok(()) }
    /// ```
    pub async fn grant_application_role(&self, role: &str) -> Result<(), StoreError> {
        let role = quoted_role(role)?;
        let statements = application_grants(&self.schema().quoted(), &role);
        let mut tx = self.pool().begin().await.map_err(store_error)?;
        for statement in statements {
            // Safe: constant text, a validated and quoted schema name and role name.
            sqlx::query(AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
        }
        tx.commit().await.map_err(store_error)?;
        tracing::info!(schema = %self.schema(), %role, "granted the es application privileges");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_that_could_break_sql_or_widen_the_grant_are_refused() {
        for role in [
            "",
            "app\"; DROP SCHEMA billing CASCADE; --",
            "app role",
            "1app",
            "pg_monitor",
            "public",
            "PUBLIC",
            "none",
            &"r".repeat(64),
        ] {
            assert!(quoted_role(role).is_err(), "{role:?} must be refused");
        }
        assert_eq!(quoted_role("Billing_App").unwrap(), "\"Billing_App\"");
        assert!(quoted_role(&"r".repeat(63)).is_ok());
    }

    #[test]
    fn the_grants_never_name_the_columns_the_database_assigns() {
        let grants = application_grants("\"billing\"", "\"app\"").join(";\n");
        for column in ["tx_id", "recorded_at", "global_position"] {
            assert!(!grants.contains(column), "{column}: {grants}");
        }
        assert!(!grants.contains("_es_migrations TO"), "{grants}");
        assert!(!grants.contains("TRUNCATE"), "{grants}");
    }
}
