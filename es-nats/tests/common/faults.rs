//! Shared pieces of the fault tests: stores by name (so a child process opens the same one),
//! writers, child processes of this test binary, and the exactly-once checks.
#![allow(dead_code)]

use es_core::prelude::*;
use es_core::{NewEvent, RecordedEvent};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

/// A small xorshift generator: random kill moments without another dependency.
pub struct Rng(u64);

impl Rng {
    pub fn seeded() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let seed = std::env::var("ES_NATS_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(nanos | 1);
        eprintln!("fault test seed: {seed} (set ES_NATS_SEED to repeat)");
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// In `[lo, hi)`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo)
    }
}

/// A store named by a spec a child process can open too: `sqlite:<path>` or `pg:<schema>`.
pub async fn open_store(spec: &str) -> Arc<dyn EventStore> {
    match spec.split_once(':') {
        Some(("sqlite", path)) => Arc::new(es_sqlite::SqliteStore::open(path).await.unwrap()),
        Some(("pg", schema)) => Arc::new(pg_store(schema).await),
        _ => panic!("bad store spec {spec}"),
    }
}

pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "DATABASE_URL is not set: this test needs PostgreSQL. Run `bash scripts/test -p es-nats`, \
             which starts a server and sets it (or set DATABASE_URL yourself)."
        )
    })
}

pub async fn pg_store(schema: &str) -> es_postgres::PgStore {
    es_postgres::PgStore::builder()
        .schema(schema)
        .max_connections(8)
        .horizon_wait(Duration::from_secs(60))
        .connect(&database_url())
        .await
        .expect("connect to PostgreSQL")
}

pub async fn drop_pg_schema(schema: &str) {
    let store = pg_store(schema).await;
    let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(store.pool())
        .await
        .unwrap();
    store.close().await;
}

/// An order event: `amount` placed on `stream`.
pub fn placed(amount: u64) -> NewEvent {
    NewEvent::raw(
        "order.placed",
        1,
        es_core::serde_json::json!({ "amount": amount }),
    )
}

/// Appends `total` events in batches of 1-3 to 16 streams from `writers` concurrent tasks, with
/// small pauses so that the run lasts a while.
pub async fn write(store: Arc<dyn EventStore>, writers: u64, total: u64, pause: Duration) {
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = w;
            let mut i = 0u64;
            while n < total {
                let stream = StreamId::new(format!("order-{}", (n * 7 + w) % 16)).unwrap();
                let size = 1 + (i % 3);
                let events: Vec<NewEvent> = (0..size)
                    .map(|k| n + k * writers)
                    .take_while(|m| *m < total)
                    .map(placed)
                    .collect();
                let count = events.len() as u64;
                store
                    .append(&stream, ExpectedVersion::Any, events)
                    .await
                    .unwrap();
                n += count * writers;
                i += 1;
                if i.is_multiple_of(8) {
                    tokio::time::sleep(pause).await;
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// The whole log of a store, in log order.
pub async fn log(store: &dyn EventStore) -> Vec<RecordedEvent> {
    store.read_all(ReadAll::new()).try_collect().await.unwrap()
}

/// Starts this test binary as a child process running the test `name` with `env`.
pub fn spawn_child(name: &str, env: &[(&str, String)]) -> Child {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (key, value) in env {
        command.env(key, value);
    }
    command.spawn().expect("spawn a child test process")
}

/// SIGKILL.
pub fn kill(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Asserts that the JetStream stream holds exactly the events of `log`, once each, in log order.
/// Returns (events, duplicates, lost).
pub fn assert_exactly_once(
    messages: &[async_nats::jetstream::message::StreamMessage],
    log: &[RecordedEvent],
) -> (usize, usize, usize) {
    let ids: Vec<String> = messages
        .iter()
        .map(|m| super::header(m, "es-event-id").to_owned())
        .collect();
    let unique: std::collections::HashSet<&String> = ids.iter().collect();
    let duplicates = ids.len() - unique.len();
    let wanted: Vec<String> = log.iter().map(|e| e.meta.event_id.to_string()).collect();
    let lost = wanted.iter().filter(|id| !unique.contains(id)).count();
    assert_eq!(duplicates, 0, "duplicates in the stream");
    assert_eq!(lost, 0, "events missing from the stream");
    assert_eq!(ids, wanted, "the stream is not in log order");
    // In order per stream as well (implied, checked directly).
    let mut versions = std::collections::HashMap::<&str, u64>::new();
    for m in messages {
        let stream = super::header(m, "es-stream-id");
        let version: u64 = super::header(m, "es-version").parse().unwrap();
        let last = versions.entry(stream).or_default();
        assert_eq!(version, *last + 1, "stream {stream} out of order");
        *last = version;
    }
    (ids.len(), duplicates, lost)
}
