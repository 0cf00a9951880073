//! Projections on PostgreSQL: the gap test (a live runner while 16 writers append 20,000
//! deposits), exactly-once across processes killed with SIGKILL while their handler fails at random
//! batches, the advisory-lock lease across two processes, dead letters and rebuilds.

mod common;

use async_trait::async_trait;
use es_core::{
    Checkpoint, ErrorPolicy, EventHandler, EventStore, ExpectedVersion, HandlerError, NewEvent,
    Projection, ProjectionHandle, ProjectionRunner, ProjectionStore, ReadAll, RecordedEvent,
    RunnerState, StreamId,
};
use es_postgres::{PgStore, PgTx};
use futures::TryStreamExt;
use sqlx::{AssertSqlSafe, Row};
use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const DEPOSITED: &str = "test.deposited";
const CHILD_SCHEMA: &str = "ES_PROJECTION_CHILD_SCHEMA";
const CHILD_MODE: &str = "ES_PROJECTION_CHILD_MODE";

fn deposit(amount: i64) -> NewEvent {
    NewEvent::raw(DEPOSITED, 1, serde_json::json!({ "amount": amount }))
}

fn stream(i: usize) -> StreamId {
    StreamId::new(format!("account-{i}")).expect("valid stream id")
}

/// A small deterministic generator for injected failures (no extra dependency).
struct Dice(u64);
impl Dice {
    fn seeded() -> Self {
        let seed = uuid::Uuid::now_v7().as_u128() as u64 | 1;
        eprintln!("dice seed: {seed}");
        Dice(seed)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn roll(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }
}

fn sql(store: &PgStore, text: &str) -> AssertSqlSafe<String> {
    AssertSqlSafe(text.replace("{s}", &store.schema().quoted()))
}

/// The read model's tables, in the store's schema.
async fn create_read_model(store: &PgStore) {
    for statement in [
        "CREATE TABLE {s}.balances (account text PRIMARY KEY, balance bigint NOT NULL)",
        // No unique constraint: an event applied twice shows up as a duplicate, not an error.
        "CREATE TABLE {s}.applied (seq bigserial PRIMARY KEY, position bigint NOT NULL, pid integer NOT NULL)",
    ] {
        sqlx::query(sql(store, statement))
            .execute(store.pool())
            .await
            .expect("read model table");
    }
}

/// Balances per account and every applied position, written in the projection's transaction.
struct PgBalances {
    schema: String,
    fail_one_in: Option<u64>,
    dice: Dice,
    failures: Arc<AtomicU64>,
}

impl PgBalances {
    fn new(store: &PgStore) -> Self {
        Self {
            schema: store.schema().quoted(),
            fail_one_in: None,
            dice: Dice::seeded(),
            failures: Arc::default(),
        }
    }

    fn sql(&self, text: &str) -> AssertSqlSafe<String> {
        AssertSqlSafe(text.replace("{s}", &self.schema))
    }
}

#[async_trait]
impl<'c> EventHandler<PgTx<'c>> for PgBalances {
    fn event_types(&self) -> Vec<&'static str> {
        vec![DEPOSITED]
    }

    async fn handle(
        &mut self,
        event: &RecordedEvent,
        tx: &mut PgTx<'c>,
    ) -> Result<(), HandlerError> {
        let amount = event.payload["amount"]
            .as_i64()
            .ok_or_else(|| HandlerError::failed("no amount"))?;
        sqlx::query(self.sql(
            "INSERT INTO {s}.balances (account, balance) VALUES ($1, $2)
             ON CONFLICT (account) DO UPDATE SET balance = {s}.balances.balance + excluded.balance",
        ))
        .bind(event.meta.stream_id.as_str())
        .bind(amount)
        .execute(&mut **tx)
        .await
        .map_err(HandlerError::failed)?;
        sqlx::query(self.sql("INSERT INTO {s}.applied (position, pid) VALUES ($1, $2)"))
            .bind(event.meta.position.0 as i64)
            .bind(std::process::id() as i32)
            .execute(&mut **tx)
            .await
            .map_err(HandlerError::failed)?;
        // Fail after the writes: they must roll back with the batch.
        if let Some(n) = self.fail_one_in
            && self.dice.roll(n)
        {
            self.failures.fetch_add(1, Ordering::Relaxed);
            return Err(HandlerError::failed("injected failure"));
        }
        Ok(())
    }
}

#[async_trait]
impl<'c> Projection<PgTx<'c>> for PgBalances {
    fn name(&self) -> &str {
        "balances"
    }

