//! PostgreSQL adapter for es: filled by its own issue.
