//! Least privilege as code: a fresh role given only `PgStore::grant_application_role` runs every
//! part of the store (appends, reads, snapshots, checkpoints, a parking projection, rebuilds, a
//! lease, LISTEN), and cannot forge the log: no explicit `tx_id`, `recorded_at` or
//! `global_position`, no version gap, no UPDATE, DELETE or TRUNCATE. The owner's inserts of
//! another `tx_id` or `recorded_at` than the database's are rejected by the insert trigger, and so
//! are its gap versions.

mod common;

use async_trait::async_trait;
use es_core::dcb::{AppendCondition, Query, QueryItem, StreamAppend};
use es_core::{
    Checkpoint, CheckpointStore, ErrorPolicy, EventHandler, EventStore, ExpectedVersion,
    HandlerError, NewEvent, Position, Projection, ProjectionRunner, ReadAll, RecordedEvent,
    RunnerState, Snapshot, SnapshotStore, StoreError, StreamId, Version,
};
use es_postgres::{PgStore, PgTx};
use futures::TryStreamExt;
use serde_json::json;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, Connection, PgPool};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const DEPOSITED: &str = "test.deposited";

fn deposit(amount: i64) -> NewEvent {
    NewEvent::raw(DEPOSITED, 1, json!({ "amount": amount }))
}

fn poison() -> NewEvent {
    NewEvent::raw(DEPOSITED, 1, json!({ "amount": 0, "poison": true }))
}

async fn exec(pool: &PgPool, sql: String) {
    sqlx::query(AssertSqlSafe(sql.clone()))
        .execute(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn fails(pool: &PgPool, sql: String) -> String {
    match sqlx::query(AssertSqlSafe(sql.clone())).execute(pool).await {
        Ok(done) => panic!(
            "{sql} must fail, but affected {} rows",
            done.rows_affected()
        ),
        Err(e) => e.to_string(),
    }
}

/// A login role, dropped with whatever it was granted when the test ends, also when it fails.
/// (On a panic, the panic hook of `common` drops the schema first.)
struct Role(String);

impl Role {
    async fn create(admin: &PgPool) -> Self {
        let role = Role(format!("es_app_{}", uuid::Uuid::now_v7().simple()));
        exec(admin, format!("CREATE ROLE {} LOGIN", role.0)).await;
        role
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        let role = self.0.clone();
        let url = common::database_url();
        // A fresh thread and runtime: this may run inside the test's runtime, or while unwinding.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                let Ok(mut conn) = sqlx::PgConnection::connect(&url).await else {
                    return;
                };
                for sql in [
                    format!("DROP OWNED BY {role}"),
                    format!("DROP ROLE IF EXISTS {role}"),
                ] {
                    if let Err(e) = sqlx::query(AssertSqlSafe(sql.clone()))
                        .execute(&mut conn)
                        .await
                    {
                        eprintln!("cleanup: {sql}: {e}");
                    }
                }
                let _ = conn.close().await;
            });
        })
        .join();
    }
}

/// Records which events it saw in the application's own table; fails on poisoned events while
/// `fail_poison` is set.
struct Seen {
    schema: String,
    fail_poison: Arc<AtomicBool>,
}

impl Seen {
    fn sql(&self, text: &str) -> AssertSqlSafe<String> {
        AssertSqlSafe(text.replace("{s}", &self.schema))
    }
}

#[async_trait]
impl<'c> EventHandler<PgTx<'c>> for Seen {
    fn event_types(&self) -> Vec<&'static str> {
        vec![DEPOSITED]
    }

    async fn handle(
        &mut self,
        event: &RecordedEvent,
        tx: &mut PgTx<'c>,
    ) -> Result<(), HandlerError> {
        if event.payload["poison"] == json!(true) && self.fail_poison.load(Ordering::Relaxed) {
            return Err(HandlerError::failed("poisoned"));
        }
        sqlx::query(self.sql("INSERT INTO {s}.app_seen (event_id) VALUES ($1)"))
            .bind(event.meta.event_id.0)
            .execute(&mut **tx)
            .await
            .map_err(HandlerError::failed)?;
        Ok(())
    }
}

#[async_trait]
impl<'c> Projection<PgTx<'c>> for Seen {
    fn name(&self) -> &str {
        "seen"
    }

