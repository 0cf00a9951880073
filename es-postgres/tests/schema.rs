//! Schemas, migrations, immutability, least privilege and notifications.

mod common;

use es_core::{
    Checkpoint, CheckpointStore, EventStore, ExpectedVersion, NewEvent, Position, ReadAll,
    Snapshot, SnapshotStore, StreamId, Version,
};
use es_postgres::{ConnectError, PgStore};
use futures::TryStreamExt;
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgPool};
use std::str::FromStr;
use std::time::Duration;

fn event(n: i64) -> NewEvent {
    NewEvent::raw("t.happened", 1, json!({ "n": n }))
}

async fn admin() -> PgPool {
    PgPoolOptions::new()
        .max_connections(2)
        .connect(&common::database_url())
        .await
        .unwrap()
}

async fn exec(pool: &PgPool, sql: String) {
    sqlx::query(AssertSqlSafe(sql.clone()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn drop_schema(pool: &PgPool, schema: &str) {
    exec(pool, format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE")).await;
    common::forget(schema);
}

#[tokio::test]
async fn unsafe_schema_names_are_rejected_before_any_sql() {
    for name in [
        "billing; DROP SCHEMA public CASCADE",
        "bill\"ing",
        "",
        "pg_catalog",
        "a b",
    ] {
        let error = PgStore::builder()
            .schema(name)
            .connect(&common::database_url())
            .await
            .unwrap_err();
        assert!(
            matches!(error, ConnectError::InvalidSchemaName(_)),
            "{name:?}: {error:?}"
        );
        assert!(error.to_string().contains("invalid schema name"), "{error}");
    }
    // The names were never executed: public is still there.
    let pool = admin().await;
    let public: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public')")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(public);
}

#[tokio::test]
async fn a_mixed_case_schema_is_quoted_and_used_verbatim() {
    let schema = format!("Es_Mixed_{}", uuid::Uuid::now_v7().simple());
    common::register(&schema);
    let store = PgStore::builder()
        .schema(&schema)
        .connect(&common::database_url())
        .await
        .unwrap();
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY tablename",
    )
    .bind(&schema)
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(
        tables,
        [
            "_es_migrations",
            "es_checkpoints",
            "es_dead_letters",
            "es_events",
            "es_forgotten",
            "es_keys",
            "es_snapshots"
        ]
    );
    let folded: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema.to_lowercase())
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert!(!folded, "the name must not be case-folded");
    let s = StreamId::new("s").unwrap();
    store
        .append(&s, ExpectedVersion::NoStream, vec![event(1)])
        .await
        .unwrap();
    assert_eq!(store.stream_version(&s).await.unwrap(), Version(1));
    common::drop_store(store).await;
}

#[tokio::test]
async fn migrate_is_idempotent_and_safe_to_run_concurrently() {
    let schema = common::unique_schema();
    common::register(&schema);
    let url = common::database_url();
    let open = || PgStore::builder().schema(&schema).connect(&url);
    // Four processes' worth of stores starting at once on a schema that does not exist yet.
    let stores = futures::future::try_join_all((0..4).map(|_| open()))
        .await
        .expect("concurrent first migrations");
    let store = stores[0].clone();
    let s = StreamId::new("s").unwrap();
    store
        .append(&s, ExpectedVersion::NoStream, vec![event(1)])
        .await
        .unwrap();
    for _ in 0..3 {
        store.migrate().await.unwrap();
    }
    let again = open().await.unwrap();
    let (applied, distinct): (i64, i64) = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT count(*), count(DISTINCT version) FROM {}._es_migrations WHERE success",
        store.schema().quoted()
    )))
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(applied, distinct, "no migration recorded twice");
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .unwrap()
        .filter(|f| {
            f.as_ref()
                .is_ok_and(|f| f.path().extension().is_some_and(|e| e == "sql"))
        })
        .count();
    assert_eq!(
        applied, shipped as i64,
        "every shipped migration applied once"
    );
    assert_eq!(again.stream_version(&s).await.unwrap(), Version(1));
    for st in stores.into_iter().skip(1) {
        st.close().await;
    }
    again.close().await;
    common::drop_store(store).await;
}

