//! Repository behaviour on every store: retries, point-in-time loads, metadata, atomic batches,
//! snapshots. Each test runs on the in-memory store and on a real SQLite file.
//!
//! The domain types use the macros, as an application would.

use async_trait::async_trait;
use chrono::Utc;
use es_core::prelude::*;
use es_core::{
    AppendResult, EventId, EventStream, NewEvent, RepositoryError, Snapshot, StoreError,
};
use es_sqlite::SqliteStore;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "test.deposited")]
struct Deposited {
    amount: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "test.withdrawn")]
struct Withdrawn {
    amount: i64,
}

#[derive(Debug, Clone, PartialEq, DomainEvent)]
enum AccountEvent {
    Deposited(Deposited),
    Withdrawn(Withdrawn),
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, Aggregate)]
#[aggregate(name = "account", events = AccountEvent, snapshot_every = 10)]
struct Account {
    balance: i64,
    applied: u64,
}

#[event_handler]
impl Account {
    fn deposited(&mut self, e: &Deposited) {
        self.applied += 1;
        self.balance += e.amount;
    }
    fn withdrawn(&mut self, e: &Withdrawn) {
        self.applied += 1;
        self.balance -= e.amount;
    }
}

#[derive(Clone)]
struct Deposit(i64);
#[derive(Clone)]
struct Withdraw(i64);
/// Deposits in `n` separate events of 1 (a multi-event batch).
#[derive(Clone)]
struct DepositOnes(i64);

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("insufficient funds")]
struct InsufficientFunds;

#[command_handler]
impl Account {
    fn deposit(&self, cmd: Deposit) -> Result<Deposited, std::convert::Infallible> {
        Ok(Deposited { amount: cmd.0 })
    }

    fn withdraw(&self, cmd: Withdraw) -> Result<Withdrawn, InsufficientFunds> {
        if self.balance < cmd.0 {
            return Err(InsufficientFunds);
        }
        Ok(Withdrawn { amount: cmd.0 })
    }

    fn deposit_ones(&self, cmd: DepositOnes) -> Result<Vec<Deposited>, std::convert::Infallible> {
        Ok((0..cmd.0).map(|_| Deposited { amount: 1 }).collect())
    }

    fn transfer(&self, cmd: Leg) -> Result<AccountEvent, InsufficientFunds> {
        match cmd {
            Leg::Out(amount) if self.balance < amount => Err(InsufficientFunds),
            Leg::Out(amount) => Ok(Withdrawn { amount }.into()),
            Leg::In(amount) => Ok(Deposited { amount }.into()),
        }
    }
}

/// One side of a transfer between two accounts.
#[derive(Clone)]
enum Leg {
    Out(i64),
    In(i64),
}

/// A real store plus a competing writer: before each of the first `races` appends it lets a
/// "concurrent" deposit of 1000 land first, so the repository's append really conflicts. It also
/// counts the stream reads (loads) it serves.
#[derive(Clone)]
struct Raced<S> {
    inner: S,
    races: Arc<AtomicUsize>,
    reads: Arc<AtomicUsize>,
}

impl<S> Raced<S> {
    fn new(inner: S, races: usize) -> Self {
        Self {
            inner,
            races: Arc::new(AtomicUsize::new(races)),
            reads: Arc::new(AtomicUsize::new(0)),
        }
    }
}

#[async_trait]
impl<S: EventStore> EventStore for Raced<S> {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        let race = self
            .races
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if race {
            let competing = NewEvent::from_event(
                &AccountEvent::Deposited(Deposited { amount: 1000 }),
                Metadata::new().with_actor("competitor"),
            )
            .unwrap();
            self.inner
                .append(stream, ExpectedVersion::Any, vec![competing])
                .await?;
        }
        self.inner.append(stream, expected, events).await
    }
    fn read_stream<'a>(&'a self, stream: &'a StreamId, from: Version) -> EventStream<'a> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.read_stream(stream, from)
    }
    fn read_all<'a>(&'a self, query: ReadAll) -> EventStream<'a> {
        self.inner.read_all(query)
    }
    async fn stream_version(&self, stream: &StreamId) -> Result<Version, StoreError> {
        self.inner.stream_version(stream).await
    }
    async fn head_position(&self) -> Result<Position, StoreError> {
        self.inner.head_position().await
    }
}

