//! Test databases: each test gets its own uniquely named schema on the server in `DATABASE_URL`,
//! dropped at the end.
#![allow(dead_code)]

use es_postgres::{PgStore, PgStoreBuilder};
use sqlx::AssertSqlSafe;

/// The server to test against. Missing is a failure, never a silent pass.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "DATABASE_URL is not set: these tests need PostgreSQL. Run `bash scripts/test`, \
             which starts a server and sets it (or set DATABASE_URL yourself)."
        )
    })
}

/// A fresh, unique schema name.
pub fn unique_schema() -> String {
    format!("es_t_{}", uuid::Uuid::now_v7().simple())
}

/// A store in a fresh schema.
pub async fn store() -> PgStore {
    store_with(PgStore::builder()).await
}

/// A store in a fresh schema, from a builder (its schema is replaced).
pub async fn store_with(builder: PgStoreBuilder) -> PgStore {
    builder
        .schema(unique_schema())
        .max_connections(16)
        .connect(&database_url())
        .await
        .expect("connect and migrate a fresh schema")
}

/// Drops the store's schema and closes its pool.
pub async fn drop_store(store: PgStore) {
    let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", store.schema().quoted());
    sqlx::query(AssertSqlSafe(sql))
        .execute(store.pool())
        .await
        .expect("drop the test schema");
    store.close().await;
}
