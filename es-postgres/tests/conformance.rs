//! The PostgreSQL store passes the shared conformance suite, each test in its own schema.

mod common;

es_core::conformance_suite!(common::store, common::drop_store);

/// A row written by SQL whose metadata does not decode is named by every reader and parked by a
/// parking projection (the in-memory store cannot hold one, so this check is the adapters' own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_rows_are_named_and_parked() {
    let store = common::store().await;
    es_core::testkit::undecodable_rows_are_named_and_parked(
        store.clone(),
        |store: es_postgres::PgStore, stream, version| async move {
            let insert = format!(
                "INSERT INTO {}.es_events
                   (event_id, stream_id, version, event_type, schema_version, payload, metadata)
                 VALUES ($1, $2, $3, 'testkit.noted', 2, '{{\"text\":\"bad\"}}', '{{\"actor\": 5}}')",
                store.schema().quoted()
            );
            sqlx::query(sqlx::AssertSqlSafe(insert))
                .bind(uuid::Uuid::now_v7())
                .bind(stream.as_str())
                .bind(i64::try_from(version.0).unwrap())
                .execute(store.pool())
                .await
                .expect("insert a row with undecodable metadata");
        },
    )
    .await;
    common::drop_store(store).await;
}