#[async_trait]
impl<S: SnapshotStore> SnapshotStore for Raced<S> {
    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        self.inner.load_snapshot(stream).await
    }
    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        self.inner.save_snapshot(snapshot).await
    }
}

/// Something a [`Faulty`] store runs once, on the real store.
type Hook<S> = Box<dyn FnOnce(S) -> futures::future::BoxFuture<'static, ()> + Send>;

/// A real store that misbehaves on purpose, once each: `lose` appends are forwarded and then
/// answered with `StoreError::Unavailable` ("committed, but the reply was lost"); `before` runs
/// before the next append is forwarded, `after` after it (a concurrent writer in between).
#[derive(Clone)]
struct Faulty<S> {
    inner: S,
    lose: Arc<AtomicUsize>,
    before: Arc<std::sync::Mutex<Option<Hook<S>>>>,
    after: Arc<std::sync::Mutex<Option<Hook<S>>>>,
}

impl<S: Clone> Faulty<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            lose: Arc::new(AtomicUsize::new(0)),
            before: Arc::default(),
            after: Arc::default(),
        }
    }

    /// The next append is stored, but its caller gets an error.
    fn lose_next_reply(&self) {
        self.lose.store(1, Ordering::SeqCst);
    }

    fn run_before_next_append(&self, hook: Hook<S>) {
        *self.before.lock().unwrap() = Some(hook);
    }

    fn run_after_next_append(&self, hook: Hook<S>) {
        *self.after.lock().unwrap() = Some(hook);
    }
}

#[async_trait]
impl<S: EventStore + Clone + 'static> EventStore for Faulty<S> {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        let before = self.before.lock().unwrap().take();
        if let Some(hook) = before {
            hook(self.inner.clone()).await;
        }
        let result = self.inner.append(stream, expected, events).await;
        let after = self.after.lock().unwrap().take();
        if let Some(hook) = after {
            hook(self.inner.clone()).await;
        }
        let lost = self
            .lose
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if lost && result.is_ok() {
            return Err(StoreError::unavailable(
                "connection reset (the append committed)",
            ));
        }
        result
    }
    fn read_stream<'a>(&'a self, stream: &'a StreamId, from: Version) -> EventStream<'a> {
        self.inner.read_stream(stream, from)
    }
    fn read_all<'a>(&'a self, query: ReadAll) -> EventStream<'a> {
        self.inner.read_all(query)
    }
    async fn stream_version(&self, stream: &StreamId) -> Result<Version, StoreError> {
        self.inner.stream_version(stream).await
    }
    async fn head_position(&self) -> Result<Position, StoreError> {
        self.inner.head_position().await
    }
    async fn find_events(
        &self,
        ids: &[EventId],
    ) -> Result<Vec<(StreamId, es_core::AppendedEvent)>, StoreError> {
        self.inner.find_events(ids).await
    }
}

#[async_trait]
impl<S: SnapshotStore> SnapshotStore for Faulty<S> {
    async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
        self.inner.load_snapshot(stream).await
    }
    async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        self.inner.save_snapshot(snapshot).await
    }
}

trait TestStore: EventStore + SnapshotStore + CheckpointStore + Clone + 'static {}
impl<T: EventStore + SnapshotStore + CheckpointStore + Clone + 'static> TestStore for T {}

fn sqlite_path() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("es-repository-tests")
        .join(format!("{}.db", uuid::Uuid::now_v7()))
}

/// A PostgreSQL store in a fresh schema of the server in `DATABASE_URL` (dropped by the caller).
async fn postgres_store() -> es_postgres::PgStore {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!("DATABASE_URL is not set: these tests need PostgreSQL. Run `bash scripts/test`.")
    });
    es_postgres::PgStore::builder()
        .schema(format!("es_repo_{}", uuid::Uuid::now_v7().simple()))
        .connect(&url)
        .await
        .expect("connect and migrate a fresh schema")
}