    async fn on_reset(&mut self, tx: &mut PgTx<'c>) -> Result<(), HandlerError> {
        sqlx::query(self.sql("TRUNCATE {s}.balances, {s}.applied"))
            .execute(&mut **tx)
            .await
            .map_err(HandlerError::failed)?;
        Ok(())
    }
}

async fn balances(store: &PgStore) -> HashMap<String, i64> {
    sqlx::query(sql(store, "SELECT account, balance FROM {s}.balances"))
        .fetch_all(store.pool())
        .await
        .expect("balances")
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect()
}

/// (rows in `applied`, distinct positions in `applied`)
async fn applied(store: &PgStore) -> (i64, i64) {
    let row = sqlx::query(sql(
        store,
        "SELECT count(*), count(DISTINCT position) FROM {s}.applied",
    ))
    .fetch_one(store.pool())
    .await
    .expect("applied");
    (row.get(0), row.get(1))
}

async fn deposits(store: &PgStore) -> Vec<RecordedEvent> {
    store
        .read_all(ReadAll::new().event_types([DEPOSITED]))
        .try_collect()
        .await
        .expect("reads the log")
}

/// The balances as a fold of the log.
async fn fold_of_log(store: &PgStore) -> HashMap<String, i64> {
    let mut balances = HashMap::new();
    for event in deposits(store).await {
        *balances
            .entry(event.meta.stream_id.to_string())
            .or_insert(0) += event.payload["amount"].as_i64().expect("amount");
    }
    balances
}

async fn last_deposit(store: &PgStore) -> Checkpoint {
    deposits(store)
        .await
        .last()
        .map(|e| e.meta.checkpoint())
        .unwrap_or_default()
}

async fn stored_checkpoint(store: &PgStore) -> Checkpoint {
    es_core::CheckpointStore::load_checkpoint(store, "balances")
        .await
        .expect("checkpoint")
        .unwrap_or_default()
}

async fn caught_up(handle: &ProjectionHandle, to: Checkpoint) {
    let status = tokio::time::timeout(
        Duration::from_secs(180),
        handle.wait_for(|s| s.checkpoint >= to),
    )
    .await
    .expect("the projection catches up within 3 minutes");
    assert!(
        status.checkpoint >= to,
        "the runner ended early: {status:?}"
    );
}

/// 16 writers append `total` deposits of 1 over 200 streams, one append each.
async fn sixteen_writers(store: PgStore, total: usize) {
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                for i in (w..total).step_by(16) {
                    store
                        .append(&stream(i % 200), ExpectedVersion::Any, vec![deposit(1)])
                        .await
                        .expect("append");
                }
            })
        })
        .collect();
    for writer in writers {
        writer.await.expect("writer task");
    }
}

async fn test_store() -> PgStore {
    let store = common::store_with(PgStore::builder().max_connections(24)).await;
    create_read_model(&store).await;
    store
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pg_gap_test_live_runner_with_sixteen_writers_counts_every_deposit_once() {
    let store = test_store().await;
    let handle = ProjectionRunner::new(store.clone(), store.clone(), PgBalances::new(&store))
        .batch_size(200)
        .spawn();
    sixteen_writers(store.clone(), 20_000).await;
    caught_up(&handle, last_deposit(&store).await).await;
    let status = handle.status();
    handle.stop().await.expect("stops cleanly");

    let read_model = balances(&store).await;
    assert_eq!(read_model.values().sum::<i64>(), 20_000);
    assert_eq!(read_model.len(), 200);
    assert_eq!(read_model, fold_of_log(&store).await);
    assert_eq!(
        applied(&store).await,
        (20_000, 20_000),
        "no event applied twice"
    );
    assert_eq!(status.processed, 20_000);
    common::drop_store(store).await;
}

/// Where a child process writes its stderr (shown when a test about it fails).
fn child_log(schema: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{schema}-children.log"))
}

fn child(schema: &str, mode: &str) -> tokio::process::Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(child_log(schema))
        .expect("child log file");
    tokio::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--ignored",
            "--exact",
            "child_projection_process",
            "--nocapture",
        ])
        .env(CHILD_SCHEMA, schema)
        .env(CHILD_MODE, mode)
        .stdout(Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .expect("start a projection process")
}

/// The tail of the children's stderr, for failure messages.
fn child_output(schema: &str) -> String {
    let text = std::fs::read_to_string(child_log(schema)).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(30).collect();
    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
}

