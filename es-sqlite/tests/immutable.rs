//! No write path alters or forges the log of a real SQLite file: every statement that would change,
//! replace or move a stored event, or write a version or position out of order, fails with the
//! store's "stored events are immutable" (or "versions are contiguous") error, and the stored
//! events read back exactly as before.

use es_core::dcb::{Query, QueryItem};
use es_core::{EventStore, ExpectedVersion, NewEvent, ReadAll, RecordedEvent, StreamId, Version};
use es_sqlite::SqliteStore;
use futures::TryStreamExt;
use serde_json::json;
use std::path::PathBuf;

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("es-sqlite-immutable-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const IMMUTABLE: &str = "es: stored events are immutable";
const CONTIGUOUS: &str = "es: stream versions are contiguous";

/// A file with stream `s` at version 2 and stream `t` at version 1, and what it reads back.
async fn store_with_events(dir: &TempDir) -> (SqliteStore, Vec<RecordedEvent>) {
    let store = SqliteStore::open(dir.0.join("app.db")).await.unwrap();
    let s = StreamId::new("s").unwrap();
    let t = StreamId::new("t").unwrap();
    store
        .append(
            &s,
            ExpectedVersion::NoStream,
            vec![
                NewEvent::raw("t.happened", 1, json!({ "n": 1 })),
                NewEvent::raw("t.happened", 1, json!({ "n": 2 })),
            ],
        )
        .await
        .unwrap();
    store
        .append(
            &t,
            ExpectedVersion::NoStream,
            vec![NewEvent::raw("t.happened", 1, json!({ "n": 3 }))],
        )
        .await
        .unwrap();
    let log = read_back(&store).await;
    assert_eq!(log.len(), 3);
    (store, log)
}

async fn read_back(store: &SqliteStore) -> Vec<RecordedEvent> {
    store.read_all(ReadAll::new()).try_collect().await.unwrap()
}

async fn stream(store: &SqliteStore, name: &str) -> Vec<RecordedEvent> {
    store
        .read_stream(&StreamId::new(name).unwrap(), Version(1))
        .try_collect()
        .await
        .unwrap()
}

/// Runs `sql` through the store's pool, expects it to fail with `expected` in the message, and
/// checks that the log, both streams and the next append are as before.
async fn rejected(store: &SqliteStore, before: &[RecordedEvent], sql: &str, expected: &str) {
    let error = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(store.pool())
        .await
        .expect_err(sql)
        .to_string();
    assert!(error.contains(expected), "{sql}: {error}");
    assert_eq!(read_back(store).await, before, "{sql} changed the log");
    assert_eq!(
        stream(store, "s").await,
        before[..2],
        "{sql} changed stream s"
    );
    assert_eq!(
        stream(store, "t").await,
        before[2..],
        "{sql} changed stream t"
    );
}

const COLUMNS: &str =
    "event_id, stream_id, version, event_type, schema_version, payload, metadata, recorded_at";

/// The values of a row, with `payload` `{"forged": true}`.
fn values(event_id: &str, stream: &str, version: u64) -> String {
    format!(
        "'{event_id}', '{stream}', {version}, 't.happened', 1, '{{\"forged\":true}}', '{{}}', 1"
    )
}

#[tokio::test]
async fn update_delete_and_update_or_replace_are_rejected() {
    let dir = TempDir::new();
    let (store, before) = store_with_events(&dir).await;
    for (sql, op) in [
        ("UPDATE es_events SET payload = '{}'", "UPDATE"),
        ("UPDATE es_events SET position = position + 100", "UPDATE"),
        (
            "UPDATE OR REPLACE es_events SET version = 1 WHERE version = 2",
            "UPDATE",
        ),
        ("DELETE FROM es_events", "DELETE"),
        (
            "DELETE FROM es_events WHERE stream_id = 's' AND version = 2",
            "DELETE",
        ),
    ] {
        rejected(&store, &before, sql, &format!("{IMMUTABLE} ({op}")).await;
    }
    store.close().await;
}

#[tokio::test]
async fn replacing_a_stored_event_by_position_id_or_version_is_rejected() {
    let dir = TempDir::new();
    let (store, before) = store_with_events(&dir).await;
    let first = &before[0].meta;
    let second = &before[1].meta;
    let (p1, id1) = (first.position.0, first.event_id.0);
    let id2 = second.event_id.0;
    let fresh = uuid::Uuid::now_v7();
    for sql in [
        // Rewrite the stored event in place: same position, same id, same stream version.
        format!(
            "INSERT OR REPLACE INTO es_events (position, {COLUMNS}) VALUES ({p1}, {})",
            values(&id1.to_string(), "s", 1)
        ),
        format!(
            "REPLACE INTO es_events (position, {COLUMNS}) VALUES ({p1}, {})",
            values(&id1.to_string(), "s", 1)
        ),
        // Move (s, 2) to a new position under a new id: a REPLACE fires no delete trigger.
        format!(
            "REPLACE INTO es_events ({COLUMNS}) VALUES ({})",
            values(&fresh.to_string(), "s", 2)
        ),
        // Take over a stored id in another stream, at a version that would be free there.
        format!(
            "INSERT OR REPLACE INTO es_events ({COLUMNS}) VALUES ({})",
            values(&id2.to_string(), "t", 2)
        ),
        // Take over a stored position only.
        format!(
            "INSERT OR REPLACE INTO es_events (position, {COLUMNS}) VALUES ({p1}, {})",
            values(&fresh.to_string(), "t", 2)
        ),
        // Upserts.
        format!(
            "INSERT INTO es_events ({COLUMNS}) VALUES ({}) ON CONFLICT DO UPDATE SET payload = excluded.payload",
            values(&id1.to_string(), "s", 1)
        ),
        format!(
            "INSERT INTO es_events ({COLUMNS}) VALUES ({})
             ON CONFLICT (stream_id, version) DO UPDATE SET payload = excluded.payload",
            values(&fresh.to_string(), "s", 2)
        ),
        format!(
            "INSERT INTO es_events (position, {COLUMNS}) VALUES ({p1}, {})
             ON CONFLICT (position) DO UPDATE SET payload = excluded.payload",
            values(&fresh.to_string(), "t", 2)
        ),
        // Plain inserts and the other conflict clauses over a stored event.
        format!(
            "INSERT INTO es_events ({COLUMNS}) VALUES ({})",
            values(&fresh.to_string(), "s", 2)
        ),
        format!(
            "INSERT OR IGNORE INTO es_events ({COLUMNS}) VALUES ({})",
            values(&id1.to_string(), "s", 1)
        ),
        format!(
            "INSERT OR FAIL INTO es_events ({COLUMNS}) VALUES ({})",
            values(&id1.to_string(), "s", 1)
        ),
    ] {
        rejected(&store, &before, &sql, IMMUTABLE).await;
    }
    store.close().await;
}

#[tokio::test]
async fn versions_out_of_order_and_positions_behind_the_log_are_rejected() {
    let dir = TempDir::new();
    let (store, before) = store_with_events(&dir).await;
    let id = || uuid::Uuid::now_v7().to_string();
    for (sql, expected) in [
        // A gap: stream s is at version 2.
        (
            format!(
                "INSERT INTO es_events ({COLUMNS}) VALUES ({})",
                values(&id(), "s", 1000)
            ),
            CONTIGUOUS,
        ),
        // A new stream must start at 1.
        (
            format!(
                "INSERT INTO es_events ({COLUMNS}) VALUES ({})",
                values(&id(), "u", 2)
            ),
            CONTIGUOUS,
        ),
        // A REPLACE cannot get around it.
        (
            format!(
                "REPLACE INTO es_events ({COLUMNS}) VALUES ({})",
                values(&id(), "s", 4)
            ),
            CONTIGUOUS,
        ),
        // The right version at a position before the log's first.
        (
            format!(
                "INSERT INTO es_events (position, {COLUMNS}) VALUES (0, {})",
                values(&id(), "s", 3)
            ),
            IMMUTABLE,
        ),
        (
            format!(
                "INSERT INTO es_events (position, {COLUMNS}) VALUES (-5, {})",
                values(&id(), "s", 3)
            ),
            IMMUTABLE,
        ),
    ] {
        rejected(&store, &before, &sql, expected).await;
    }

    // A position may jump ahead (readers behind it still get it), but then nothing may be
    // written into the gap behind it: readers that passed the gap would never see that event.
    let head = before[2].meta.position.0;
    let ahead = format!(
        "INSERT INTO es_events (position, {COLUMNS}) VALUES ({}, {})",
        head + 10,
        values(&id(), "t", 2)
    );
    sqlx::query(sqlx::AssertSqlSafe(ahead))
        .execute(store.pool())
        .await
        .expect("the next version at a later position");
    let with_jump = read_back(&store).await;
    assert_eq!(with_jump.len(), 4);
    assert_eq!(with_jump[3].meta.position.0, head + 10);
    let behind = format!(
        "INSERT INTO es_events (position, {COLUMNS}) VALUES ({}, {})",
        head + 5,
        values(&id(), "s", 3)
    );
    let error = sqlx::query(sqlx::AssertSqlSafe(behind))
        .execute(store.pool())
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains(IMMUTABLE), "{error}");
    assert_eq!(read_back(&store).await, with_jump);

    // The store itself still appends, after the failed statements, at the next version and
    // position.
    let s = StreamId::new("s").unwrap();
    let appended = store
        .append(
            &s,
            ExpectedVersion::Exact(Version(2)),
            vec![NewEvent::raw("t.happened", 1, json!({ "n": 4 }))],
        )
        .await
        .unwrap();
    assert_eq!(appended.events[0].version, Version(3));
    assert!(appended.events[0].position.0 > head + 10);
    let after = read_back(&store).await;
    assert_eq!(after[..4], with_jump[..]);
    assert_eq!(after.len(), 5);
    store.close().await;
}