/// Runs `check` on a fresh MemoryStore, a fresh SQLite file and a fresh PostgreSQL schema (the
/// last two removed afterwards).
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        mod memory {$(
            #[tokio::test]
            async fn $name() {
                super::$name(es_core::MemoryStore::new()).await;
            }
        )*}
        mod sqlite {$(
            #[tokio::test]
            async fn $name() {
                let path = super::sqlite_path();
                let store = es_sqlite::SqliteStore::open(&path).await.unwrap();
                super::$name(store.clone()).await;
                store.close().await;
                let _ = std::fs::remove_file(&path);
                let _ = std::fs::remove_file(path.with_extension("db-wal"));
                let _ = std::fs::remove_file(path.with_extension("db-shm"));
            }
        )*}
        mod postgres {$(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let store = super::postgres_store().await;
                super::$name(store.clone()).await;
                let drop = format!("DROP SCHEMA {} CASCADE", store.schema().quoted());
                sqlx::query(sqlx::AssertSqlSafe(drop))
                    .execute(store.pool())
                    .await
                    .expect("drop the test schema");
                store.close().await;
            }
        )*}
    };
}

on_every_store!(
    a_conflicting_command_is_retried_and_succeeds,
    exhausted_retries_return_the_conflict,
    rejected_commands_store_nothing,
    load_at_and_load_as_of_fold_the_past,
    metadata_round_trips_through_execute,
    a_multi_event_command_is_atomic,
    snapshots_are_used_and_never_double_apply,
    stale_snapshot_schema_is_ignored,
    a_cache_skips_loads_and_still_snapshots,
    a_cached_state_overtaken_by_another_writer_conflicts_and_reloads,
    a_rejection_on_a_stale_cached_state_is_decided_again,
    a_no_op_on_a_stale_cached_state_reports_the_current_version,
    cached_and_plain_writers_together_lose_nothing,
    a_lost_reply_is_not_applied_twice,
    a_lost_reply_is_not_applied_twice_with_a_cache,
    a_plain_retry_after_a_lost_reply_decides_again,
    a_lost_reply_of_a_large_batch_returns_every_stored_event,
    a_conflict_rechecks_whether_the_command_was_applied,
    a_concurrent_call_storing_first_is_reported_as_applied,
    a_command_that_decided_nothing_is_decided_again,
    transfers_store_both_sides_or_neither,
);

/// The withdrawals of `id`'s history, with their causation ids.
async fn withdrawals<S: TestStore>(store: S, id: &str) -> Vec<(i64, Option<uuid::Uuid>)> {
    Repository::<Account, _>::new(store)
        .history(id)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| match e.event {
            AccountEvent::Withdrawn(w) => Some((w.amount, e.meta.metadata.causation_id)),
            AccountEvent::Deposited(_) => None,
        })
        .collect()
}

/// The append of a withdrawal commits but its reply is lost; retried with the same command id,
/// it is reported as applied, stored once, and not decided again (on the balance after it, the
/// withdrawal would be rejected).
async fn lost_reply_case<S: TestStore>(store: S, cache: bool) {
    let faulty = Faulty::new(store.clone());
    let mut accounts = Repository::<Account, _>::new(faulty.clone());
    if cache {
        accounts = accounts.with_cache(10);
    }
    accounts.execute("a", Deposit(100)).await.unwrap();
    let command = uuid::Uuid::now_v7();
    faulty.lose_next_reply();
    let error = accounts
        .execute_idempotent("a", command, Withdraw(80))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ExecuteError::Repository(RepositoryError::Store(e)) if e.is_transient()),
        "{error:?}"
    );
    let stream = StreamId::new("account-a").unwrap();
    assert_eq!(
        store.stream_version(&stream).await.unwrap(),
        Version(2),
        "it was stored"
    );

    let retry = accounts
        .execute_idempotent("a", command, Withdraw(80))
        .await
        .unwrap_or_else(|e| panic!("the retry was decided again: {e}"));
    assert!(retry.already_applied);
    assert_eq!((retry.version, retry.attempts), (Version(2), 1));
    assert_eq!(retry.events.len(), 1);
    assert_eq!(retry.events[0].version, Version(2));
    assert_eq!(
        retry.events[0].event_id,
        EventId::for_command(command, &stream, 0)
    );
    assert_eq!(
        store.stream_version(&stream).await.unwrap(),
        Version(2),
        "stored once"
    );
    assert_eq!(withdrawals(store.clone(), "a").await, [(80, Some(command))]);

    // Nothing stale is left behind (in the cache, if any): the next command is decided on the
    // current balance (20) and appended at once.
    let error = accounts.execute("a", Withdraw(21)).await.unwrap_err();
    assert_eq!(error.rejection(), Some(&InsufficientFunds));
    let done = accounts.execute("a", Withdraw(20)).await.unwrap();
    assert_eq!(
        (done.version, done.attempts, done.already_applied),
        (Version(3), 1, false)
    );
    assert_eq!(accounts.load("a").await.unwrap().balance, 0);
}