/// Waits until the stored checkpoint is past `than` (the child made progress).
async fn progress_past(store: &PgStore, than: Checkpoint, schema: &str) -> Checkpoint {
    let started = Instant::now();
    loop {
        let now = stored_checkpoint(store).await;
        if now > than {
            return now;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "a projection process made no progress in 2 minutes; its output:\n{}",
            child_output(schema)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// SIGKILLs a child process and reaps it.
async fn kill(mut child: tokio::process::Child) {
    child.kill().await.expect("SIGKILL");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pg_exactly_once_with_failing_handlers_in_processes_killed_mid_run() {
    let store = test_store().await;
    let schema = store.schema().to_string();
    // 12,000 deposits up front, 4,000 more while the projection processes come and go.
    for chunk in 0..1_200 {
        let batch = (0..10).map(|_| deposit(1)).collect();
        store
            .append(&stream(chunk % 200), ExpectedVersion::Any, batch)
            .await
            .unwrap();
    }
    let writers = tokio::spawn(sixteen_writers(store.clone(), 4_000));

    // Each process is killed at a random moment after it committed at least one batch.
    let mut dice = Dice::seeded();
    let mut seen = vec![Checkpoint::START];
    for _ in 0..6 {
        let process = child(&schema, "failing");
        let before = *seen.last().expect("not empty");
        progress_past(&store, before, &schema).await;
        tokio::time::sleep(Duration::from_millis(dice.next() % 300)).await;
        kill(process).await;
        seen.push(stored_checkpoint(&store).await);
    }
    writers.await.unwrap();
    let last = last_deposit(&store).await;
    eprintln!("stored checkpoints after each kill: {seen:?}; last deposit {last}");
    let mid_run = seen
        .iter()
        .filter(|c| **c > Checkpoint::START && **c < last)
        .count();
    assert!(
        mid_run >= 3,
        "at least three processes were killed mid-run: checkpoints {seen:?}, last {last}"
    );
    assert!(
        seen.windows(2).all(|w| w[0] < w[1]),
        "every process made progress, none went back: {seen:?}"
    );

    // The last process finishes the job.
    let process = child(&schema, "failing");
    let started = Instant::now();
    while stored_checkpoint(&store).await < last {
        assert!(started.elapsed() < Duration::from_secs(180), "catches up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    kill(process).await;
    let _ = std::fs::remove_file(child_log(&schema));

    let read_model = balances(&store).await;
    assert_eq!(read_model.values().sum::<i64>(), 16_000);
    assert_eq!(read_model, fold_of_log(&store).await);
    assert_eq!(
        applied(&store).await,
        (16_000, 16_000),
        "no event counted twice"
    );
    common::drop_store(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pg_lease_one_process_works_and_the_other_takes_over_when_it_is_killed() {
    let store = test_store().await;
    let schema = store.schema().to_string();
    let append = |n: usize| {
        let store = store.clone();
        async move {
            for i in 0..n {
                store
                    .append(&stream(i % 20), ExpectedVersion::Any, vec![deposit(1)])
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
    };
    let pids = |store: PgStore| async move {
        sqlx::query(sql(
            &store,
            "SELECT pid, count(*), min(seq), max(seq) FROM {s}.applied GROUP BY pid",
        ))
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get::<i32, _>(0) as u32,
                (r.get::<i64, _>(1), r.get::<i64, _>(2), r.get::<i64, _>(3)),
            )
        })
        .collect::<HashMap<u32, (i64, i64, i64)>>()
    };

    let first = child(&schema, "lease");
    let first_pid = first.id().expect("pid");
    append(200).await;
    let started = Instant::now();
    while applied(&store).await.0 < 200 {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the first runner works; children:\n{}",
            child_output(&schema)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = child(&schema, "lease");
    let second_pid = second.id().expect("pid");
    append(300).await;
    let started = Instant::now();
    while stored_checkpoint(&store).await < last_deposit(&store).await {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the first runner keeps up; children:\n{}",
            child_output(&schema)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let by_pid = pids(store.clone()).await;
    assert_eq!(
        by_pid.keys().copied().collect::<Vec<_>>(),
        vec![first_pid],
        "only the lease holder works"
    );

    kill(first).await;
    append(300).await;
    let last = last_deposit(&store).await;
    let started = Instant::now();
    while stored_checkpoint(&store).await < last {
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "the second runner takes over; children:\n{}",
            child_output(&schema)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    kill(second).await;
    let _ = std::fs::remove_file(child_log(&schema));

    let by_pid = pids(store.clone()).await;
    let (first_count, _, first_last) = by_pid[&first_pid];
    let (second_count, second_first, _) = by_pid[&second_pid];
    assert_eq!(by_pid.len(), 2);
    assert!(first_last < second_first, "never both at once: {by_pid:?}");
    assert_eq!(first_count + second_count, 800);
    assert_eq!(applied(&store).await, (800, 800));
    assert_eq!(balances(&store).await, fold_of_log(&store).await);
    common::drop_store(store).await;
}

/// The body of the projection processes started by the tests above: runs `balances` until
/// killed. Mode `failing`: the handler fails at random events, retried without end. Mode `lease`:
/// the runner holds the projection's advisory-lock lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process of the exactly-once and lease tests"]
async fn child_projection_process() {
    let schema =
        std::env::var(CHILD_SCHEMA).expect("started by a projection test, which sets the schema");
    let mode =
        std::env::var(CHILD_MODE).expect("started by a projection test, which sets the mode");
    let store = PgStore::builder()
        .schema(schema)
        .migrate(false) // the parent migrated the schema
        .max_connections(4)
        .horizon_wait(common::HORIZON_WAIT)
        .connect(&common::database_url())
        .await
        .expect("connect");
    let mut handler = PgBalances::new(&store);
    let mut runner = if mode == "failing" {
        handler.fail_one_in = Some(150);
        ProjectionRunner::new(store.clone(), store.clone(), handler)
            .batch_size(50)
            .error_policy(
                ErrorPolicy::default()
                    .retries(u32::MAX)
                    .backoff(Duration::from_millis(1), Duration::from_millis(10)),
            )
    } else {
        ProjectionRunner::new(store.clone(), store.clone(), handler)
            .batch_size(50)
            .lease(store.clone(), Duration::from_millis(100))
    };
    runner.run().await.expect("runs until killed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_rebuild_parks_and_retries() {
    let store = test_store().await;
    for i in 0..100 {
        store
            .append(&stream(i % 5), ExpectedVersion::Any, vec![deposit(3)])
            .await
            .unwrap();
    }
    let last = last_deposit(&store).await;
    let mut handler = PgBalances::new(&store);
    // Events fail at random: one that fails twice in a row is parked (and an event before it in
    // its batch may fail again while it is parked: the runner then goes on event by event).
    handler.fail_one_in = Some(40);
    let mut runner = ProjectionRunner::new(store.clone(), store.clone(), handler)
        .batch_size(10)
        .error_policy(
            ErrorPolicy::default()
                .retries(1)
                .backoff(Duration::from_millis(1), Duration::from_millis(1))
                .park(),
        );
    runner
        .run_until(async {
            let started = Instant::now();
            while stored_checkpoint(&store).await < last
                && started.elapsed() < Duration::from_secs(180)
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .unwrap();
    // At the last deposit, or past it once the runner has read everything (a caught-up runner
    // moves its checkpoint to the head of the log).
    let stored = stored_checkpoint(&store).await;
    assert!(stored >= last, "{stored}");
    assert!(stored <= store.head_checkpoint().await.unwrap(), "{stored}");
    let parked = runner.parked().await.unwrap();
    let (rows, distinct) = applied(&store).await;
    assert_eq!(rows, distinct);
    assert_eq!(
        rows as usize + parked.len(),
        100,
        "every event applied once or parked"
    );

    runner.handler_mut().fail_one_in = None;
    let report = runner.retry_parked().await.unwrap();
    assert_eq!((report.succeeded, report.failed.len()), (parked.len(), 0));
    assert!(runner.parked().await.unwrap().is_empty());
    assert_eq!(balances(&store).await, fold_of_log(&store).await);

    runner.rebuild().await.unwrap();
    assert!(balances(&store).await.is_empty());
    assert_eq!(
        ProjectionStore::parked(&store, "balances").await.unwrap(),
        vec![]
    );
    let handle = runner.spawn();
    caught_up(&handle, last).await;
    assert_ne!(handle.status().state, RunnerState::Stopped);
    handle.stop().await.unwrap();
    assert_eq!(balances(&store).await, fold_of_log(&store).await);
    assert_eq!(applied(&store).await, (100, 100));
    common::drop_store(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_runner_is_woken_by_notify_for_appends_from_another_store() {
    let store = test_store().await;
    // Another store object on its own pool (as in another process): its appends do not fire
    // this process's in-process signal, only NOTIFY.
    let writer = PgStore::builder()
        .schema(store.schema().as_str())
        .notify(true)
        .connect(&common::database_url())
        .await
        .unwrap();
    let handle = ProjectionRunner::new(store.clone(), store.clone(), PgBalances::new(&store))
        // Polling alone would take a minute: only a wake-up explains a quick catch-up.
        .poll_interval(Duration::from_secs(60), Duration::from_secs(60))
        .wake_up(store.listen().await.unwrap())
        .spawn();
    handle.wait_for(|s| s.state == RunnerState::Live).await;
    for i in 0..5 {
        writer
            .append(&stream(i), ExpectedVersion::Any, vec![deposit(2)])
            .await
            .unwrap();
        let target = last_deposit(&store).await;
        // Generous for a loaded machine, still half the 60 s poll interval.
        let status = tokio::time::timeout(
            Duration::from_secs(30),
            handle.wait_for(|s| s.checkpoint >= target),
        )
        .await
        .expect("woken by NOTIFY well before the next poll");
        assert_eq!(status.processed, i as u64 + 1);
    }
    handle.stop().await.unwrap();
    assert_eq!(balances(&store).await, fold_of_log(&store).await);
    writer.close().await;
    common::drop_store(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_subscription_from_now_sees_only_later_events() {
    let store = test_store().await;
    for i in 0..10 {
        store
            .append(&stream(i), ExpectedVersion::Any, vec![deposit(1)])
            .await
            .unwrap();
    }
    let mut later = es_core::SubscriptionBuilder::new(store.clone())
        .from_now()
        .await
        .unwrap()
        .subscribe_types(&[DEPOSITED]);
    let mut everything = es_core::SubscriptionBuilder::new(store.clone()).subscribe_types(&[]);
    store
        .append(&stream(0), ExpectedVersion::Any, vec![deposit(99)])
        .await
        .unwrap();
    // Never fewer than the later events. While older transactions anywhere on the server are
    // still running, a few events committed just before may come first (see head_checkpoint).
    let mut before = 0;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(10), later.next())
            .await
            .expect("delivered")
            .expect("an event");
        if event.payload["amount"] == 99 {
            break;
        }
        assert_eq!(event.payload["amount"], 1, "only the earlier deposits");
        before += 1;
    }
    assert!(before <= 10);
    let mut all = Vec::new();
    while all.len() < 11 {
        all.push(everything.next().await.expect("an event").payload["amount"].clone());
    }
    assert_eq!(all.last(), Some(&serde_json::json!(99)));
    later.close().await.unwrap();
    everything.close().await.unwrap();
    common::drop_store(store).await;
}

/// A read model as the design shows it: `#[event_handler]`, async, taking the metadata and the
/// PostgreSQL transaction in which the runner commits the checkpoint.
struct AuditLog {
    insert: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Deposited {
    amount: i64,
}
impl es_core::Event for Deposited {
    const NAME: &'static str = DEPOSITED;
}

#[es_core::event_handler]
impl AuditLog {
    async fn deposited(
        &mut self,
        e: &Deposited,
        meta: &es_core::EventMeta,
        tx: &mut PgTx<'_>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(AssertSqlSafe(self.insert.clone()))
            .bind(meta.metadata.actor.as_deref())
            .bind(e.amount)
            .bind(meta.recorded_at)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

impl<'c> Projection<PgTx<'c>> for AuditLog {
    fn name(&self) -> &str {
        "audit"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pg_a_macro_generated_read_model_writes_in_the_checkpoint_transaction() {
    let store = test_store().await;
    sqlx::query(sql(
        &store,
        "CREATE TABLE {s}.audit (actor text, amount bigint NOT NULL, at timestamptz NOT NULL)",
    ))
    .execute(store.pool())
    .await
    .unwrap();
    for (actor, amount) in [("ada", 5), ("bob", 7)] {
        let event = NewEvent::from_event(
            &Deposited { amount },
            es_core::Metadata::new().with_actor(actor),
        )
        .unwrap();
        store
            .append(&stream(1), ExpectedVersion::Any, vec![event])
            .await
            .unwrap();
    }
    let audit = AuditLog {
        insert: format!(
            "INSERT INTO {}.audit (actor, amount, at) VALUES ($1, $2, $3)",
            store.schema().quoted()
        ),
    };
    let handle = ProjectionRunner::new(store.clone(), store.clone(), audit).spawn();
    caught_up(&handle, last_deposit(&store).await).await;
    handle.stop().await.unwrap();
    let rows: Vec<(String, i64)> = sqlx::query_as(sql(
        &store,
        "SELECT actor, amount FROM {s}.audit ORDER BY at, amount",
    ))
    .fetch_all(store.pool())
    .await
    .unwrap();
    assert_eq!(rows, vec![("ada".into(), 5), ("bob".into(), 7)]);
    common::drop_store(store).await;
}