#[tokio::test]
async fn the_store_still_appends_batches_and_retries_after_the_triggers() {
    let dir = TempDir::new();
    let (store, before) = store_with_events(&dir).await;
    let t = StreamId::new("t").unwrap();
    let batch = vec![
        NewEvent::raw("t.happened", 1, json!({ "n": 5 })),
        NewEvent::raw("t.happened", 1, json!({ "n": 6 })),
        NewEvent::raw("t.happened", 1, json!({ "n": 7 })),
    ];
    let first = store
        .append(&t, ExpectedVersion::Exact(Version(1)), batch.clone())
        .await
        .unwrap();
    assert!(!first.already_appended);
    assert_eq!(
        first.events.iter().map(|e| e.version).collect::<Vec<_>>(),
        [Version(2), Version(3), Version(4)]
    );
    // A retry of the same batch is recognised, not rejected by a trigger.
    let again = store
        .append(&t, ExpectedVersion::Exact(Version(1)), batch)
        .await
        .unwrap();
    assert!(again.already_appended);
    assert_eq!(again.events, first.events);
    // A stale writer still gets a conflict.
    let stale = store
        .append(
            &t,
            ExpectedVersion::Exact(Version(1)),
            vec![NewEvent::raw("t.happened", 1, json!({}))],
        )
        .await
        .unwrap_err();
    assert!(stale.is_conflict(), "{stale}");
    assert_eq!(read_back(&store).await[..3], before[..]);
    store.close().await;
}