    async fn on_reset(&mut self, tx: &mut PgTx<'c>) -> Result<(), HandlerError> {
        sqlx::query(self.sql("DELETE FROM {s}.app_seen"))
            .execute(&mut **tx)
            .await
            .map_err(HandlerError::failed)?;
        Ok(())
    }
}

async fn seen(store: &PgStore) -> i64 {
    sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT count(*) FROM {}.app_seen",
        store.schema().quoted()
    )))
    .fetch_one(store.pool())
    .await
    .unwrap()
}

async fn wait_until_checkpoint(store: &PgStore, name: &str, target: Checkpoint) {
    let started = Instant::now();
    while store.load_checkpoint(name).await.unwrap() < Some(target) {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the projection did not reach {target:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The owner's store (it migrated the schema) and the application's store on a pool of `role`.
async fn owner_and_app(role: &Role) -> (PgStore, PgStore) {
    let owner = common::store().await;
    let s = owner.schema().quoted();
    // The application's own read model table, beside the store's.
    exec(
        owner.pool(),
        format!("CREATE TABLE {s}.app_seen (event_id uuid PRIMARY KEY)"),
    )
    .await;
    exec(
        owner.pool(),
        format!("GRANT SELECT, INSERT, DELETE ON {s}.app_seen TO {}", role.0),
    )
    .await;
    owner
        .grant_application_role(&role.0)
        .await
        .expect("grant as the owner");
    // Twice: idempotent.
    owner.grant_application_role(&role.0).await.unwrap();
    let options = PgConnectOptions::from_str(&common::database_url())
        .unwrap()
        .username(&role.0);
    let pool = PgPoolOptions::new()
        .max_connections(6)
        .connect_with(options)
        .await
        .unwrap();
    let app = PgStore::builder()
        .schema(owner.schema().as_str())
        .migrate(false)
        .notify(true)
        .horizon_wait(common::HORIZON_WAIT)
        .pool(pool)
        .await
        .expect("open as the application role without migrating");
    (owner, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_granted_role_runs_every_part_of_the_store() {
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&common::database_url())
        .await
        .unwrap();
    let role = Role::create(&admin).await;
    let (owner, app) = owner_and_app(&role).await;

    // Events.
    let mut wake = app.listen().await.expect("LISTEN as the application role");
    let s = StreamId::new("acc-1").unwrap();
    let first = app
        .append(&s, ExpectedVersion::NoStream, vec![deposit(1), deposit(2)])
        .await
        .unwrap();
    assert_eq!(first.events[1].version, Version(2));
    assert!(
        wake.wait(Duration::from_secs(30)).await.unwrap(),
        "the append's NOTIFY reaches the role's listener"
    );
    let conflict = app
        .append(&s, ExpectedVersion::NoStream, vec![deposit(3)])
        .await
        .unwrap_err();
    assert!(conflict.is_conflict(), "{conflict}");
    app.append(&s, ExpectedVersion::Any, vec![poison(), deposit(4)])
        .await
        .unwrap();
    let stream: Vec<_> = app.read_stream(&s, Version(1)).try_collect().await.unwrap();
    assert_eq!(
        stream.iter().map(|e| e.meta.version.0).collect::<Vec<_>>(),
        [1, 2, 3, 4]
    );
    let replayed: Vec<_> = app
        .replay_stream(&s, Version(2))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(replayed.len(), 3);
    let log: Vec<_> = app.read_all(ReadAll::new()).try_collect().await.unwrap();
    assert_eq!(log, stream);
    assert_eq!(app.stream_version(&s).await.unwrap(), Version(4));
    let head = log[3].meta.checkpoint();

    let from_now = app.head_checkpoint().await.unwrap();
    assert!(from_now >= head, "{from_now:?}");
    let later: Vec<_> = app
        .read_all(ReadAll::new().after(from_now))
        .try_collect()
        .await
        .unwrap();
    assert!(later.is_empty(), "{later:?}");
    assert_eq!(app.head_position().await.unwrap(), log[3].meta.position);

    // Snapshots and checkpoints.
    let snapshot = |v: u64| Snapshot {
        stream_id: s.clone(),
        version: Version(v),
        schema_version: 1,
        state: json!({ "balance": v }),
    };
    app.save_snapshot(&snapshot(2)).await.unwrap();
    app.save_snapshot(&snapshot(4)).await.unwrap();
    assert_eq!(app.load_snapshot(&s).await.unwrap(), Some(snapshot(4)));
    let cp = Checkpoint::new(7, Position(3));
    app.save_checkpoint("manual", cp).await.unwrap();
    app.save_checkpoint("manual", cp).await.unwrap();
    assert_eq!(app.load_checkpoint("manual").await.unwrap(), Some(cp));
    app.delete_checkpoint("manual").await.unwrap();
    assert_eq!(app.load_checkpoint("manual").await.unwrap(), None);

    // A projection that parks the poisoned event, retries it, and is rebuilt.
    let fail_poison = Arc::new(AtomicBool::new(true));
    let handler = Seen {
        schema: app.schema().quoted(),
        fail_poison: fail_poison.clone(),
    };
    let mut runner = ProjectionRunner::new(app.clone(), app.clone(), handler)
        .batch_size(2)
        .error_policy(
            ErrorPolicy::default()
                .retries(1)
                .backoff(Duration::from_millis(1), Duration::from_millis(1))
                .park(),
        );
    runner
        .run_until(wait_until_checkpoint(&app, "seen", head))
        .await
        .expect("runs as the application role");
    let parked = runner.parked().await.unwrap();
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!(parked[0].event_id, log[2].meta.event_id);
    assert_eq!(seen(&app).await, 3);
    fail_poison.store(false, Ordering::Relaxed);
    let report = runner.retry_parked().await.unwrap();
    assert_eq!((report.succeeded, report.failed.len()), (1, 0));
    assert!(runner.parked().await.unwrap().is_empty());
    assert_eq!(seen(&app).await, 4);
    runner.rebuild().await.unwrap();
    assert_eq!(seen(&app).await, 0);
    assert_eq!(app.load_checkpoint("seen").await.unwrap(), None);

    // The rebuilt projection catches up again, under a lease.
    let handle = runner
        .lease(app.clone(), Duration::from_millis(100))
        .spawn();
    handle
        .wait_for(|st| st.state == RunnerState::Live && st.checkpoint >= head)
        .await;
    handle.stop().await.unwrap();
    assert_eq!(seen(&app).await, 4);

    // Tagged events, reads by query and conditional multi-stream appends (every lock mode).
    let tagged = |n: i64| deposit(n).with_tags([format!("deposit:{n}")]);
    let t = StreamId::new("acc-2").unwrap();
    for query in [
        Query::item(QueryItem::new().tags(["deposit:5"])),
        Query::item(QueryItem::new().types(["nothing.yet"])),
        Query::all(),
    ] {
        let after = app
            .read_all(ReadAll::new())
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .last()
            .map(|e| e.meta.checkpoint());
        let n = i64::try_from(app.stream_version(&t).await.unwrap().0).unwrap() + 5;
        app.append_streams(
            vec![StreamAppend::new(
                t.clone(),
                ExpectedVersion::Any,
                vec![tagged(n)],
            )],
            Some(AppendCondition::new(query, after)),
        )
        .await
        .expect("a conditional append as the application role");
    }
    let by_tag: Vec<_> = app
        .read_all(ReadAll::new().matching(Query::item(QueryItem::new().tags(["deposit:5"]))))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(by_tag.len(), 1);
    assert_eq!(by_tag[0].meta.tags, ["deposit:5"]);

    drop(wake);
    app.close().await;
    common::drop_store(owner).await;
    drop(role);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_granted_role_cannot_forge_or_change_the_log() {
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(&common::database_url())
        .await
        .unwrap();
    let role = Role::create(&admin).await;
    let (owner, app) = owner_and_app(&role).await;
    let t = format!("{}.es_events", owner.schema().quoted());
    let s = StreamId::new("acc-1").unwrap();
    app.append(&s, ExpectedVersion::NoStream, vec![deposit(1), deposit(2)])
        .await
        .unwrap();
    let before: Vec<_> = owner.read_all(ReadAll::new()).try_collect().await.unwrap();
    assert_eq!(before.len(), 2);
    let cols = "event_id, stream_id, version, event_type, schema_version, payload";
    let row = |version: u64| {
        format!(
            "'{}', 'acc-1', {version}, '{DEPOSITED}', 1, '{{\"amount\": 1000}}'",
            uuid::Uuid::now_v7()
        )
    };

    // The columns the database assigns cannot even be named.
    for sql in [
        format!("INSERT INTO {t} ({cols}, tx_id) VALUES ({}, '3')", row(3)),
        format!(
            "INSERT INTO {t} ({cols}, recorded_at) VALUES ({}, '2000-01-01')",
            row(3)
        ),
        format!(
            "INSERT INTO {t} (global_position, {cols}) OVERRIDING SYSTEM VALUE VALUES (1, {})",
            row(3)
        ),
        format!("UPDATE {t} SET payload = '{{}}'"),
        format!("DELETE FROM {t}"),
        format!("TRUNCATE {t}"),
        format!(
            "INSERT INTO {t} ({cols}) VALUES ({}) ON CONFLICT (stream_id, version) DO UPDATE SET payload = excluded.payload",
            row(1)
        ),
        format!("SELECT * FROM {}._es_migrations", owner.schema().quoted()),
    ] {
        let error = fails(app.pool(), sql.clone()).await;
        assert!(error.contains("permission denied"), "{sql}: {error}");
    }
    // The columns it may write, at a version that breaks the stream: the trigger rejects it.
    let gap = fails(
        app.pool(),
        format!("INSERT INTO {t} ({cols}) VALUES ({})", row(1000)),
    )
    .await;
    assert!(
        gap.contains("es: version 1000 of stream \"acc-1\" would leave a gap")
            && gap.contains("at version 2"),
        "{gap}"
    );
    let taken = fails(
        app.pool(),
        format!("INSERT INTO {t} ({cols}) VALUES ({})", row(2)),
    )
    .await;
    assert!(
        taken.contains("duplicate key") && taken.contains("es_events_stream_version"),
        "{taken}"
    );
    let after: Vec<_> = owner.read_all(ReadAll::new()).try_collect().await.unwrap();
    assert_eq!(after, before, "nothing stored, nothing changed");
    // The aggregate's stream is still at version 2, and the next append is version 3.
    assert_eq!(app.stream_version(&s).await.unwrap(), Version(2));
    let next = app
        .append(&s, ExpectedVersion::Exact(Version(2)), vec![deposit(3)])
        .await
        .unwrap();
    assert_eq!(next.events[0].version, Version(3));

    app.close().await;
    common::drop_store(owner).await;
    drop(role);
}

#[tokio::test]
async fn the_owner_cannot_forge_transaction_ids_times_or_versions_either() {
    let owner = common::store().await;
    let t = format!("{}.es_events", owner.schema().quoted());
    let s = StreamId::new("acc-1").unwrap();
    owner
        .append(&s, ExpectedVersion::NoStream, vec![deposit(1), deposit(2)])
        .await
        .unwrap();
    let cols = "event_id, stream_id, version, event_type, schema_version, payload";
    let forged_id = uuid::Uuid::now_v7();

    // Another tx_id or recorded_at than the database's: the whole statement is rejected, for the
    // owner too, and nothing is written.
    let forged_row = |version: u64| {
        format!(
            "'{}', 'acc-1', {version}, '{DEPOSITED}', 1, '{{\"amount\": 3}}'",
            uuid::Uuid::now_v7()
        )
    };
    for (sql, column) in [
        (
            format!(
                "INSERT INTO {t} ({cols}, tx_id) VALUES ({}, '3')",
                forged_row(3)
            ),
            "tx_id",
        ),
        (
            format!(
                "INSERT INTO {t} ({cols}, recorded_at) VALUES ({}, '2000-01-01')",
                forged_row(3)
            ),
            "recorded_at",
        ),
        (
            format!(
                "INSERT INTO {t} ({cols}, tx_id, recorded_at) VALUES ({}, '3', '2000-01-01')",
                forged_row(3)
            ),
            "tx_id",
        ),
        // One forged row in a batch of good ones.
        (
            format!(
                "INSERT INTO {t} ({cols}, recorded_at) VALUES ({}, DEFAULT), ({}, now() + interval '1 second')",
                forged_row(3),
                forged_row(4)
            ),
            "recorded_at",
        ),
        // The right transaction id, one that has not run yet.
        (
            format!(
                "INSERT INTO {t} ({cols}, tx_id) VALUES ({}, (pg_current_xact_id()::text::bigint + 1)::text::xid8)",
                forged_row(3)
            ),
            "tx_id",
        ),
    ] {
        let forged = sqlx::query(AssertSqlSafe(sql.clone()))
            .execute(owner.pool())
            .await
            .unwrap_err();
        match &forged {
            sqlx::Error::Database(db) => {
                assert_eq!(db.code().as_deref(), Some("23514"), "{sql}: {forged}");
                assert!(
                    db.message()
                        .starts_with(&format!("es: {column} is assigned by the database")),
                    "{sql}: {forged}"
                );
            }
            other => panic!("{sql}: {other}"),
        }
    }
    let log: Vec<_> = owner.read_all(ReadAll::new()).try_collect().await.unwrap();
    assert_eq!(log.len(), 2, "nothing stored: {log:?}");
    assert_eq!(owner.stream_version(&s).await.unwrap(), Version(2));

    // Naming the columns with the values the database assigns anyway is accepted (it forges
    // nothing), and the event is in the log where positioned readers find it, after the others.
    let mut tx = owner.pool().begin().await.unwrap();
    let real_tx: i64 = sqlx::query_scalar("SELECT pg_current_xact_id()::text::bigint")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let (stored_tx, recent): (i64, bool) = sqlx::query_as(AssertSqlSafe(format!(
        "INSERT INTO {t} ({cols}, tx_id, recorded_at)
         VALUES ('{forged_id}', 'acc-1', 3, '{DEPOSITED}', 1, '{{\"amount\": 3}}', pg_current_xact_id(), now())
         RETURNING tx_id::text::bigint, recorded_at > now() - interval '1 hour'"
    )))
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(stored_tx, real_tx, "tx_id is the writing transaction's");
    assert!(recent, "recorded_at is the time of the insert");
    let log: Vec<_> = owner.read_all(ReadAll::new()).try_collect().await.unwrap();
    assert_eq!(log.len(), 3);
    assert_eq!(log[2].meta.event_id.0, forged_id);
    assert!(log[2].meta.checkpoint() > log[1].meta.checkpoint());
    let reader = Checkpoint::new(log[1].meta.commit, log[1].meta.position);
    let after: Vec<_> = owner
        .read_all(ReadAll::new().after(reader))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(after.len(), 1, "a reader at the previous event receives it");

    // A gap version is rejected for the owner too (the trigger fires for every role).
    let error = fails(
        owner.pool(),
        format!(
            "INSERT INTO {t} ({cols}) VALUES ('{}', 'acc-1', 1000, '{DEPOSITED}', 1, '{{}}')",
            uuid::Uuid::now_v7()
        ),
    )
    .await;
    assert!(
        error.contains("would leave a gap") && error.contains("at version 3"),
        "{error}"
    );
    // A new stream starts at version 1.
    let error = fails(
        owner.pool(),
        format!(
            "INSERT INTO {t} ({cols}) VALUES ('{}', 'acc-2', 2, '{DEPOSITED}', 1, '{{}}')",
            uuid::Uuid::now_v7()
        ),
    )
    .await;
    assert!(error.contains("would leave a gap"), "{error}");
    // The whole statement is checked at once, per stream: a gap inside a batch, or one stream's
    // gap in a batch for several, rejects all of it.
    let ev = |stream: &str, version: u64| {
        format!(
            "('{}', '{stream}', {version}, '{DEPOSITED}', 1, '{{}}')",
            uuid::Uuid::now_v7()
        )
    };
    let error = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {t} ({cols}) VALUES {}, {}",
        ev("acc-1", 4),
        ev("acc-1", 6)
    )))
    .execute(owner.pool())
    .await
    .unwrap_err();
    match &error {
        sqlx::Error::Database(db) => {
            assert_eq!(db.code().as_deref(), Some("23514"), "{error}");
            assert!(
                db.message()
                    .starts_with("es: version 6 of stream \"acc-1\" would leave a gap"),
                "{error}"
            );
        }
        other => panic!("{other}"),
    }
    let error = fails(
        owner.pool(),
        format!(
            "INSERT INTO {t} ({cols}) VALUES {}, {}, {}",
            ev("acc-1", 4),
            ev("acc-3", 1),
            ev("acc-4", 2)
        ),
    )
    .await;
    assert!(
        error.contains("es: version 2 of stream \"acc-4\" would leave a gap"),
        "{error}"
    );
    assert_eq!(
        owner
            .read_all(ReadAll::new())
            .try_collect::<Vec<_>>()
            .await
            .unwrap()
            .len(),
        3
    );
    // Contiguous per stream, in any row order: accepted.
    exec(
        owner.pool(),
        format!(
            "INSERT INTO {t} ({cols}) VALUES {}, {}, {}, {}",
            ev("acc-3", 2),
            ev("acc-1", 4),
            ev("acc-3", 1),
            ev("acc-1", 5)
        ),
    )
    .await;
    let acc_3 = StreamId::new("acc-3").unwrap();
    assert_eq!(owner.stream_version(&s).await.unwrap(), Version(5));
    assert_eq!(owner.stream_version(&acc_3).await.unwrap(), Version(2));
    // A taken version is a unique violation (what the append's retry logic looks for).
    let taken = sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {t} ({cols}) VALUES ('{}', 'acc-1', 2, '{DEPOSITED}', 1, '{{}}')",
        uuid::Uuid::now_v7()
    )))
    .execute(owner.pool())
    .await
    .unwrap_err();
    match &taken {
        sqlx::Error::Database(db) => {
            assert!(db.is_unique_violation(), "{taken}");
            assert_eq!(db.constraint(), Some("es_events_stream_version"));
        }
        other => panic!("{other}"),
    }
    assert_eq!(owner.stream_version(&s).await.unwrap(), Version(5));
    common::drop_store(owner).await;
}

