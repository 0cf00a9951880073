//! Every public future and stream of es-core, es-sqlite and es-postgres is `Send` (and `'static`
//! where it borrows nothing), so it can be awaited inside `tokio::spawn`.
//!
//! The checks are made by the compiler: this file does not compile if one of them fails. Nothing
//! here connects to a database; the futures are built (they are lazy) and dropped unpolled.

use async_trait::async_trait;
use es_core::prelude::*;
use es_core::projection::{ErrorPolicy, ProjectionHandle};
use es_core::{
    AtLeastOnce, Checkpoint, CheckpointStore, EventHandler, EventStore, ExpectedVersion,
    HandlerError, Lease, LeaseProvider, LocalLeases, MemoryStore, NewEvent, Projection,
    ProjectionRunner, ProjectionStore, ReadAll, RecordedEvent, Snapshot, SnapshotStore, StreamId,
    Subscription, SubscriptionBuilder, Wakeup,
};
use es_postgres::{AppendNotifications, PgStore, PgTx};
use es_sqlite::{SqliteStore, SqliteTx};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::future::Future;
use std::time::Duration;

/// The future (or stream) may be moved to another thread.
fn send<T: Send>(value: T) {
    drop(value);
}

/// The future may be handed to `tokio::spawn`.
fn spawnable<F: Future + Send + 'static>(future: F) {
    drop(future);
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "send.added")]
struct Added {
    n: i64,
}

#[derive(Debug, Clone, PartialEq, DomainEvent)]
enum CounterEvent {
    Added(Added),
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, Aggregate)]
#[aggregate(name = "counter", events = CounterEvent)]
struct Counter {
    total: i64,
}

#[event_handler]
impl Counter {
    fn added(&mut self, e: &Added) {
        self.total += e.n;
    }
}

#[derive(Clone)]
struct Add(i64);

#[command_handler]
impl Counter {
    fn add(&self, cmd: Add) -> Result<Added, std::convert::Infallible> {
        Ok(Added { n: cmd.0 })
    }
}

/// A handler that is `Send` but not `Sync` (the traits ask for no more): the runner's futures must
/// be `Send` with it.
struct Tally(Cell<u64>);

#[async_trait]
impl<Ctx: Send + ?Sized> EventHandler<Ctx> for Tally {
    fn event_types(&self) -> Vec<&'static str> {
        vec![]
    }
    async fn handle(&mut self, _: &RecordedEvent, _: &mut Ctx) -> Result<(), HandlerError> {
        self.0.set(self.0.get() + 1);
        Ok(())
    }
}

impl<Ctx: Send + ?Sized> Projection<Ctx> for Tally {
    fn name(&self) -> &str {
        "tally"
    }
}

/// A wake-up source that is `Send` but not `Sync` (the trait asks for no more).
struct Hints(Cell<u32>);

#[async_trait]
impl Wakeup for Hints {
    async fn wait(&mut self, timeout: Duration) -> Result<bool, es_core::StoreError> {
        tokio::time::sleep(timeout).await;
        self.0.set(self.0.get() + 1);
        Ok(false)
    }
}

fn stream() -> StreamId {
    StreamId::new("counter-1").expect("a valid stream id")
}

fn event() -> NewEvent {
    NewEvent::raw("send.added", 1, serde_json::json!({ "n": 1 }))
}

/// The store traits' methods, on any store (`async_trait` boxes them; this keeps it so).
fn store_futures<S>(store: &S)
where
    S: EventStore + SnapshotStore + CheckpointStore,
{
    let id = stream();
    send(store.append(&id, ExpectedVersion::Any, vec![event()]));
    let append = es_core::dcb::StreamAppend::new(id.clone(), ExpectedVersion::Any, vec![event()]);
    let condition = es_core::dcb::AppendCondition::new(es_core::dcb::Query::all(), None);
    send(store.append_streams(vec![append], Some(condition)));
    send(store.read_stream(&id, Version(0)));
    send(store.replay_stream(&id, Version(0)));
    send(store.read_all(ReadAll::new()));
    send(store.stream_version(&id));
    send(store.head_position());
    send(store.head_checkpoint());
    send(store.append_signal());
    send(store.load_snapshot(&id));
    let snapshot = Snapshot {
        stream_id: id.clone(),
        version: Version(1),
        schema_version: 1,
        state: serde_json::json!({}),
    };
    send(store.save_snapshot(&snapshot));
    send(store.load_checkpoint("p"));
    send(store.save_checkpoint("p", Checkpoint::START));
    send(store.delete_checkpoint("p"));
    send(es_core::projection::lag(store, store, "p"));
}

