//! The projection runner on the in-memory store and on real SQLite files: catch-up and live
//! following under concurrent writers (the gap test), exactly-once under injected failures and
//! killed runners, rebuilds, the error policy and dead letters, leases, status and subscriptions.
//!
//! Handlers implement the es-core traits by hand: these test the runner, not the macros.

use async_trait::async_trait;
use es_core::{
    AtLeastOnce, Checkpoint, ErrorPolicy, Event, EventHandler, EventStore, ExpectedVersion,
    HandlerError, LocalLeases, MemoryStore, Metadata, NewEvent, Position, Projection,
    ProjectionError, ProjectionHandle, ProjectionRunner, ProjectionStore, ReadAll, RecordedEvent,
    RunnerState, StreamId, SubscriptionBuilder,
};
use es_sqlite::{SqliteStore, SqliteTx};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DEPOSITED: &str = "test.deposited";
const NOTE: &str = "test.note";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Deposited {
    amount: i64,
}
impl Event for Deposited {
    const NAME: &'static str = DEPOSITED;
}

fn deposit(amount: i64) -> NewEvent {
    NewEvent::from_event(&Deposited { amount }, Metadata::new()).expect("encodes")
}

fn note() -> NewEvent {
    NewEvent::raw(NOTE, 1, serde_json::json!({ "text": "not a deposit" }))
}

fn stream(i: usize) -> StreamId {
    StreamId::new(format!("account-{i}")).expect("valid stream id")
}

/// A small deterministic generator for injected failures (no extra dependency).
#[derive(Clone)]
struct Dice(u64);
impl Dice {
    fn seeded() -> Self {
        let seed = uuid::Uuid::now_v7().as_u128() as u64 | 1;
        eprintln!("dice seed: {seed}");
        Dice(seed)
    }
    fn roll(&mut self, one_in: u64) -> bool {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % one_in == 0
    }
}

// ---------------------------------------------------------------------------------------------
// SQLite fixtures

struct SqliteFile {
    path: PathBuf,
    store: SqliteStore,
}

impl SqliteFile {
    /// A fresh file with the read-model tables of [`SqlBalances`]. `synchronous = NORMAL`: these
    /// tests are about ordering and atomicity, not power cuts, and 20,000 fsyncs would be slow.
    async fn new() -> Self {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("es-projection-tests")
            .join(format!("{}.db", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(path.parent().expect("has a parent")).expect("mkdir");
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(60));
        let store = SqliteStore::open_with(options).await.expect("opens");
        sqlx::query(
            "CREATE TABLE balances (account TEXT PRIMARY KEY, balance INTEGER NOT NULL);
             CREATE TABLE applied (position INTEGER NOT NULL);",
        )
        .execute(store.pool())
        .await
        .expect("read model tables");
        Self { path, store }
    }

    async fn balances(&self) -> HashMap<String, i64> {
        sqlx::query_as::<_, (String, i64)>("SELECT account, balance FROM balances")
            .fetch_all(self.store.pool())
            .await
            .expect("balances")
            .into_iter()
            .collect()
    }

    /// (rows in `applied`, distinct positions in `applied`)
    async fn applied(&self) -> (i64, i64) {
        sqlx::query_as("SELECT COUNT(*), COUNT(DISTINCT position) FROM applied")
            .fetch_one(self.store.pool())
            .await
            .expect("applied")
    }

    async fn remove(self) {
        self.store.close().await;
        for ext in ["db", "db-wal", "db-shm"] {
            let _ = std::fs::remove_file(self.path.with_extension(ext));
        }
    }
}

/// A read model in the SQLite file: balances per account, and every applied position (no unique
/// constraint, so an event applied twice shows up as a duplicate instead of an error).
struct SqlBalances {
    name: &'static str,
    /// Fail (after writing) at random events, one in this many.
    fail_one_in: Option<u64>,
    dice: Dice,
    failures: Arc<AtomicU64>,
}

impl SqlBalances {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            fail_one_in: None,
            dice: Dice::seeded(),
            failures: Arc::default(),
        }
    }
}