#[tokio::test]
async fn role_names_are_validated_before_any_sql() {
    let owner = common::store().await;
    for role in [
        "public",
        "app; DROP SCHEMA x",
        "pg_read_all_data",
        "",
        "a\"b",
    ] {
        let error = owner.grant_application_role(role).await.unwrap_err();
        assert!(
            matches!(error, StoreError::InvalidInput(_)),
            "{role:?}: {error:?}"
        );
    }
    // A role that does not exist is the database's error, and nothing is granted.
    let missing = owner
        .grant_application_role("es_no_such_role_here")
        .await
        .unwrap_err();
    assert!(missing.to_string().contains("does not exist"), "{missing}");
    common::drop_store(owner).await;
}

#[tokio::test]
async fn nothing_is_inserted_after_a_tombstone_by_any_role() {
    let owner = common::store().await;
    let t = format!("{}.es_events", owner.schema().quoted());
    let s = StreamId::new("acc-1").unwrap();
    owner
        .append(&s, ExpectedVersion::NoStream, vec![deposit(1)])
        .await
        .unwrap();
    owner
        .delete_stream(
            &s,
            ExpectedVersion::Exact(Version(1)),
            es_core::Metadata::new().with_actor("ops"),
            "test",
        )
        .await
        .unwrap();
    let cols = "event_id, stream_id, version, event_type, schema_version, payload";
    let row = |stream: &str, version: u64, event_type: &str| {
        format!(
            "('{}', '{stream}', {version}, '{event_type}', 1, '{{}}')",
            uuid::Uuid::now_v7()
        )
    };
    // After a stored tombstone.
    let error = fails(
        owner.pool(),
        format!(
            "INSERT INTO {t} ({cols}) VALUES {}",
            row("acc-1", 3, DEPOSITED)
        ),
    )
    .await;
    assert!(error.contains("es: stream \"acc-1\" is deleted"), "{error}");
    // A tombstone followed by more rows in one statement.
    let error = fails(
        owner.pool(),
        format!(
            "INSERT INTO {t} ({cols}) VALUES {}, {}",
            row("acc-2", 1, es_core::tombstone::STREAM_DELETED),
            row("acc-2", 2, DEPOSITED)
        ),
    )
    .await;
    assert!(error.contains("es: stream \"acc-2\" is deleted"), "{error}");
    assert_eq!(owner.stream_version(&s).await.unwrap(), Version(2));
    assert_eq!(
        owner
            .stream_version(&StreamId::new("acc-2").unwrap())
            .await
            .unwrap(),
        Version(0)
    );
    common::drop_store(owner).await;
}
