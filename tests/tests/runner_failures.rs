//! The projection runner and failures of the store: transient errors are retried until the store
//! is back (and reported in the status), and the lag reaches 0 once everything is read, also when
//! the newest events are of types the projection does not handle.

use es_core::projection::lag;
use es_core::{
    AppendResult, Checkpoint, CheckpointStore, ErrorPolicy, EventHandler, EventStore, EventStream,
    ExpectedVersion, HandlerError, LocalLeases, MemoryStore, NewEvent, Position, Projection,
    ProjectionHandle, ProjectionRunner, ProjectionStatus, ReadAll, RecordedEvent, RunnerState,
    StoreError, StreamId, Version,
};
use es_sqlite::SqliteStore;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::watch;

const COUNTED: &str = "test.counted";
const OTHER: &str = "test.other";

/// Counts the `test.counted` events it handles.
#[derive(Clone, Default)]
struct Counter(Arc<AtomicU64>);

#[async_trait::async_trait]
impl<T: Send> EventHandler<T> for Counter {
    fn event_types(&self) -> Vec<&'static str> {
        vec![COUNTED]
    }

    async fn handle(&mut self, _: &RecordedEvent, _: &mut T) -> Result<(), HandlerError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl<T: Send> Projection<T> for Counter {
    fn name(&self) -> &str {
        "counter"
    }
}

async fn append(store: &impl EventStore, event_type: &str, n: usize) {
    let events = (0..n)
        .map(|_| NewEvent::raw(event_type, 1, serde_json::json!({})))
        .collect();
    store
        .append(&StreamId::new("s-1").unwrap(), ExpectedVersion::Any, events)
        .await
        .unwrap();
}

async fn wait(handle: &ProjectionHandle, what: &str, f: impl Fn(&ProjectionStatus) -> bool) {
    let status = tokio::time::timeout(Duration::from_secs(120), handle.wait_for(&f))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for: {what}: {:?}", handle.status()));
    assert!(f(&status), "the runner ended before {what}: {status:?}");
}

/// A store whose `read_all` fails while `failures` is above 0, with a transient or other error.
#[derive(Clone)]
struct Failing {
    inner: MemoryStore,
    failures: Arc<AtomicUsize>,
    transient: bool,
}

#[async_trait::async_trait]
impl EventStore for Failing {
    async fn append(
        &self,
        stream: &StreamId,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult, StoreError> {
        self.inner.append(stream, expected, events).await
    }

    fn read_stream<'a>(&'a self, stream: &'a StreamId, from: Version) -> EventStream<'a> {
        self.inner.read_stream(stream, from)
    }

    fn read_all<'a>(&'a self, query: ReadAll) -> EventStream<'a> {
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            let error = if self.transient {
                StoreError::unavailable("connection reset by peer")
            } else {
                StoreError::rejected("permission denied for table es_events")
            };
            return Box::pin(futures::stream::once(async { Err(error) }));
        }
        self.inner.read_all(query)
    }

    async fn stream_version(&self, stream: &StreamId) -> Result<Version, StoreError> {
        self.inner.stream_version(stream).await
    }

    async fn head_position(&self) -> Result<Position, StoreError> {
        self.inner.head_position().await
    }

    fn append_signal(&self) -> Option<watch::Receiver<u64>> {
        self.inner.append_signal()
    }
}