#[async_trait]
impl<'c> EventHandler<SqliteTx<'c>> for SqlBalances {
    fn event_types(&self) -> Vec<&'static str> {
        vec![DEPOSITED]
    }

    async fn handle(
        &mut self,
        event: &RecordedEvent,
        tx: &mut SqliteTx<'c>,
    ) -> Result<(), HandlerError> {
        let deposited = event.decode::<Deposited>()?.event;
        sqlx::query(
            "INSERT INTO balances (account, balance) VALUES (?1, ?2)
             ON CONFLICT (account) DO UPDATE SET balance = balance + excluded.balance",
        )
        .bind(event.meta.stream_id.as_str())
        .bind(deposited.amount)
        .execute(&mut **tx)
        .await
        .map_err(HandlerError::failed)?;
        sqlx::query("INSERT INTO applied (position) VALUES (?1)")
            .bind(event.meta.position.0 as i64)
            .execute(&mut **tx)
            .await
            .map_err(HandlerError::failed)?;
        // Fail after the writes: they must be rolled back with the batch.
        if let Some(n) = self.fail_one_in {
            if self.dice.roll(n) {
                self.failures.fetch_add(1, Ordering::Relaxed);
                return Err(HandlerError::failed("injected failure"));
            }
        }
        Ok(())
    }
}

#[async_trait]
impl<'c> Projection<SqliteTx<'c>> for SqlBalances {
    fn name(&self) -> &str {
        self.name
    }

    async fn on_reset(&mut self, tx: &mut SqliteTx<'c>) -> Result<(), HandlerError> {
        sqlx::query("DELETE FROM balances; DELETE FROM applied;")
            .execute(&mut **tx)
            .await
            .map_err(HandlerError::failed)?;
        Ok(())
    }
}

/// The balances as a fold of the log: what every read model must equal.
async fn fold_of_log(store: &impl EventStore) -> HashMap<String, i64> {
    let events: Vec<RecordedEvent> = store
        .read_all(ReadAll::new().event_types([DEPOSITED]))
        .try_collect()
        .await
        .expect("reads the log");
    let mut balances = HashMap::new();
    for event in events {
        let amount = event.decode::<Deposited>().expect("decodes").event.amount;
        *balances
            .entry(event.meta.stream_id.to_string())
            .or_insert(0) += amount;
    }
    balances
}

/// The checkpoint of the last deposit in the log.
async fn last_deposit(store: &impl EventStore) -> Checkpoint {
    let events: Vec<RecordedEvent> = store
        .read_all(ReadAll::new().event_types([DEPOSITED]))
        .try_collect()
        .await
        .expect("reads the log");
    events
        .last()
        .map(|e| e.meta.checkpoint())
        .unwrap_or_default()
}