#[tokio::test]
async fn an_application_keeps_its_own_sqlx_migrations_beside_the_store() {
    let store = common::store().await;
    let s = store.schema().quoted();
    // The application's own migrations, in the same schema, with versions unknown to es.
    exec(
        store.pool(),
        format!(
        "CREATE TABLE {s}._sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
             installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL,
             checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL)"
    ),
    )
    .await;
    exec(
        store.pool(),
        format!("INSERT INTO {s}._sqlx_migrations VALUES (20240101, 'app tables', now(), TRUE, '\\x01', 1)"),
    )
    .await;
    store.migrate().await.expect("es migrations live apart");
    let reopened = PgStore::builder()
        .schema(store.schema().as_str())
        .connect(&common::database_url())
        .await
        .expect("reopen beside the application's migrations");
    reopened.close().await;
    common::drop_store(store).await;
}

#[tokio::test]
async fn foreign_tables_with_our_names_are_an_incompatible_schema() {
    let pool = admin().await;
    let schema = common::unique_schema();
    common::register(&schema);
    exec(&pool, format!("CREATE SCHEMA \"{schema}\"")).await;
    exec(
        &pool,
        format!("CREATE TABLE \"{schema}\".es_events (id int PRIMARY KEY, body text)"),
    )
    .await;
    let error = PgStore::builder()
        .schema(&schema)
        .connect(&common::database_url())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectError::IncompatibleSchema { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("incompatible"), "{error}");
    drop_schema(&pool, &schema).await;
}