fn quick_policy() -> ErrorPolicy {
    // The default's 3 retries; short delays keep the test quick.
    ErrorPolicy::default().backoff(Duration::from_millis(2), Duration::from_millis(20))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_store_errors_are_retried_until_the_store_is_back() {
    let store = MemoryStore::new();
    append(&store, COUNTED, 5).await;
    let failing = Failing {
        inner: store.clone(),
        failures: Arc::new(AtomicUsize::new(40)),
        transient: true,
    };
    let counter = Counter::default();
    let handle = ProjectionRunner::new(failing.clone(), store.clone(), counter.clone())
        .error_policy(quick_policy())
        .spawn();
    wait(&handle, "the error shows in the status", |s| {
        s.last_error.is_some()
    })
    .await;
    let failing_status = handle.status();
    assert!(
        failing_status
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("connection reset")),
        "{failing_status:?}"
    );
    assert!(failing_status.failing_since.is_some());
    assert!(!failing_status.caught_up);
    // Far more failures than the policy's 3 retries: still running, and it catches up.
    wait(&handle, "caught up after the store is back", |s| {
        s.caught_up
    })
    .await;
    assert_eq!(failing.failures.load(Ordering::SeqCst), 0);
    let status = handle.status();
    assert_eq!((status.last_error, status.failing_since), (None, None));
    assert_eq!(counter.0.load(Ordering::SeqCst), 5);
    handle.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_store_errors_still_stop_the_runner_after_the_retries() {
    let store = MemoryStore::new();
    append(&store, COUNTED, 1).await;
    let failing = Failing {
        inner: store.clone(),
        failures: Arc::new(AtomicUsize::new(40)),
        transient: false,
    };
    let handle = ProjectionRunner::new(failing.clone(), store.clone(), Counter::default())
        .error_policy(quick_policy())
        .spawn();
    let error = tokio::time::timeout(Duration::from_secs(60), handle.join())
        .await
        .expect("the runner stops")
        .unwrap_err();
    assert!(error.to_string().contains("permission denied"), "{error}");
    // The first attempt and the policy's 3 retries.
    assert_eq!(failing.failures.load(Ordering::SeqCst), 40 - 4);
}

/// After the last event it handles come events it does not: once read, the lag is 0, the
/// runner says it is caught up, and `es_core::projection::lag` from the stores agrees; the same
/// after a rebuild.
async fn lag_reaches_zero<S>(store: S)
where
    S: EventStore + CheckpointStore + es_core::ProjectionStore + Clone + 'static,
{
    append(&store, COUNTED, 20).await;
    append(&store, OTHER, 5).await;
    let counter = Counter::default();
    let handle = ProjectionRunner::new(store.clone(), store.clone(), counter.clone()).spawn();
    wait(&handle, "lag 0", |s| s.caught_up && s.lag == 0).await;
    assert_eq!(counter.0.load(Ordering::SeqCst), 20);
    // Live: more events of the other type only.
    append(&store, OTHER, 3).await;
    wait(&handle, "lag 0 after live events of another type", |s| {
        s.caught_up && s.lag == 0 && s.head.0 >= 28
    })
    .await;
    let status = handle.status();
    assert_eq!(status.state, RunnerState::Live);
    handle.stop().await.unwrap();
    assert_eq!(lag(&store, &store, "counter").await.unwrap(), 0);

    let mut runner = ProjectionRunner::new(store.clone(), store.clone(), counter.clone());
    runner.rebuild().await.unwrap();
    assert_eq!(lag(&store, &store, "counter").await.unwrap(), 28);
    let handle = runner.spawn();
    wait(&handle, "lag 0 after a rebuild", |s| {
        s.caught_up && s.lag == 0
    })
    .await;
    handle.stop().await.unwrap();
    assert_eq!(lag(&store, &store, "counter").await.unwrap(), 0);
    assert_eq!(counter.0.load(Ordering::SeqCst), 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_lag_reaches_zero_when_the_newest_events_are_of_other_types() {
    lag_reaches_zero(MemoryStore::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_lag_reaches_zero_when_the_newest_events_are_of_other_types() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("es-runner-failures-{}", uuid::Uuid::now_v7()));
    let store = SqliteStore::open(dir.join("lag.db")).await.unwrap();
    lag_reaches_zero(store.clone()).await;
    store.close().await;
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_in_standby_reports_the_stored_lag_and_is_not_caught_up() {
    use es_core::LeaseProvider;
    let store = MemoryStore::new();
    append(&store, COUNTED, 20).await;
    append(&store, OTHER, 5).await;
    let leases = LocalLeases::new();
    // Another runner (here: the test) holds the lease and has handled nothing yet.
    let held = leases
        .try_acquire("counter")
        .await
        .unwrap()
        .expect("the lease");
    let handle = ProjectionRunner::new(store.clone(), store.clone(), Counter::default())
        .lease(leases.clone(), Duration::from_millis(10))
        .spawn();
    wait(&handle, "standby with the stored lag", |s| {
        s.state == RunnerState::Standby && s.head == Position(25)
    })
    .await;
    let status = handle.status();
    assert!(!status.caught_up, "{status:?}");
    assert_eq!(status.lag, 25, "{status:?}");
    // The holder moves the stored checkpoint: the standby runner shows it.
    store
        .save_checkpoint("counter", Checkpoint::new(0, Position(20)))
        .await
        .unwrap();
    wait(
        &handle,
        "the standby runner sees the stored checkpoint",
        |s| s.lag == 5,
    )
    .await;
    assert!(!handle.status().caught_up);
    held.release().await.unwrap();
    wait(&handle, "caught up after taking the lease", |s| {
        s.caught_up && s.lag == 0
    })
    .await;
    handle.stop().await.unwrap();
}