async fn a_lost_reply_is_not_applied_twice<S: TestStore>(store: S) {
    lost_reply_case(store, false).await;
}

async fn a_lost_reply_is_not_applied_twice_with_a_cache<S: TestStore>(store: S) {
    lost_reply_case(store, true).await;
}

/// Plain `execute` is unchanged: its retry after a lost reply is a new command, decided again.
async fn a_plain_retry_after_a_lost_reply_decides_again<S: TestStore>(store: S) {
    let faulty = Faulty::new(store.clone());
    let accounts = Repository::<Account, _>::new(faulty.clone());
    accounts.execute("a", Deposit(100)).await.unwrap();
    faulty.lose_next_reply();
    assert!(accounts.execute("a", Withdraw(80)).await.is_err());
    let error = accounts.execute("a", Withdraw(80)).await.unwrap_err();
    assert_eq!(error.rejection(), Some(&InsufficientFunds));
    let ids: Vec<_> = Repository::<Account, _>::new(store)
        .history("a")
        .await
        .unwrap()
        .iter()
        .map(|e| {
            (
                e.meta.event_id.0.get_version_num(),
                e.meta.metadata.causation_id,
            )
        })
        .collect();
    assert_eq!(ids, [(7, None), (7, None)], "random ids, no causation");
}

/// Every event of a command larger than one lookup is returned, in order.
async fn a_lost_reply_of_a_large_batch_returns_every_stored_event<S: TestStore>(store: S) {
    let faulty = Faulty::new(store.clone());
    let accounts = Repository::<Account, _>::new(faulty.clone());
    let command = uuid::Uuid::now_v7();
    faulty.lose_next_reply();
    assert!(
        accounts
            .execute_idempotent("a", command, DepositOnes(20))
            .await
            .is_err()
    );
    let retry = accounts
        .execute_idempotent("a", command, DepositOnes(20))
        .await
        .unwrap();
    assert!(retry.already_applied);
    assert_eq!(retry.version, Version(20));
    let versions: Vec<_> = retry.events.iter().map(|e| e.version.0).collect();
    assert_eq!(versions, (1..=20).collect::<Vec<_>>());
    assert_eq!(accounts.load("a").await.unwrap().balance, 20);
}

/// The first append conflicts (a competitor deposited), and meanwhile a concurrent call with the
/// same command id stored the withdrawal: the retry loop finds it instead of deciding again.
async fn a_conflict_rechecks_whether_the_command_was_applied<S: TestStore>(store: S) {
    let faulty = Faulty::new(store.clone());
    let accounts = Repository::<Account, _>::new(faulty.clone());
    accounts.execute("a", Deposit(100)).await.unwrap();
    let command = uuid::Uuid::now_v7();
    faulty.run_before_next_append(Box::new(|inner: S| {
        Box::pin(async move {
            Repository::<Account, _>::new(inner)
                .execute("a", Deposit(1000))
                .await
                .unwrap();
        })
    }));
    faulty.run_after_next_append(Box::new(move |inner: S| {
        Box::pin(async move {
            let done = Repository::<Account, _>::new(inner)
                .execute_idempotent("a", command, Withdraw(80))
                .await
                .unwrap();
            assert!(!done.already_applied);
        })
    }));
    let done = accounts
        .execute_idempotent("a", command, Withdraw(80))
        .await
        .unwrap();
    assert!(done.already_applied, "{done:?}");
    assert_eq!((done.version, done.attempts), (Version(3), 2));
    assert_eq!(withdrawals(store.clone(), "a").await, [(80, Some(command))]);
    assert_eq!(accounts.load("a").await.unwrap().balance, 1020);
}