#[tokio::test]
async fn migrations_from_a_newer_version_are_an_incompatible_schema() {
    let store = common::store().await;
    exec(
        store.pool(),
        format!(
            "INSERT INTO {}._es_migrations (version, description, success, checksum, execution_time)
             VALUES (9999, 'from the future', TRUE, '\\x00', 0)",
            store.schema().quoted()
        ),
    )
    .await;
    let error = PgStore::builder()
        .schema(store.schema().as_str())
        .connect(&common::database_url())
        .await
        .unwrap_err();
    assert!(
        matches!(error, ConnectError::IncompatibleSchema { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("newer es-postgres"), "{error}");
    common::drop_store(store).await;
}

#[tokio::test]
async fn stored_events_cannot_be_updated_deleted_or_truncated() {
    let store = common::store().await;
    let s = StreamId::new("s").unwrap();
    store
        .append(&s, ExpectedVersion::NoStream, vec![event(1)])
        .await
        .unwrap();
    let t = format!("{}.es_events", store.schema().quoted());
    for (sql, op) in [
        (format!("UPDATE {t} SET payload = '{{}}'"), "UPDATE"),
        (format!("DELETE FROM {t}"), "DELETE"),
        (format!("TRUNCATE {t}"), "TRUNCATE"),
    ] {
        // Run as the owner (a superuser here): privileges do not stop it, the trigger does.
        let error = sqlx::query(AssertSqlSafe(sql.clone()))
            .execute(store.pool())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("stored events are immutable") && error.contains(op),
            "{sql}: {error}"
        );
    }
    let events: Vec<_> = store
        .read_stream(&s, Version(1))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].payload, json!({ "n": 1 }));
    common::drop_store(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_with_only_insert_and_select_on_events_runs_the_store() {
    let owner = common::store().await;
    let schema = owner.schema().quoted();
    let role = format!("es_app_{}", uuid::Uuid::now_v7().simple());
    // The documented least-privilege set-up (see the crate docs).
    for sql in [
        format!("CREATE ROLE {role} LOGIN"),
        format!("GRANT USAGE ON SCHEMA {schema} TO {role}"),
        format!("GRANT SELECT, INSERT ON {schema}.es_events TO {role}"),
        format!(
            "GRANT SELECT, INSERT, UPDATE ON {schema}.es_snapshots, {schema}.es_checkpoints TO {role}"
        ),
        format!("GRANT DELETE ON {schema}.es_checkpoints TO {role}"),
    ] {
        exec(owner.pool(), sql).await;
    }
    let options = PgConnectOptions::from_str(&common::database_url())
        .unwrap()
        .username(&role);
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(options)
        .await
        .unwrap();
    let app = PgStore::builder()
        .schema(owner.schema().as_str())
        .migrate(false)
        .pool(pool)
        .await
        .expect("open without migrating");

    let s = StreamId::new("s").unwrap();
    app.append(&s, ExpectedVersion::NoStream, vec![event(1), event(2)])
        .await
        .unwrap();
    let again = app
        .append(&s, ExpectedVersion::NoStream, vec![event(3)])
        .await
        .unwrap_err();
    assert!(again.is_conflict(), "{again}");
    let log: Vec<_> = app.read_all(ReadAll::new()).try_collect().await.unwrap();
    assert_eq!(log.len(), 2);
    app.save_snapshot(&Snapshot {
        stream_id: s.clone(),
        version: Version(2),
        schema_version: 1,
        state: json!({ "n": 2 }),
    })
    .await
    .unwrap();
    app.save_snapshot(&Snapshot {
        stream_id: s.clone(),
        version: Version(3),
        schema_version: 1,
        state: json!({ "n": 3 }),
    })
    .await
    .unwrap();
    let cp = Checkpoint::new(5, Position(2));
    app.save_checkpoint("p", cp).await.unwrap();
    app.save_checkpoint("p", cp).await.unwrap();
    assert_eq!(app.load_checkpoint("p").await.unwrap(), Some(cp));
    app.delete_checkpoint("p").await.unwrap();

    for sql in [
        format!("UPDATE {schema}.es_events SET payload = '{{}}'"),
        format!("DELETE FROM {schema}.es_events"),
        format!("TRUNCATE {schema}.es_events"),
        format!("CREATE TABLE {schema}.sneaky (id int)"),
    ] {
        let error = sqlx::query(AssertSqlSafe(sql.clone()))
            .execute(app.pool())
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("permission denied"), "{sql}: {error}");
    }
    let migrate = app.migrate().await.unwrap_err();
    assert!(
        matches!(
            migrate,
            ConnectError::Database { .. } | ConnectError::IncompatibleSchema { .. }
        ),
        "{migrate:?}"
    );
    app.close().await;

    let stored: Vec<_> = owner
        .read_stream(&s, Version(1))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(stored.len(), 2);
    common::drop_store(owner).await;
    let pool = admin().await;
    exec(&pool, format!("DROP ROLE {role}")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notifications_wake_listeners_only_when_turned_on() {
    let quiet = common::store().await;
    let mut wake = quiet.listen().await.unwrap();
    quiet
        .append(
            &StreamId::new("s").unwrap(),
            ExpectedVersion::Any,
            vec![event(1)],
        )
        .await
        .unwrap();
    assert!(
        !wake.wait(Duration::from_millis(300)).await.unwrap(),
        "a store without notify must not NOTIFY"
    );

    let loud = PgStore::builder()
        .schema(quiet.schema().as_str())
        .notify(true)
        .connect(&common::database_url())
        .await
        .unwrap();
    assert!(loud.notifies());
    loud.append(
        &StreamId::new("s").unwrap(),
        ExpectedVersion::Any,
        vec![event(2)],
    )
    .await
    .unwrap();
    assert!(
        wake.wait(Duration::from_secs(30)).await.unwrap(),
        "an append with notify on must wake a listener in another session"
    );
    // A conflicting append stores nothing and may or may not notify; the listener only re-polls.
    assert_eq!(
        loud.stream_version(&StreamId::new("s").unwrap())
            .await
            .unwrap(),
        Version(2)
    );
    drop(wake);
    loud.close().await;
    common::drop_store(quiet).await;
}

/// A read model's unqualified tables on `store.pool()` land in the store's schema, not `public`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_model_tables_on_the_pool_live_in_the_store_schema() {
    let store = common::store().await;
    let table = format!("balances_{}", uuid::Uuid::now_v7().simple());
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE {table} (account text PRIMARY KEY, balance bigint)"
    )))
    .execute(store.pool())
    .await
    .unwrap();
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {table} VALUES ('a', 5)"
    )))
    .execute(store.pool())
    .await
    .unwrap();
    let schema: String = sqlx::query_scalar(
        "SELECT table_schema::text FROM information_schema.tables WHERE table_name = $1",
    )
    .bind(&table)
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(schema, store.schema().as_str());
    common::drop_store(store).await;
}
