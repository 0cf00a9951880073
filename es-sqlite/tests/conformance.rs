//! The SQLite store passes the shared conformance suite, each test on its own database file.

use es_sqlite::SqliteStore;
use std::path::PathBuf;

fn db_path() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("es-sqlite-conformance")
        .join(format!("{}.db", uuid::Uuid::now_v7()))
}

async fn open() -> SqliteStore {
    SqliteStore::open(db_path())
        .await
        .expect("open a fresh SQLite store")
}

async fn remove(store: SqliteStore) {
    let path = store.pool().connect_options().get_filename().to_path_buf();
    store.close().await;
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.clone().into_os_string();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }
}

es_core::conformance_suite!(open, remove);

/// A row written by SQL whose metadata does not decode is named by every reader and parked by a
/// parking projection (the in-memory store cannot hold one, so this check is the adapters' own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_rows_are_named_and_parked() {
    let store = open().await;
    es_core::testkit::undecodable_rows_are_named_and_parked(
        store.clone(),
        |store: SqliteStore, stream, version| async move {
            sqlx::query(
                "INSERT INTO es_events
                   (event_id, stream_id, version, event_type, schema_version, payload, metadata, recorded_at)
                 VALUES (?1, ?2, ?3, 'testkit.noted', 2, '{\"text\":\"bad\"}', '{\"actor\": 5}', 0)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(stream.as_str())
            .bind(i64::try_from(version.0).unwrap())
            .execute(store.pool())
            .await
            .expect("insert a row with undecodable metadata");
        },
    )
    .await;
    remove(store).await;
}