#[tokio::test]
async fn the_tag_index_cannot_be_forged_changed_or_emptied() {
    let dir = TempDir::new();
    let store = SqliteStore::open(dir.0.join("app.db")).await.unwrap();
    let s = StreamId::new("course-c1").unwrap();
    store
        .append(
            &s,
            ExpectedVersion::NoStream,
            vec![NewEvent::raw("t.happened", 1, json!({})).with_tags(["course:c1"])],
        )
        .await
        .unwrap();
    let by_tag = |tag: &'static str| {
        let store = store.clone();
        async move {
            let query = Query::item(QueryItem::new().tags([tag]));
            store
                .read_all(ReadAll::new().matching(query))
                .try_collect::<Vec<_>>()
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(by_tag("course:c1").await, 1);
    for sql in [
        // A tag the event does not have, a repeated one, and a REPLACE of the stored one.
        "INSERT INTO es_event_tags (tag, position) VALUES ('course:c2', 1)",
        "INSERT INTO es_event_tags (tag, position) VALUES ('course:c1', 1)",
        "INSERT OR REPLACE INTO es_event_tags (tag, position) VALUES ('course:c1', 1)",
        "INSERT OR IGNORE INTO es_event_tags (tag, position) VALUES ('course:c2', 1)",
        "UPDATE es_event_tags SET tag = 'course:c2'",
        "DELETE FROM es_event_tags",
    ] {
        let error = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(store.pool())
            .await
            .expect_err(sql)
            .to_string();
        assert!(error.contains(IMMUTABLE), "{sql}: {error}");
    }
    assert_eq!(by_tag("course:c1").await, 1);
    assert_eq!(by_tag("course:c2").await, 0);
    // Tags that are not a JSON array of strings cannot be inserted either.
    let error = sqlx::query(
        "INSERT INTO es_events (event_id, stream_id, version, event_type, schema_version, payload, metadata, recorded_at, tags)
         VALUES ('00000000-0000-0000-0000-000000000001', 'x', 1, 't', 1, '{}', '{}', 1, 'not json')",
    )
    .execute(store.pool())
    .await
    .expect_err("malformed tags")
    .to_string();
    assert!(error.contains("malformed JSON"), "{error}");
    store.close().await;
}

#[tokio::test]
async fn nothing_is_inserted_after_a_tombstone_by_sql_either() {
    let dir = TempDir::new();
    let (store, _) = store_with_events(&dir).await;
    let s = StreamId::new("s").unwrap();
    store
        .delete_stream(
            &s,
            ExpectedVersion::Exact(Version(2)),
            es_core::Metadata::new().with_actor("ops"),
            "test",
        )
        .await
        .unwrap();
    let before = read_back(&store).await;
    assert_eq!(before.len(), 4);
    let sql = format!(
        "INSERT INTO es_events ({COLUMNS}) VALUES ({})",
        values(&uuid::Uuid::now_v7().to_string(), "s", 4)
    );
    let error = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
        .execute(store.pool())
        .await
        .expect_err(&sql)
        .to_string();
    assert!(
        error.contains("es: the stream is deleted"),
        "{sql}: {error}"
    );
    assert_eq!(read_back(&store).await, before, "nothing was written");
    // Other streams take SQL inserts as before.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO es_events ({COLUMNS}) VALUES ({})",
        values(&uuid::Uuid::now_v7().to_string(), "t", 2)
    )))
    .execute(store.pool())
    .await
    .unwrap();
}
