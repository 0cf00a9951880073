//! [`SchemaName`]: a validated PostgreSQL schema name, always quoted when it reaches SQL.

use std::fmt;

/// The longest schema name accepted, in bytes (PostgreSQL allows 63; the rest is kept for the
/// `LISTEN` channel name derived from it).
pub const MAX_SCHEMA_NAME_LEN: usize = 50;

/// A validated schema name: ASCII letters, digits and `_`, starting with a letter or `_`, at most
/// [`MAX_SCHEMA_NAME_LEN`] bytes, and not a reserved `pg_` name.
///
/// Validation is the first line of defence; the name is also always double-quoted in SQL, so even
/// a name that passed by mistake could not change a statement.
///
/// ```
/// use es_postgres::SchemaName;
/// assert_eq!(SchemaName::new("billing").unwrap().quoted(), "\"billing\"");
/// assert!(SchemaName::new("billing; DROP TABLE x").is_err());
/// assert!(SchemaName::new("pg_catalog").is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SchemaName(String);

/// A schema name that [`SchemaName::new`] rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid schema name {name:?}: {reason}")]
pub struct InvalidSchemaName {
    /// The rejected name.
    pub name: String,
    /// Why it was rejected.
    pub reason: &'static str,
}

impl SchemaName {
    /// Validates a schema name.
    pub fn new(name: impl Into<String>) -> Result<Self, InvalidSchemaName> {
        let name = name.into();
        let reason = if name.is_empty() {
            Some("it is empty")
        } else if name.len() > MAX_SCHEMA_NAME_LEN {
            Some("it is longer than 50 bytes")
        } else if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            Some("only ASCII letters, digits and `_` are allowed")
        } else if name.starts_with(|c: char| c.is_ascii_digit()) {
            Some("it must start with a letter or `_`")
        } else if name.to_ascii_lowercase().starts_with("pg_") {
            Some("names starting with `pg_` are reserved by PostgreSQL")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(InvalidSchemaName { name, reason }),
            None => Ok(Self(name)),
        }
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as a quoted SQL identifier.
    pub fn quoted(&self) -> String {
        // Validation rules out `"`, but quote as PostgreSQL does anyway.
        format!("\"{}\"", self.0.replace('"', "\"\""))
    }

    /// The `NOTIFY` channel of this schema's store.
    pub(crate) fn channel(&self) -> String {
        format!("{}.es_events", self.0)
    }
}

impl Default for SchemaName {
    fn default() -> Self {
        Self("public".to_owned())
    }
}

impl fmt::Display for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_names_and_keeps_case() {
        for name in ["billing", "Billing_2", "_private", "a"] {
            let schema = SchemaName::new(name).unwrap();
            assert_eq!(schema.quoted(), format!("\"{name}\""));
        }
    }

    #[test]
    fn rejects_names_that_could_break_sql() {
        for name in [
            "",
            "a\"b",
            "x; DROP SCHEMA public",
            "bill-ing",
            "billing ",
            "1st",
            "pg_temp",
            "PG_toast",
            "ünïcode",
            &"x".repeat(51),
        ] {
            assert!(SchemaName::new(name).is_err(), "{name:?} must be rejected");
        }
    }
}