/// A concurrent call with the same command id stores it between this call's lookup and its
/// append: the append finds the ids stored, and the call reports the stored events.
async fn a_concurrent_call_storing_first_is_reported_as_applied<S: TestStore>(store: S) {
    let faulty = Faulty::new(store.clone());
    let accounts = Repository::<Account, _>::new(faulty.clone()).with_cache(10);
    accounts.execute("a", Deposit(100)).await.unwrap();
    let command = uuid::Uuid::now_v7();
    faulty.run_before_next_append(Box::new(move |inner: S| {
        Box::pin(async move {
            Repository::<Account, _>::new(inner)
                .execute_idempotent("a", command, Withdraw(60))
                .await
                .unwrap();
        })
    }));
    let done = accounts
        .execute_idempotent("a", command, Withdraw(60))
        .await
        .unwrap();
    assert!(done.already_applied);
    assert_eq!(
        (done.version, done.attempts, done.events.len()),
        (Version(2), 1, 1)
    );
    assert_eq!(withdrawals(store.clone(), "a").await, [(60, Some(command))]);
    // The cache holds nothing older than the stored withdrawal.
    let next = accounts.execute("a", Withdraw(40)).await.unwrap();
    assert_eq!((next.version, next.attempts), (Version(3), 1));
}

/// A command that decided no events stored nothing, so the same command id decides again; an
/// explicit causation id is kept.
async fn a_command_that_decided_nothing_is_decided_again<S: TestStore>(store: S) {
    let accounts = Repository::<Account, _>::new(store.clone());
    let command = uuid::Uuid::now_v7();
    let nothing = accounts
        .execute_idempotent("a", command, DepositOnes(0))
        .await
        .unwrap();
    assert!(nothing.events.is_empty() && !nothing.already_applied);
    let cause = uuid::Uuid::now_v7();
    let done = accounts
        .execute_idempotent_with(
            "a",
            command,
            DepositOnes(2),
            Metadata::new().with_causation_id(cause),
        )
        .await
        .unwrap();
    assert_eq!((done.events.len(), done.already_applied), (2, false));
    let history = accounts.history("a").await.unwrap();
    assert!(
        history
            .iter()
            .all(|e| e.meta.metadata.causation_id == Some(cause))
    );
}

async fn a_conflicting_command_is_retried_and_succeeds<S: TestStore>(store: S) {
    Repository::<Account, _>::new(store.clone())
        .execute("a", Deposit(600))
        .await
        .unwrap();
    let raced = Raced::new(store.clone(), 2);
    let accounts = Repository::<Account, _>::new(raced);
    let done = accounts
        .execute("a", Withdraw(500))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(done.attempts, 3, "two forced conflicts, then success");
    // The competing deposits (2 x 1000) landed; the withdrawal was appended once, on fresh state.
    let state = accounts.load_versioned("a").await.unwrap();
    assert_eq!(state.state.balance, 600 + 2000 - 500);
    assert_eq!(state.version, Version(4));
    assert_eq!(done.version, Version(4));
}