/// A shutdown signal for `run_until`: fires once the stored checkpoint of `projection` reaches
/// `target`, or after two minutes (the test's own assertions then fail).
async fn at_checkpoint(
    store: impl es_core::CheckpointStore,
    projection: &'static str,
    target: Checkpoint,
) {
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(120) {
        let stored = store.load_checkpoint(projection).await.ok().flatten();
        if stored.is_some_and(|c| c >= target) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn caught_up(handle: &ProjectionHandle, to: Checkpoint) {
    let status = tokio::time::timeout(
        Duration::from_secs(120),
        handle.wait_for(|s| s.checkpoint >= to),
    )
    .await
    .expect("the projection catches up within 2 minutes");
    assert!(
        status.checkpoint >= to,
        "the runner ended before catching up: {status:?}"
    );
}

/// 16 writers append `total` deposits of 1 over 200 streams, one append each.
async fn sixteen_writers(store: impl EventStore + Clone + 'static, total: usize) {
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

// ---------------------------------------------------------------------------------------------
// The gap test and exactly-once on SQLite

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_gap_test_live_runner_with_sixteen_writers_counts_every_deposit_once() {
    let file = SqliteFile::new().await;
    let handle = ProjectionRunner::new(
        file.store.clone(),
        file.store.clone(),
        SqlBalances::new("balances"),
    )
    .batch_size(200)
    .spawn();

    sixteen_writers(file.store.clone(), 20_000).await;
    assert_eq!(file.store.head_position().await.unwrap(), Position(20_000));
    caught_up(&handle, last_deposit(&file.store).await).await;
    let status = handle.status();
    handle.stop().await.expect("stops cleanly");

    let balances = file.balances().await;
    assert_eq!(balances.values().sum::<i64>(), 20_000);
    assert_eq!(balances.len(), 200);
    assert_eq!(balances, fold_of_log(&file.store).await);
    assert_eq!(
        file.applied().await,
        (20_000, 20_000),
        "no event applied twice"
    );
    assert_eq!(status.lag, 0);
    assert_eq!(status.processed, 20_000);
    file.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_exactly_once_with_random_handler_failures_and_killed_runners() {
    let file = SqliteFile::new().await;
    let failures = Arc::new(AtomicU64::new(0));
    let policy = ErrorPolicy::default()
        .retries(1_000)
        .backoff(Duration::from_millis(1), Duration::from_millis(5));
    let runner = |store: SqliteStore| {
        let mut handler = SqlBalances::new("balances");
        handler.fail_one_in = Some(150);
        handler.failures = failures.clone();
        ProjectionRunner::new(store.clone(), store, handler)
            .batch_size(64)
            .error_policy(policy)
    };

    let writers = tokio::spawn(sixteen_writers(file.store.clone(), 6_000));
    // Kill the runner task at random moments (mid-batch included), then restart it.
    let mut dice = Dice::seeded();
    for _ in 0..8 {
        let mut r = runner(file.store.clone());
        let task = tokio::spawn(async move { r.run().await });
        let millis = 20 + (dice.0 % 200);
        dice.roll(2);
        tokio::time::sleep(Duration::from_millis(millis)).await;
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
    }
    writers.await.expect("writers");

    let handle = runner(file.store.clone()).spawn();
    caught_up(&handle, last_deposit(&file.store).await).await;
    handle.stop().await.expect("stops cleanly");

    assert!(
        failures.load(Ordering::Relaxed) > 0,
        "failures were injected"
    );
    let balances = file.balances().await;
    assert_eq!(balances.values().sum::<i64>(), 6_000);
    assert_eq!(balances, fold_of_log(&file.store).await);
    assert_eq!(
        file.applied().await,
        (6_000, 6_000),
        "no event applied twice"
    );
    file.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_two_runners_without_a_lease_still_apply_each_batch_once() {
    let file = SqliteFile::new().await;
    let handles: Vec<_> = (0..2)
        .map(|_| {
            ProjectionRunner::new(
                file.store.clone(),
                file.store.clone(),
                SqlBalances::new("balances"),
            )
            .batch_size(50)
            .spawn()
        })
        .collect();
    sixteen_writers(file.store.clone(), 3_000).await;
    let last = last_deposit(&file.store).await;
    for handle in handles {
        caught_up(&handle, last).await;
        handle.stop().await.expect("stops");
    }
    assert_eq!(file.applied().await, (3_000, 3_000));
    assert_eq!(file.balances().await, fold_of_log(&file.store).await);
    file.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_rebuild_resets_the_read_model_and_replays_from_zero() {
    let file = SqliteFile::new().await;
    for i in 0..300 {
        file.store
            .append(
                &stream(i % 7),
                ExpectedVersion::Any,
                vec![deposit(2), note()],
            )
            .await
            .unwrap();
    }
    let last = last_deposit(&file.store).await;
    let mut runner = ProjectionRunner::new(
        file.store.clone(),
        file.store.clone(),
        SqlBalances::new("balances"),
    );
    runner
        .run_until(at_checkpoint(file.store.clone(), "balances", last))
        .await
        .unwrap();
    assert!(runner.status().checkpoint >= last, "{:?}", runner.status());
    assert_eq!(file.balances().await, fold_of_log(&file.store).await);

    runner.rebuild().await.expect("rebuild");
    assert!(
        file.balances().await.is_empty(),
        "on_reset cleared the read model"
    );
    assert_eq!(file.store.load_checkpoint_in_pool("balances").await, None);

    let handle = runner.spawn();
    caught_up(&handle, last).await;
    handle.stop().await.unwrap();
    assert_eq!(file.balances().await, fold_of_log(&file.store).await);
    assert_eq!(file.applied().await, (300, 300));
    file.remove().await;
}

/// Loads a checkpoint through the pool (test helper).
trait LoadCheckpoint {
    async fn load_checkpoint_in_pool(&self, name: &str) -> Option<Checkpoint>;
}
impl LoadCheckpoint for SqliteStore {
    async fn load_checkpoint_in_pool(&self, name: &str) -> Option<Checkpoint> {
        let mut tx = ProjectionStore::begin(self).await.unwrap();
        let checkpoint = ProjectionStore::load_checkpoint_in(self, &mut tx, name)
            .await
            .unwrap();
        ProjectionStore::commit(self, tx).await.unwrap();
        checkpoint
    }
}

// ---------------------------------------------------------------------------------------------
// In-memory handlers (at-least-once, `Ctx = ()`)

/// Sums deposits per account in memory; fails on the events listed in `poison` while `broken`.
/// Buffers a batch and applies it in `flush` (dropped in `on_abort`), so retried batches are not
/// counted twice.
#[derive(Clone, Default)]
struct Totals {
    pending: Vec<(String, i64, Position)>,
    /// Fail in `flush` (which cannot say which event is at fault) instead of in `handle`.
    fail_in_flush: bool,
    balances: Arc<Mutex<HashMap<String, i64>>>,
    handled: Arc<AtomicU64>,
    poison: Arc<Mutex<Vec<Position>>>,
    broken: Arc<AtomicBool>,
    resets: Arc<AtomicU64>,
}

impl Totals {
    fn balances(&self) -> HashMap<String, i64> {
        self.balances.lock().unwrap().clone()
    }
}

#[async_trait]
impl EventHandler for Totals {
    fn event_types(&self) -> Vec<&'static str> {
        vec![DEPOSITED]
    }

    async fn handle(&mut self, event: &RecordedEvent, _: &mut ()) -> Result<(), HandlerError> {
        if !self.fail_in_flush
            && self.broken.load(Ordering::SeqCst)
            && self.poison.lock().unwrap().contains(&event.meta.position)
        {
            return Err(HandlerError::failed(format!(
                "cannot handle position {}",
                event.meta.position
            )));
        }
        let amount = event.decode::<Deposited>()?.event.amount;
        self.pending.push((
            event.meta.stream_id.to_string(),
            amount,
            event.meta.position,
        ));
        Ok(())
    }
}

#[async_trait]
impl Projection for Totals {
    fn name(&self) -> &str {
        "totals"
    }

    async fn flush(&mut self, _: &mut ()) -> Result<(), HandlerError> {
        if self.fail_in_flush && self.broken.load(Ordering::SeqCst) {
            let poison = self.poison.lock().unwrap();
            if let Some((_, _, at)) = self.pending.iter().find(|p| poison.contains(&p.2)) {
                return Err(HandlerError::failed(format!("cannot flush position {at}")));
            }
        }
        let mut balances = self.balances.lock().unwrap();
        for (account, amount, _) in self.pending.drain(..) {
            *balances.entry(account).or_insert(0) += amount;
            self.handled.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }

    fn on_abort(&mut self) {
        self.pending.clear();
    }

    async fn on_reset(&mut self, _: &mut ()) -> Result<(), HandlerError> {
        self.balances.lock().unwrap().clear();
        self.resets.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

fn quick_policy() -> ErrorPolicy {
    ErrorPolicy::default()
        .retries(2)
        .backoff(Duration::from_millis(1), Duration::from_millis(2))
}

async fn seed(store: &impl EventStore, deposits: usize) {
    for i in 0..deposits {
        store
            .append(
                &stream(i % 5),
                ExpectedVersion::Any,
                vec![deposit(1), note()],
            )
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_runner_catches_up_follows_live_and_reports_status() {
    let store = MemoryStore::new();
    seed(&store, 100).await;
    let totals = Totals::default();
    let handle = ProjectionRunner::new(store.clone(), store.clone(), totals.clone())
        .batch_size(7)
        .spawn();
    caught_up(&handle, last_deposit(&store).await).await;
    handle.wait_for(|s| s.state == RunnerState::Live).await;
    assert_eq!(handle.status().state, RunnerState::Live);

    // live: woken by the append signal
    seed(&store, 50).await;
    caught_up(&handle, last_deposit(&store).await).await;
    let status = handle.status();
    assert_eq!(status.processed, 150);
    assert_eq!(status.projection, "totals");
    // The last event of the log is a note, which this projection does not handle: once it has
    // read everything, its checkpoint moves past the note and the lag is 0.
    let status = tokio::time::timeout(
        Duration::from_secs(120),
        handle.wait_for(|s| s.caught_up && s.lag == 0),
    )
    .await
    .expect("a caught-up projection of some event types reaches lag 0");
    assert_eq!(status.checkpoint, store.head_checkpoint().await.unwrap());
    assert_eq!(
        es_core::projection::lag(&store, &store, "totals")
            .await
            .unwrap(),
        0,
        "lag read from the stores agrees"
    );
    handle.stop().await.unwrap();
    assert_eq!(totals.balances(), fold_of_log(&store).await);
    assert_eq!(totals.handled.load(Ordering::SeqCst), 150);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_runner_resumes_from_its_checkpoint() {
    let store = MemoryStore::new();
    seed(&store, 40).await;
    let totals = Totals::default();
    let handle = ProjectionRunner::new(store.clone(), store.clone(), totals.clone()).spawn();
    caught_up(&handle, last_deposit(&store).await).await;
    handle.stop().await.unwrap();

    seed(&store, 10).await;
    let handle = ProjectionRunner::new(store.clone(), store.clone(), totals.clone()).spawn();
    caught_up(&handle, last_deposit(&store).await).await;
    assert_eq!(handle.status().processed, 10, "only the new events");
    handle.stop().await.unwrap();
    assert_eq!(totals.handled.load(Ordering::SeqCst), 50);
    assert_eq!(totals.balances(), fold_of_log(&store).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_policy_stops_with_the_failing_event_after_the_retries() {
    let store = MemoryStore::new();
    seed(&store, 20).await;
    let totals = Totals::default();
    totals.poison.lock().unwrap().push(Position(15));
    totals.broken.store(true, Ordering::SeqCst);
    let handle = ProjectionRunner::new(store.clone(), store.clone(), totals.clone())
        .batch_size(4)
        .error_policy(quick_policy())
        .spawn();
    let error = tokio::time::timeout(Duration::from_secs(60), handle.join())
        .await
        .expect("stops")
        .expect_err("fails");
    match &error {
        ProjectionError::Handler {
            position,
            attempts,
            stream: failed_stream,
            event_type,
            ..
        } => {
            assert_eq!(*position, Position(15));
            assert_eq!(*attempts, 3);
            assert_eq!(event_type, DEPOSITED);
            assert_eq!(failed_stream, &stream(7 % 5));
        }
        other => panic!("unexpected error {other:?}"),
    }
    assert!(error.to_string().contains("cannot handle position 15"));
    // stopped before the failing batch: deposits are at odd positions, batches of 4 are
    // (1, 3, 5, 7), (9, 11, 13, 15): the checkpoint is the end of the first.
    let stored = es_core::CheckpointStore::load_checkpoint(&store, "totals")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored, Checkpoint::new(0, Position(7)));
    assert_eq!(totals.handled.load(Ordering::SeqCst), 4);
}

/// Parks, lists and retries dead letters on any projection store.
async fn park_list_and_retry<P: ProjectionStore<Tx = ()> + Clone + 'static>(
    store: impl EventStore + es_core::CheckpointStore + Clone + 'static,
    projection_store: P,
) {
    seed(&store, 30).await;
    let totals = Totals::default();
    totals
        .poison
        .lock()
        .unwrap()
        .extend([Position(5), Position(21)]);
    totals.broken.store(true, Ordering::SeqCst);
    let mut runner = ProjectionRunner::new(store.clone(), projection_store, totals.clone())
        .batch_size(4)
        .error_policy(quick_policy().park());
    let last = last_deposit(&store).await;
    runner
        .run_until(at_checkpoint(store.clone(), "totals", last))
        .await
        .unwrap();
    let status = runner.status();
    assert!(
        status.checkpoint >= last,
        "went on past the parked events: {status:?}"
    );

    let parked = runner.parked().await.unwrap();
    assert_eq!(
        parked.iter().map(|p| p.position()).collect::<Vec<_>>(),
        vec![Position(5), Position(21)]
    );
    assert!(parked[0].error.contains("cannot handle position 5"));
    assert_eq!(parked[0].event_type, DEPOSITED);
    assert_eq!(parked[0].stream_id, stream(2));
    assert_eq!(totals.handled.load(Ordering::SeqCst), 28);

    // still broken: the retry keeps them
    let report = runner.retry_parked().await.unwrap();
    assert_eq!((report.succeeded, report.failed.len()), (0, 2));
    assert_eq!(runner.parked().await.unwrap().len(), 2);

    // fixed: the retry handles and removes them
    totals.broken.store(false, Ordering::SeqCst);
    let report = runner.retry_parked().await.unwrap();
    assert_eq!((report.succeeded, report.failed.len()), (2, 0));
    assert!(runner.parked().await.unwrap().is_empty());
    assert_eq!(totals.handled.load(Ordering::SeqCst), 30);
    assert_eq!(totals.balances(), fold_of_log(&store).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_park_list_and_retry_dead_letters() {
    let store = MemoryStore::new();
    park_list_and_retry(store.clone(), store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_park_list_and_retry_dead_letters() {
    let file = SqliteFile::new().await;
    park_list_and_retry(file.store.clone(), AtLeastOnce(file.store.clone())).await;
    file.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_rebuild_calls_on_reset_and_replays() {
    let store = MemoryStore::new();
    seed(&store, 25).await;
    let totals = Totals::default();
    let mut runner = ProjectionRunner::new(store.clone(), store.clone(), totals.clone());
    let last = last_deposit(&store).await;
    runner
        .run_until(at_checkpoint(store.clone(), "totals", last))
        .await
        .unwrap();
    assert_eq!(totals.handled.load(Ordering::SeqCst), 25);
    runner.rebuild().await.unwrap();
    assert_eq!(totals.resets.load(Ordering::SeqCst), 1);
    assert!(totals.balances().is_empty());
    runner
        .run_until(at_checkpoint(store.clone(), "totals", last))
        .await
        .unwrap();
    assert_eq!(
        totals.handled.load(Ordering::SeqCst),
        50,
        "replayed from zero"
    );
    assert_eq!(totals.balances(), fold_of_log(&store).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_lease_only_one_runner_works_and_the_other_takes_over() {
    let store = MemoryStore::new();
    seed(&store, 50).await;
    let leases = LocalLeases::new();
    let first_totals = Totals::default();
    let second_totals = Totals::default();
    let retry = Duration::from_millis(20);
    let first = ProjectionRunner::new(store.clone(), store.clone(), first_totals.clone())
        .lease(leases.clone(), retry)
        .spawn();
    caught_up(&first, last_deposit(&store).await).await;
    let second = ProjectionRunner::new(store.clone(), store.clone(), second_totals.clone())
        .lease(leases.clone(), retry)
        .spawn();
    second.wait_for(|s| s.state == RunnerState::Standby).await;

    seed(&store, 10).await;
    caught_up(&first, last_deposit(&store).await).await;
    assert_eq!(second.status().state, RunnerState::Standby);
    assert_eq!(second_totals.handled.load(Ordering::SeqCst), 0);

    first.stop().await.unwrap();
    seed(&store, 5).await;
    caught_up(&second, last_deposit(&store).await).await;
    second.stop().await.unwrap();
    assert_eq!(first_totals.handled.load(Ordering::SeqCst), 60);
    assert_eq!(
        second_totals.handled.load(Ordering::SeqCst),
        5,
        "took over at the checkpoint"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_deliver_typed_events_in_log_order() {
    let store = MemoryStore::new();
    seed(&store, 3).await;
    let mut everything = SubscriptionBuilder::new(store.clone()).subscribe::<Deposited>();
    let mut raw_notes = SubscriptionBuilder::new(store.clone()).subscribe_types(&[NOTE]);
    let mut from_now = SubscriptionBuilder::new(store.clone())
        .from_now()
        .await
        .unwrap()
        .subscribe::<Deposited>();
    store
        .append(&stream(9), ExpectedVersion::Any, vec![deposit(42)])
        .await
        .unwrap();

    let mut positions = Vec::new();
    for _ in 0..4 {
        let envelope = everything.next().await.unwrap().unwrap();
        positions.push(envelope.meta.position.0);
    }
    assert_eq!(positions, vec![1, 3, 5, 7]);
    let next = from_now.next().await.unwrap().unwrap();
    assert_eq!((next.event.amount, next.meta.position), (42, Position(7)));
    let note = raw_notes.next().await.unwrap();
    assert_eq!(note.meta.event_type, NOTE);
    assert_eq!(note.meta.position, Position(2));
    raw_notes.close().await.unwrap();
    drop(everything);
}

// ---------------------------------------------------------------------------------------------
// A read model written with `#[event_handler]`, taking the metadata and the transaction

/// Deposits per actor, from the metadata, in the SQLite file.
struct DepositsByActor;

#[es_core::event_handler]
impl DepositsByActor {
    async fn deposited(
        &mut self,
        e: &Deposited,
        meta: &es_core::EventMeta,
        tx: &mut SqliteTx<'_>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO by_actor (actor, total) VALUES (?1, ?2)
             ON CONFLICT (actor) DO UPDATE SET total = total + excluded.total",
        )
        .bind(meta.metadata.actor.as_deref().unwrap_or("nobody"))
        .bind(e.amount)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

impl<'c> Projection<SqliteTx<'c>> for DepositsByActor {
    fn name(&self) -> &str {
        "deposits-by-actor"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_macro_generated_read_model_runs_in_the_projection_transaction() {
    let file = SqliteFile::new().await;
    sqlx::query("CREATE TABLE by_actor (actor TEXT PRIMARY KEY, total INTEGER NOT NULL)")
        .execute(file.store.pool())
        .await
        .unwrap();
    for (actor, amount) in [("ada", 5), ("bob", 7), ("ada", 1)] {
        let event =
            NewEvent::from_event(&Deposited { amount }, Metadata::new().with_actor(actor)).unwrap();
        file.store
            .append(&stream(1), ExpectedVersion::Any, vec![event, note()])
            .await
            .unwrap();
    }
    let handle =
        ProjectionRunner::new(file.store.clone(), file.store.clone(), DepositsByActor).spawn();
    caught_up(&handle, last_deposit(&file.store).await).await;
    handle.stop().await.unwrap();
    let totals: Vec<(String, i64)> =
        sqlx::query_as("SELECT actor, total FROM by_actor ORDER BY actor")
            .fetch_all(file.store.pool())
            .await
            .unwrap();
    assert_eq!(totals, vec![("ada".into(), 6), ("bob".into(), 7)]);
    // Committed with the read model: at the last deposit, or past the notes after it once the
    // runner has read everything (it moves its checkpoint over events it does not handle).
    let stored = file
        .store
        .load_checkpoint_in_pool("deposits-by-actor")
        .await
        .expect("a stored checkpoint");
    assert!(stored >= last_deposit(&file.store).await, "{stored}");
    assert!(
        stored <= file.store.head_checkpoint().await.unwrap(),
        "{stored}"
    );
    file.remove().await;
}

// ---------------------------------------------------------------------------------------------
// Replays upcast old events like aggregate loads do

/// Version 2 of a deposit: version 1 stored `cents` under an older name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct DepositedV2 {
    amount: i64,
}
impl Event for DepositedV2 {
    const NAME: &'static str = "test.deposited.v2";
    const VERSION: u32 = 2;
    const ALIASES: &'static [&'static str] = &["test.old-deposit"];
    fn upcast(
        from: u32,
        payload: serde_json::Value,
    ) -> Result<(u32, serde_json::Value), es_core::DecodeErrorKind> {
        match from {
            1 => Ok((2, serde_json::json!({ "amount": payload["cents"] }))),
            _ => Err(es_core::DecodeErrorKind::MissingUpcast { from }),
        }
    }
}

#[derive(Default)]
struct UpcastTotal(i64);

#[es_core::event_handler]
impl UpcastTotal {
    fn deposited(&mut self, e: &DepositedV2) {
        self.0 += e.amount;
    }
}

#[async_trait]
impl Projection for UpcastTotal {
    fn name(&self) -> &str {
        "upcast-total"
    }

    async fn on_reset(&mut self, _: &mut ()) -> Result<(), HandlerError> {
        self.0 = 0;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rebuild_replays_old_schema_versions_and_old_names_through_the_upcasters() {
    let file = SqliteFile::new().await;
    let events = vec![
        NewEvent::raw("test.old-deposit", 1, serde_json::json!({ "cents": 5 })),
        NewEvent::raw("test.deposited.v2", 1, serde_json::json!({ "cents": 7 })),
        NewEvent::raw("test.deposited.v2", 2, serde_json::json!({ "amount": 11 })),
    ];
    file.store
        .append(&stream(1), ExpectedVersion::NoStream, events)
        .await
        .unwrap();
    let mut runner = ProjectionRunner::new(
        file.store.clone(),
        AtLeastOnce(file.store.clone()),
        UpcastTotal::default(),
    );
    let last = Checkpoint::new(0, Position(3));
    let stop = at_checkpoint(file.store.clone(), "upcast-total", last);
    runner.run_until(stop).await.unwrap();
    assert_eq!(runner.handler().0, 23);
    assert_eq!(runner.status().checkpoint.position, Position(3));

    runner.rebuild().await.unwrap();
    assert_eq!(runner.handler().0, 0, "on_reset ran");
    let stop = at_checkpoint(file.store.clone(), "upcast-total", last);
    runner.run_until(stop).await.unwrap();
    assert_eq!(
        runner.handler().0,
        23,
        "replayed from zero through the same upcasters"
    );
    file.remove().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_flush_is_narrowed_down_to_the_event_and_parked() {
    let store = MemoryStore::new();
    seed(&store, 30).await;
    let totals = Totals {
        fail_in_flush: true,
        ..Totals::default()
    };
    totals.poison.lock().unwrap().push(Position(13));
    totals.broken.store(true, Ordering::SeqCst);
    let mut runner = ProjectionRunner::new(store.clone(), store.clone(), totals.clone())
        .batch_size(8)
        .error_policy(quick_policy().park());
    let last = last_deposit(&store).await;
    runner
        .run_until(at_checkpoint(store.clone(), "totals", last))
        .await
        .unwrap();
    let parked = runner.parked().await.unwrap();
    assert_eq!(
        parked.iter().map(|p| p.position()).collect::<Vec<_>>(),
        vec![Position(13)],
        "only the event whose flush fails is parked"
    );
    assert!(parked[0].error.contains("cannot flush position 13"));
    assert!(runner.status().checkpoint >= last, "{:?}", runner.status());
    assert_eq!(totals.handled.load(Ordering::SeqCst), 29);
}

/// Fails at scripted calls: `always` fails every time, `once_at` fails on that call (1-based)
/// for that position only. Counts what it applied (flushed) per position.
#[derive(Default)]
struct Scripted {
    always: Vec<Position>,
    once_at: Vec<(Position, u32)>,
    calls: HashMap<Position, u32>,
    pending: Vec<Position>,
    applied: Vec<Position>,
}

#[async_trait]
impl EventHandler for Scripted {
    fn event_types(&self) -> Vec<&'static str> {
        vec![DEPOSITED]
    }

    async fn handle(&mut self, event: &RecordedEvent, _: &mut ()) -> Result<(), HandlerError> {
        let position = event.meta.position;
        let call = self.calls.entry(position).or_insert(0);
        *call += 1;
        if self.always.contains(&position) || self.once_at.contains(&(position, *call)) {
            return Err(HandlerError::failed(format!(
                "position {position} fails on call {call}"
            )));
        }
        self.pending.push(position);
        Ok(())
    }
}

#[async_trait]
impl Projection for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }

    async fn flush(&mut self, _: &mut ()) -> Result<(), HandlerError> {
        self.applied.append(&mut self.pending);
        Ok(())
    }

    fn on_abort(&mut self) {
        self.pending.clear();
    }
}

/// Parking re-applies the events before the poisoned one; one of them failing then (a transient
/// error) must not stop the runner: it goes on event by event and parks only what keeps failing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transient_failure_while_parking_does_not_stop_the_runner() {
    let store = MemoryStore::new();
    seed(&store, 10).await; // deposits at positions 1, 3, ..., 19
    let handler = Scripted {
        always: vec![Position(7)],
        // Calls of position 3: batch attempt 1, attempt 2, then the parking attempt (fails).
        once_at: vec![(Position(3), 3)],
        ..Scripted::default()
    };
    let mut runner = ProjectionRunner::new(store.clone(), store.clone(), handler)
        .batch_size(4)
        .error_policy(
            ErrorPolicy::default()
                .retries(1)
                .backoff(Duration::from_millis(1), Duration::from_millis(1))
                .park(),
        );
    let last = last_deposit(&store).await;
    runner
        .run_until(at_checkpoint(store.clone(), "scripted", last))
        .await
        .expect("a transient failure while parking does not stop the runner");
    assert!(runner.status().checkpoint >= last, "{:?}", runner.status());
    let parked = runner.parked().await.unwrap();
    assert_eq!(
        parked.iter().map(|p| p.position()).collect::<Vec<_>>(),
        vec![Position(7)],
        "only the event that keeps failing is parked"
    );
    assert!(parked[0].error.contains("position 7 fails"), "{parked:?}");
    let expected: Vec<Position> = (0..10)
        .map(|i| Position(2 * i + 1))
        .filter(|p| *p != Position(7))
        .collect();
    assert_eq!(
        runner.handler().applied,
        expected,
        "every other event applied once, in order"
    );
    assert!(
        runner.handler().calls[&Position(3)] > 3,
        "position 3 was tried again after it failed while parking"
    );
}

/// Leases that the test can take away from their holder.
#[derive(Clone, Default)]
struct RevocableLeases {
    revoked: Arc<AtomicBool>,
    granted: Arc<AtomicU64>,
}

struct RevocableLease(Arc<AtomicBool>);

#[async_trait]
impl es_core::Lease for RevocableLease {
    async fn is_held(&mut self) -> Result<bool, es_core::StoreError> {
        Ok(!self.0.load(Ordering::SeqCst))
    }
    async fn release(self: Box<Self>) -> Result<(), es_core::StoreError> {
        Ok(())
    }
}

#[async_trait]
impl es_core::LeaseProvider for RevocableLeases {
    async fn try_acquire(
        &self,
        _projection: &str,
    ) -> Result<Option<Box<dyn es_core::Lease>>, es_core::StoreError> {
        if self.revoked.load(Ordering::SeqCst) {
            return Ok(None);
        }
        self.granted.fetch_add(1, Ordering::SeqCst);
        Ok(Some(Box::new(RevocableLease(self.revoked.clone()))))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_that_loses_its_lease_stops_working_until_it_gets_it_back() {
    let store = MemoryStore::new();
    seed(&store, 10).await;
    let leases = RevocableLeases::default();
    let totals = Totals::default();
    let handle = ProjectionRunner::new(store.clone(), store.clone(), totals.clone())
        .lease(leases.clone(), Duration::from_millis(20))
        .spawn();
    caught_up(&handle, last_deposit(&store).await).await;

    leases.revoked.store(true, Ordering::SeqCst);
    handle.wait_for(|s| s.state == RunnerState::Standby).await;
    assert_eq!(handle.status().state, RunnerState::Standby);
    seed(&store, 5).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        totals.handled.load(Ordering::SeqCst),
        10,
        "no work without the lease"
    );

    leases.revoked.store(false, Ordering::SeqCst);
    caught_up(&handle, last_deposit(&store).await).await;
    handle.stop().await.unwrap();
    assert_eq!(totals.handled.load(Ordering::SeqCst), 15);
    assert_eq!(leases.granted.load(Ordering::SeqCst), 2);
    assert_eq!(totals.balances(), fold_of_log(&store).await);
}
