//! Opening files: persistence across reopen, and clear errors for files that are not ours.

use es_core::{EventStore, ExpectedVersion, NewEvent, StreamId, Version};
use es_sqlite::{OpenError, SqliteStore};
use futures::TryStreamExt;
use serde_json::json;
use std::path::PathBuf;

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("es-sqlite-open-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn events_survive_reopening_the_file() {
    let dir = TempDir::new();
    let path = dir.0.join("nested/dir/app.db");
    let stream = StreamId::new("s-1").unwrap();
    {
        let store = SqliteStore::open(&path).await.unwrap();
        store
            .append(
                &stream,
                ExpectedVersion::NoStream,
                vec![NewEvent::raw("t", 1, json!({ "n": 1 }))],
            )
            .await
            .unwrap();
        store.close().await;
    }
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.stream_version(&stream).await.unwrap(), Version(1));
    let events: Vec<_> = store
        .read_stream(&stream, Version(1))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events[0].payload, json!({ "n": 1 }));
    store
        .append(
            &stream,
            ExpectedVersion::Exact(Version(1)),
            vec![NewEvent::raw("t", 1, json!({}))],
        )
        .await
        .unwrap();
    assert_eq!(store.stream_version(&stream).await.unwrap(), Version(2));
    store.close().await;
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_a_clear_error() {
    let dir = TempDir::new();
    let path = dir.0.join("notes.txt");
    std::fs::write(&path, "these are my notes, not a database ".repeat(200)).unwrap();
    let error = SqliteStore::open(&path).await.unwrap_err();
    assert!(
        matches!(error, OpenError::NotADatabase { .. }),
        "got {error:?}"
    );
    assert!(
        error.to_string().contains("is not an SQLite database"),
        "{error}"
    );
    let kept = std::fs::read_to_string(&path).unwrap();
    assert!(
        kept.starts_with("these are my notes"),
        "the file must be left untouched"
    );
}

#[tokio::test]
async fn foreign_tables_with_our_names_are_an_incompatible_schema() {
    let dir = TempDir::new();
    let path = dir.0.join("foreign.db");
    let pool = sqlx::SqlitePool::connect_with(
        sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true),
    )
    .await
    .unwrap();
    sqlx::query("CREATE TABLE es_events (id INTEGER PRIMARY KEY, body TEXT)")
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let error = SqliteStore::open(&path).await.unwrap_err();
    assert!(
        matches!(error, OpenError::IncompatibleSchema { .. }),
        "got {error:?}"
    );
    assert!(error.to_string().contains("incompatible schema"), "{error}");
}

#[tokio::test]
async fn a_schema_from_a_newer_version_is_an_incompatible_schema() {
    let dir = TempDir::new();
    let path = dir.0.join("newer.db");
    let store = SqliteStore::open(&path).await.unwrap();
    // What a future es-sqlite would leave behind: a migration this version does not know.
    sqlx::query(
        "INSERT INTO _es_migrations (version, description, success, checksum, execution_time)
         VALUES (9999, 'from the future', TRUE, X'00', 0)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    store.close().await;
    let error = SqliteStore::open(&path).await.unwrap_err();
    assert!(
        matches!(error, OpenError::IncompatibleSchema { .. }),
        "got {error:?}"
    );
    assert!(error.to_string().contains("newer es-sqlite"), "{error}");
}

#[tokio::test]
async fn an_application_can_keep_its_own_sqlx_migrations_in_the_same_file() {
    let dir = TempDir::new();
    let path = dir.0.join("shared.db");
    let store = SqliteStore::open(&path).await.unwrap();
    // An application's own migration table, with versions unknown to es-sqlite.
    sqlx::query("CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL, installed_on TEXT, success BOOLEAN NOT NULL, checksum BLOB NOT NULL, execution_time BIGINT NOT NULL)")
        .execute(store.pool())
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations VALUES (20240101, 'app tables', NULL, TRUE, X'01', 1)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    store.close().await;
    SqliteStore::open(&path)
        .await
        .expect("es migrations live apart from the application's");
}

#[tokio::test]
async fn stored_events_cannot_be_updated_or_deleted() {
    let dir = TempDir::new();
    let store = SqliteStore::open(dir.0.join("immutable.db")).await.unwrap();
    let stream = StreamId::new("s").unwrap();
    store
        .append(
            &stream,
            ExpectedVersion::NoStream,
            vec![NewEvent::raw("t", 1, json!({ "n": 1 }))],
        )
        .await
        .unwrap();
    for sql in [
        "UPDATE es_events SET payload = '{}'",
        "DELETE FROM es_events",
    ] {
        let error = sqlx::query(sql).execute(store.pool()).await.unwrap_err();
        assert!(
            error.to_string().contains("stored events are immutable"),
            "{sql}: {error}"
        );
    }
    let events: Vec<_> = store
        .read_stream(&stream, Version(1))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events[0].payload, json!({ "n": 1 }));
    store.close().await;
}
