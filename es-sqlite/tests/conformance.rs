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