async fn exhausted_retries_return_the_conflict<S: TestStore>(store: S) {
    let raced = Raced::new(store.clone(), 100);
    let accounts = Repository::<Account, _>::new(raced).with_max_retries(2);
    let error = accounts.execute("a", Deposit(5)).await.unwrap_err();
    match &error {
        ExecuteError::Conflict {
            attempts,
            source: StoreError::Conflict { actual, .. },
        } => {
            assert_eq!(*attempts, 3);
            assert_eq!(*actual, Version(3));
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // Only the competitor's three deposits are stored; ours never was.
    let plain = Repository::<Account, _>::new(store);
    assert_eq!(plain.load("a").await.unwrap().balance, 3000);
}

async fn rejected_commands_store_nothing<S: TestStore>(store: S) {
    let accounts = Repository::<Account, _>::new(store.clone());
    accounts.execute("a", Deposit(10)).await.unwrap();
    let error = accounts.execute("a", Withdraw(11)).await.unwrap_err();
    assert_eq!(error.rejection(), Some(&InsufficientFunds));
    let stream = StreamId::new("account-a").unwrap();
    assert_eq!(store.stream_version(&stream).await.unwrap(), Version(1));
}

async fn load_at_and_load_as_of_fold_the_past<S: TestStore>(store: S) {
    let accounts = Repository::<Account, _>::new(store);
    accounts.execute("a", Deposit(100)).await.unwrap();
    accounts.execute("a", Withdraw(30)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let between = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    accounts.execute("a", Deposit(5)).await.unwrap();
    assert_eq!(accounts.load_at("a", Version(0)).await.unwrap().balance, 0);
    assert_eq!(
        accounts.load_at("a", Version(1)).await.unwrap().balance,
        100
    );
    assert_eq!(accounts.load_at("a", Version(2)).await.unwrap().balance, 70);
    assert_eq!(
        accounts.load_at("a", Version(99)).await.unwrap().balance,
        75
    );
    assert_eq!(accounts.load_as_of("a", between).await.unwrap().balance, 70);
    let long_ago = between - chrono::Duration::days(1);
    assert_eq!(accounts.load_as_of("a", long_ago).await.unwrap().balance, 0);
    assert_eq!(accounts.load("a").await.unwrap().balance, 75);
}

async fn metadata_round_trips_through_execute<S: TestStore>(store: S) {
    let accounts = Repository::<Account, _>::new(store);
    let correlation = uuid::Uuid::now_v7();
    let meta = Metadata::new()
        .with_actor("alice")
        .with_correlation_id(correlation)
        .with("reason", "salary");
    accounts
        .execute_with("a", Deposit(1), meta.clone())
        .await
        .unwrap();
    let history = accounts.history("a").await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].meta.metadata, meta);
    assert_eq!(history[0].meta.event_type, "test.deposited");
    assert_eq!(
        history[0].event,
        AccountEvent::Deposited(Deposited { amount: 1 })
    );
}

async fn a_multi_event_command_is_atomic<S: TestStore>(store: S) {
    let accounts = Repository::<Account, _>::new(store.clone()).with_max_retries(0);
    let done = accounts.execute("a", DepositOnes(5)).await.unwrap();
    assert_eq!(done.events.len(), 5);
    assert_eq!(done.version, Version(5));
    // A racing writer makes the next 3-event batch conflict: none of the 3 may be stored.
    let raced = Repository::<Account, _>::new(Raced::new(store.clone(), 1)).with_max_retries(0);
    assert!(raced.execute("a", DepositOnes(3)).await.is_err());
    let state = accounts.load_versioned("a").await.unwrap();
    assert_eq!(state.version, Version(6), "5 events + the competitor's one");
    assert_eq!(state.state.balance, 1005);
}

async fn snapshots_are_used_and_never_double_apply<S: TestStore>(store: S) {
    let accounts = Repository::<Account, _>::new(store.clone());
    for _ in 0..25 {
        accounts.execute("a", Deposit(1)).await.unwrap();
    }
    let stream = StreamId::new("account-a").unwrap();
    let snapshot = store
        .load_snapshot(&stream)
        .await
        .unwrap()
        .expect("a snapshot every 10 events");
    assert_eq!(snapshot.version, Version(20));
    let loaded = accounts.load_versioned("a").await.unwrap();
    assert_eq!(loaded.version, Version(25));
    assert_eq!(loaded.state.balance, 25);
    // 20 events come from the snapshot, only 5 were applied on top of it (none twice).
    assert_eq!(loaded.state.applied, 25);
    // A point-in-time load before the snapshot replays from the start.
    assert_eq!(
        accounts.load_at("a", Version(15)).await.unwrap().balance,
        15
    );
    // A multi-event command crossing a multiple of 10 snapshots at its last version.
    accounts.execute("a", DepositOnes(7)).await.unwrap();
    let snapshot = store.load_snapshot(&stream).await.unwrap().unwrap();
    assert_eq!(snapshot.version, Version(32));
    assert_eq!(accounts.load("a").await.unwrap().balance, 32);
}

async fn stale_snapshot_schema_is_ignored<S: TestStore>(store: S) {
    let accounts = Repository::<Account, _>::new(store.clone());
    for _ in 0..3 {
        accounts.execute("a", Deposit(2)).await.unwrap();
    }
    let stream = StreamId::new("account-a").unwrap();
    // A snapshot of another schema version, with a state that would be wrong if used.
    store
        .save_snapshot(&Snapshot {
            stream_id: stream,
            version: Version(3),
            schema_version: 99,
            state: serde_json::json!({ "balance": -1, "applied": 0 }),
        })
        .await
        .unwrap();
    assert_eq!(accounts.load("a").await.unwrap().balance, 6);
}

async fn a_cache_skips_loads_and_still_snapshots<S: TestStore>(store: S) {
    let counted = Raced::new(store.clone(), 0);
    let accounts = Repository::<Account, _>::new(counted.clone()).with_cache(100);
    for _ in 0..25 {
        accounts.execute("a", Deposit(1)).await.unwrap();
    }
    assert_eq!(
        counted.reads.load(Ordering::SeqCst),
        1,
        "only the first command loads; the others run on the cached state"
    );
    // A clone shares the cache.
    accounts.clone().execute("a", Deposit(1)).await.unwrap();
    assert_eq!(counted.reads.load(Ordering::SeqCst), 1);
    let stream = StreamId::new("account-a").unwrap();
    let snapshot = store
        .load_snapshot(&stream)
        .await
        .unwrap()
        .expect("snapshot");
    assert_eq!(snapshot.version, Version(20));
    let loaded = Repository::<Account, _>::new(store)
        .load_versioned("a")
        .await
        .unwrap();
    assert_eq!(loaded.version, Version(26));
    assert_eq!((loaded.state.balance, loaded.state.applied), (26, 26));
}

async fn a_cached_state_overtaken_by_another_writer_conflicts_and_reloads<S: TestStore>(store: S) {
    let cached = Repository::<Account, _>::new(store.clone()).with_cache(10);
    let other = Repository::<Account, _>::new(store.clone());
    cached.execute("a", Deposit(100)).await.unwrap();
    other.execute("a", Withdraw(100)).await.unwrap();
    // The cached state still has 100; the current state has 0, so the withdrawal must fail.
    let error = cached.execute("a", Withdraw(50)).await.unwrap_err();
    assert_eq!(error.rejection(), Some(&InsufficientFunds));
    let stream = StreamId::new("account-a").unwrap();
    assert_eq!(store.stream_version(&stream).await.unwrap(), Version(2));
    assert_eq!(other.load("a").await.unwrap().balance, 0);
    // The rejection left the current state cached: the next command appends at version 2.
    let done = cached.execute("a", Deposit(7)).await.unwrap();
    assert_eq!((done.version, done.attempts), (Version(3), 1));
}

async fn a_rejection_on_a_stale_cached_state_is_decided_again<S: TestStore>(store: S) {
    let cached = Repository::<Account, _>::new(store.clone()).with_cache(10);
    let other = Repository::<Account, _>::new(store.clone());
    cached.execute("a", Deposit(10)).await.unwrap();
    other.execute("a", Deposit(100)).await.unwrap();
    // On the cached state (10) this is rejected; on the current state (110) it is not.
    let done = cached
        .execute("a", Withdraw(50))
        .await
        .unwrap_or_else(|e| panic!("decided on a stale state: {e}"));
    assert_eq!((done.version, done.attempts), (Version(3), 1));
    assert_eq!(other.load("a").await.unwrap().balance, 60);
}

async fn a_no_op_on_a_stale_cached_state_reports_the_current_version<S: TestStore>(store: S) {
    let cached = Repository::<Account, _>::new(store.clone()).with_cache(10);
    let other = Repository::<Account, _>::new(store.clone());
    cached.execute("a", Deposit(1)).await.unwrap();
    other.execute("a", DepositOnes(3)).await.unwrap();
    let done = cached.execute("a", DepositOnes(0)).await.unwrap();
    assert!(done.events.is_empty());
    assert_eq!(done.version, Version(4));
}

/// `execute_together`: both sides of a transfer are stored in one transaction, guarded by each
/// account's version; a rejection on one side stores neither; under concurrent transfers and
/// plain deposits (which make the guards conflict) money is never created, lost or overdrawn.
async fn transfers_store_both_sides_or_neither<S: TestStore>(store: S) {
    let accounts = Repository::<Account, _>::new(store.clone()).with_max_retries(10_000);
    accounts.execute("a", Deposit(100)).await.unwrap();
    accounts.execute("b", Deposit(100)).await.unwrap();
    let done = accounts
        .execute_together([("a", Leg::Out(30)), ("b", Leg::In(30))])
        .await
        .unwrap();
    assert_eq!(
        done.iter().map(|e| e.version).collect::<Vec<_>>(),
        [Version(2), Version(2)]
    );
    let refused = accounts
        .execute_together([("a", Leg::Out(500)), ("b", Leg::In(500))])
        .await
        .unwrap_err();
    assert_eq!(refused.rejection(), Some(&InsufficientFunds));
    let version = |id: &'static str| {
        let store = store.clone();
        async move {
            store
                .stream_version(&StreamId::new(format!("account-{id}")).unwrap())
                .await
                .unwrap()
        }
    };
    assert_eq!(
        (version("a").await, version("b").await),
        (Version(2), Version(2)),
        "neither side stored"
    );

    let mut writers = Vec::new();
    for w in 0..4usize {
        let accounts = accounts.clone();
        writers.push(tokio::spawn(async move {
            let (mut moved, mut refused) = (0, 0);
            for n in 0..20usize {
                let amount = i64::try_from(1 + (w * 7 + n * 13) % 40).unwrap();
                let (from, to) = if (w + n) % 2 == 0 {
                    ("a", "b")
                } else {
                    ("b", "a")
                };
                if n % 5 == 0 {
                    accounts.execute(from, Deposit(0)).await.unwrap();
                }
                match accounts
                    .execute_together([(from, Leg::Out(amount)), (to, Leg::In(amount))])
                    .await
                {
                    Ok(_) => moved += 1,
                    Err(e) if e.rejection().is_some() => refused += 1,
                    Err(e) => panic!("{e}"),
                }
            }
            (moved, refused)
        }));
    }
    let mut moved = 0;
    for writer in writers {
        moved += writer.await.unwrap().0;
    }
    assert!(moved > 0);
    let (a, b) = (
        accounts.load("a").await.unwrap(),
        accounts.load("b").await.unwrap(),
    );
    assert_eq!(a.balance + b.balance, 200, "no money created or lost");
    for id in ["a", "b"] {
        let mut balance = 0;
        for event in accounts.history(id).await.unwrap() {
            match event.event {
                AccountEvent::Deposited(d) => balance += d.amount,
                AccountEvent::Withdrawn(w) => balance -= w.amount,
            }
            assert!(
                balance >= 0,
                "{id} overdrawn at version {}",
                event.meta.version
            );
        }
    }
    // Every transfer stored both sides: as many withdrawals in one as deposits of transfers in the other.
    let legs = |id: &'static str| {
        let accounts = accounts.clone();
        async move {
            accounts
                .history(id)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| matches!(e.event, AccountEvent::Withdrawn(_)))
                .count()
        }
    };
    assert_eq!(legs("a").await + legs("b").await, 1 + moved);
}