/// The repository's methods over any store.
fn repository_futures<S>(store: S)
where
    S: EventStore + SnapshotStore + Clone + 'static,
{
    let repository = Repository::<Counter, S>::new(store);
    send(repository.load("1"));
    send(repository.load_versioned("1"));
    send(repository.load_at("1", Version(1)));
    send(repository.load_as_of("1", chrono::Utc::now()));
    send(repository.history("1"));
    send(repository.execute("1", Add(1)));
    send(repository.execute_with("1", Add(1), Metadata::default()));
    send(repository.execute_together([("1", Add(1)), ("2", Add(2))]));
    send(repository.execute_together_with([("1", Add(1))], Metadata::default()));
    let decisions = es_core::decision::Decisions::new(repository.store().clone());
    send(decisions.states(&Claim));
    send(decisions.execute(Claim));
    send(decisions.execute_with(Claim, Metadata::default()));
    send(decisions.execute_idempotent(uuid::Uuid::nil(), Claim, Metadata::default()));
    spawnable(async move { decisions.execute(Claim).await });
    spawnable(async move { repository.execute("1", Add(1)).await });
}

/// A decision over the counter (an aggregate's `#[event_handler]` state serves as a decision state).
struct Claim;

impl es_core::decision::Decision for Claim {
    type States = (Counter,);
    type Event = Added;
    type Error = std::convert::Infallible;
    fn tags(&self) -> (Vec<String>,) {
        (vec!["counter:1".into()],)
    }
    fn stream(&self, _: &Added) -> String {
        "counter-1".into()
    }
    fn decide(&self, _: &(Counter,)) -> Result<Vec<Added>, Self::Error> {
        Ok(vec![Added { n: 1 }])
    }
}

/// The projection store's methods over any store.
fn projection_store_futures<P: ProjectionStore>(store: &P, tx: &mut P::Tx) {
    send(store.begin());
    send(store.load_checkpoint_in(tx, "p"));
    send(store.save_checkpoint_in(tx, "p", Checkpoint::START));
    send(store.delete_checkpoint_in(tx, "p"));
    send(store.unpark_in(tx, 1));
    send(store.clear_parked_in(tx, "p"));
    send(store.parked("p"));
}

/// A runner's methods, with a `Send`-only handler and wake-up source.
fn runner_futures<S, P>(events: S, store: P)
where
    S: EventStore + Clone + 'static,
    P: ProjectionStore + Clone + 'static,
    Tally: Projection<P::Tx>,
{
    let mut runner = ProjectionRunner::new(events.clone(), store.clone(), Tally(Cell::new(0)))
        .batch_size(10)
        .error_policy(ErrorPolicy::default())
        .wake_up(Hints(Cell::new(0)))
        .lease(LocalLeases::new(), Duration::from_millis(10));
    send(runner.parked());
    send(runner.retry_parked());
    send(runner.rebuild());
    send(runner.run());
    send(runner.run_until(async {}));
    let runner =
        ProjectionRunner::new(events, store, Tally(Cell::new(0))).wake_up(Hints(Cell::new(0)));
    spawnable(async move {
        let mut runner = runner;
        let _ = runner.parked().await;
        let _ = runner.retry_parked().await;
        let _ = runner.rebuild().await;
        runner.run_until(async {}).await
    });
}

fn handle_futures(handle: ProjectionHandle, other: ProjectionHandle) {
    send(handle.wait_for(|s| s.lag == 0));
    spawnable(handle.stop());
    spawnable(other.join());
}

fn subscription_futures<S: EventStore + Clone + 'static>(store: S) {
    let builder = SubscriptionBuilder::new(store.clone());
    spawnable(builder.from_now());
    let mut subscription: Subscription<RecordedEvent> =
        SubscriptionBuilder::new(store.clone()).subscribe_types(&["send.added"]);
    send(subscription.next());
    spawnable(subscription.close());
    let typed = SubscriptionBuilder::new(store).subscribe::<Added>();
    // The subscription itself is a stream that may move to another task.
    spawnable(futures::StreamExt::into_future(typed));
}

