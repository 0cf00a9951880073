//! The store under failures of the server: errors say whether they are transient, and a
//! projection runner with the default policy survives its connections being killed.

mod common;

use es_core::{
    AtLeastOnce, EventHandler, EventStore, ExpectedVersion, HandlerError, NewEvent, Projection,
    ProjectionRunner, RecordedEvent, StoreError, StreamId,
};
use es_postgres::PgStore;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Clone, Default)]
struct Counter(Arc<AtomicU64>);

#[async_trait::async_trait]
impl EventHandler for Counter {
    fn event_types(&self) -> Vec<&'static str> {
        vec!["test.counted"]
    }

    async fn handle(&mut self, _: &RecordedEvent, _: &mut ()) -> Result<(), HandlerError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl Projection for Counter {
    fn name(&self) -> &str {
        "counter"
    }
}

async fn append(store: &PgStore, n: usize) {
    let events = (0..n)
        .map(|_| NewEvent::raw("test.counted", 1, serde_json::json!({})))
        .collect();
    store
        .append(&StreamId::new("s-1").unwrap(), ExpectedVersion::Any, events)
        .await
        .unwrap();
}

/// Kills every server connection of the application `name` (from another connection).
async fn kill_connections(admin: &PgStore, name: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
         WHERE application_name = $1 AND pid <> pg_backend_pid()",
    )
    .bind(name)
    .fetch_one(admin.pool())
    .await
    .unwrap()
}

fn url_with_application_name(name: &str) -> String {
    let url = common::database_url();
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}application_name={name}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_with_the_default_policy_survives_its_connections_being_killed() {
    let admin = common::store().await;
    let name = format!("es-failures-{}", uuid::Uuid::now_v7().simple());
    let store = PgStore::builder()
        .schema(admin.schema().as_str())
        .migrate(false)
        .horizon_wait(common::HORIZON_WAIT)
        .connect(&url_with_application_name(&name))
        .await
        .unwrap();
    append(&admin, 10).await;
    let counter = Counter::default();
    // ErrorPolicy::default(): 3 retries for handler errors; store errors that are transient
    // are retried until the store is back.
    let handle =
        ProjectionRunner::new(store.clone(), AtLeastOnce(store.clone()), counter.clone()).spawn();
    let caught_up = |n: u64| {
        let counter = counter.clone();
        move |s: &es_core::ProjectionStatus| s.caught_up && counter.0.load(Ordering::SeqCst) == n
    };
    tokio::time::timeout(Duration::from_secs(120), handle.wait_for(caught_up(10)))
        .await
        .expect("caught up before the connections are killed");
    // The kills must make the runner fail and retry, or this test proves nothing: the status's
    // last error is watched while waiting.
    let mut errors: Vec<String> = Vec::new();
    let mut most_failures = 0;
    for round in 0..3 {
        let killed = kill_connections(&admin, &name).await;
        assert!(
            killed > 0,
            "round {round}: the runner's connections were killed"
        );
        let storm = (round == 2).then(|| {
            // A storm: every connection of the runner is killed as soon as it appears, for 4 s,
            // longer than the default policy's 3 retries (100 + 200 + 400 ms) last.
            let admin = admin.clone();
            let name = name.clone();
            tokio::spawn(async move {
                let started = std::time::Instant::now();
                while started.elapsed() < Duration::from_secs(4) {
                    kill_connections(&admin, &name).await;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            })
        });
        append(&admin, 10).await;
        if let Some(storm) = storm {
            while !storm.is_finished() {
                most_failures = most_failures.max(handle.status().failed_attempts);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        let expected = 10 * (round + 2);
        let done = caught_up(expected);
        let started = std::time::Instant::now();
        let status = loop {
            let status = handle.status();
            most_failures = most_failures.max(status.failed_attempts);
            if let Some(error) = &status.last_error
                && errors.last() != Some(error)
            {
                errors.push(error.clone());
            }
            if done(&status) || handle.is_finished() {
                break status;
            }
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "round {round}: not caught up: {status:?}"
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        assert!(!handle.is_finished(), "the runner stopped: {status:?}");
    }
    handle.stop().await.unwrap();
    assert_eq!(counter.0.load(Ordering::SeqCst), 40);
    assert!(
        most_failures > 3,
        "the runner met {most_failures} failures in a row, not more than the default policy's retries: {errors:?}"
    );
    println!("errors the runner retried ({most_failures} in a row at most): {errors:#?}");

    store.close().await;
    common::drop_store(admin).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_statements_are_not_transient() {
    let store = common::store().await;
    append(&store, 1).await;
    let update = format!(
        "UPDATE {}.es_events SET payload = '{{}}'",
        store.schema().quoted()
    );
    let error = sqlx::query(sqlx::AssertSqlSafe(update))
        .execute(store.pool())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("immutable"), "{error}");
    // Through the store: a statement on a schema that is gone is rejected, not transient.
    let gone = PgStore::builder()
        .schema("es_no_such_schema_for_failures")
        .migrate(false)
        .connect(&common::database_url())
        .await
        .unwrap();
    let error = gone.head_position().await.expect_err("no such schema");
    assert!(
        matches!(error, StoreError::Rejected(_)) && !error.is_transient(),
        "{error:?}"
    );
    gone.close().await;
    common::drop_store(store).await;
}

/// Lag a user can alert on, on PostgreSQL: after the last event the projection handles come
/// events it does not; once read, the lag is 0 in the status and from the stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_reaches_zero_when_the_newest_events_are_of_other_types() {
    let store = common::store().await;
    append(&store, 20).await;
    let others = (0..5)
        .map(|_| NewEvent::raw("test.other", 1, serde_json::json!({})))
        .collect();
    store
        .append(&StreamId::new("s-2").unwrap(), ExpectedVersion::Any, others)
        .await
        .unwrap();
    let counter = Counter::default();
    let handle =
        ProjectionRunner::new(store.clone(), AtLeastOnce(store.clone()), counter.clone()).spawn();
    let status = tokio::time::timeout(
        Duration::from_secs(120),
        handle.wait_for(|s| s.caught_up && s.lag == 0),
    )
    .await
    .unwrap_or_else(|_| panic!("lag 0: {:?}", handle.status()));
    assert_eq!(counter.0.load(Ordering::SeqCst), 20, "{status:?}");
    handle.stop().await.unwrap();
    assert_eq!(
        es_core::projection::lag(&store, &store, "counter")
            .await
            .unwrap(),
        0
    );
    common::drop_store(store).await;
}