async fn cached_and_plain_writers_together_lose_nothing<S: TestStore>(store: S) {
    let cached = Repository::<Account, _>::new(store.clone())
        .with_cache(10)
        .with_max_retries(10_000);
    let plain = Repository::<Account, _>::new(store.clone()).with_max_retries(10_000);
    let mut writers = Vec::new();
    for w in 0..4 {
        let repo = if w % 2 == 0 {
            cached.clone()
        } else {
            plain.clone()
        };
        writers.push(tokio::spawn(async move {
            for _ in 0..25 {
                repo.execute("shared", Deposit(1)).await.unwrap();
                repo.execute("shared", Withdraw(1)).await.unwrap();
                repo.execute("shared", Deposit(1)).await.unwrap();
            }
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    let loaded = plain.load_versioned("shared").await.unwrap();
    assert_eq!(loaded.version, Version(300));
    assert_eq!(loaded.state.balance, 100);
    // Never below zero: every withdrawal was decided on the state it was appended to.
    let mut balance = 0;
    for event in plain.history("shared").await.unwrap() {
        match event.event {
            AccountEvent::Deposited(d) => balance += d.amount,
            AccountEvent::Withdrawn(w) => balance -= w.amount,
        }
        assert!(balance >= 0, "overdrawn at version {}", event.meta.version);
    }
}

#[tokio::test]
async fn checkpoints_are_shared_by_the_sqlite_store_and_a_reopened_one() {
    let path = sqlite_path();
    let store = SqliteStore::open(&path).await.unwrap();
    store
        .save_checkpoint("p", Checkpoint::new(0, Position(7)))
        .await
        .unwrap();
    store.close().await;
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.load_checkpoint("p").await.unwrap(),
        Some(Checkpoint::new(0, Position(7)))
    );
    store.close().await;
    let _ = std::fs::remove_file(&path);
}