fn lease_futures<L: LeaseProvider>(leases: &L) {
    send(leases.try_acquire("p"));
}

fn testkit_futures<S: es_core::testkit::ConformanceStore>(store: S) {
    use es_core::testkit::*;
    spawnable(append_and_read_stream(store.clone()));
    spawnable(expected_version_rules(store.clone()));
    spawnable(conflict_writes_nothing(store.clone()));
    spawnable(batch_is_atomic(store.clone()));
    spawnable(idempotent_append(store.clone()));
    spawnable(read_all_pages_without_gaps(store.clone()));
    spawnable(read_all_filters_by_type_and_time(store.clone()));
    spawnable(metadata_round_trips(store.clone()));
    spawnable(decode_errors_name_the_event(store.clone()));
    spawnable(snapshots_keep_the_newest(store.clone()));
    spawnable(checkpoints_round_trip(store.clone()));
    spawnable(concurrent_writers_never_fork(store.clone()));
    spawnable(append_signal_fires(store.clone()));
    spawnable(missing_stream_is_empty(store.clone()));
    spawnable(replay_stream_matches_read_stream(store));
}

/// A held lease's methods (`PgLease`, `LocalLease` behind `Box<dyn Lease>`).
fn held_lease_futures(mut lease: Box<dyn Lease>) {
    send(lease.is_held());
    spawnable(lease.release());
}

fn memory_futures(store: MemoryStore) {
    store_futures(&store);
    repository_futures(store.clone());
    projection_store_futures(&store, &mut ());
    projection_store_futures(&AtLeastOnce(store.clone()), &mut ());
    runner_futures(store.clone(), store.clone());
    runner_futures(store.clone(), AtLeastOnce(store.clone()));
    subscription_futures(store.clone());
    lease_futures(&LocalLeases::new());
    testkit_futures(store);
}

fn sqlite_futures(store: SqliteStore, tx: &mut SqliteTx<'static>) {
    spawnable(SqliteStore::open("/tmp/es-send-check.db"));
    spawnable(SqliteStore::open(std::path::PathBuf::from("x.db")));
    spawnable(SqliteStore::open_with(
        sqlx::sqlite::SqliteConnectOptions::new().filename("x.db"),
    ));
    send(store.close());
    send(SqliteStore::save_checkpoint_in(tx, "p", Checkpoint::START));
    send(SqliteStore::load_checkpoint_in(tx, "p"));
    store_futures(&store);
    repository_futures(store.clone());
    projection_store_futures(&store, tx);
    runner_futures(store.clone(), store.clone());
    runner_futures(store.clone(), AtLeastOnce(store.clone()));
    subscription_futures(store.clone());
    testkit_futures(store);
}

fn postgres_futures(
    store: PgStore,
    pool: sqlx::PgPool,
    tx: &mut PgTx<'static>,
    notifications: &mut AppendNotifications,
) {
    spawnable(PgStore::connect("postgres://postgres@127.0.0.1/es_test"));
    spawnable(PgStore::builder().connect("postgres://postgres@127.0.0.1/es_test"));
    spawnable(PgStore::builder().schema("s").pool(pool));
    send(store.migrate());
    send(store.close());
    send(store.listen());
    send(notifications.wait(Duration::from_millis(1)));
    send(store.save_checkpoint_in(tx, "p", Checkpoint::START));
    send(store.load_checkpoint_in(tx, "p"));
    spawnable({
        let store = store.clone();
        async move { store.migrate().await }
    });
    spawnable({
        let store = store.clone();
        async move { store.listen().await }
    });
    store_futures(&store);
    repository_futures(store.clone());
    projection_store_futures(&store, tx);
    lease_futures(&store);
    runner_futures(store.clone(), store.clone());
    runner_futures(store.clone(), AtLeastOnce(store.clone()));
    subscription_futures(store.clone());
    testkit_futures(store);
}

#[test]
fn public_futures_and_streams_are_send() {
    // Referencing the checks makes the compiler type-check (and keep) them; it is the compiler
    // that proves `Send`, nothing is run.
    let checks: [*const (); 5] = [
        memory_futures as *const (),
        sqlite_futures as *const (),
        postgres_futures as *const (),
        handle_futures as *const (),
        held_lease_futures as *const (),
    ];
    assert!(checks.iter().all(|f| !f.is_null()));
}
