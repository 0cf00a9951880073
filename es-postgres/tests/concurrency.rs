//! Many concurrent writers (tasks, then processes) on shared streams, with a live `read_all` tailer:
//! streams stay gapless, and the tailer sees every event exactly once, in log order, each stream in
//! version order, even though commits land out of position order (which a naive
//! `position > last_seen` reader running alongside demonstrably gets wrong).

mod common;

use es_core::{
    Checkpoint, EventId, EventStore, ExpectedVersion, NewEvent, ReadAll, StoreError, StreamId,
    Version,
};
use es_postgres::PgStore;
use futures::TryStreamExt;
use serde_json::json;
use sqlx::{AssertSqlSafe, Row};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const WRITERS: usize = 32;
const STREAMS: usize = 8;
const PER_WRITER: usize = 100;
const TOTAL: usize = WRITERS * PER_WRITER;
const PROCESSES: usize = 4;

const CHILD_SCHEMA: &str = "ES_PG_CHILD_SCHEMA";
const CHILD_WRITERS: &str = "ES_PG_CHILD_WRITERS";

fn stream(i: usize) -> StreamId {
    StreamId::new(format!("shared-{i}")).unwrap()
}

/// A store on its own single connection, in an existing schema.
async fn writer_store(schema: &str) -> PgStore {
    PgStore::builder()
        .schema(schema)
        .migrate(false)
        .max_connections(1)
        .horizon_wait(common::HORIZON_WAIT)
        .connect(&common::database_url())
        .await
        .expect("connect a writer")
}

/// One writer: `PER_WRITER` single-event appends spread over the shared streams, each with the
/// version it read as the expected version, retried on conflict.
async fn write(store: PgStore, writer: usize) -> usize {
    let mut conflicts = 0;
    for n in 0..PER_WRITER {
        let s = stream((writer + n) % STREAMS);
        loop {
            let v = store.stream_version(&s).await.unwrap();
            let e = NewEvent::raw("race.appended", 1, json!({ "writer": writer, "n": n }));
            match store.append(&s, ExpectedVersion::at(v), vec![e]).await {
                Ok(r) => {
                    assert_eq!(r.last_version(), Some(Version(v.0 + 1)));
                    break;
                }
                Err(StoreError::Conflict { actual, .. }) => {
                    assert!(
                        actual > v,
                        "a conflict must report the newer actual version"
                    );
                    conflicts += 1;
                }
                Err(other) => panic!("append failed: {other}"),
            }
        }
    }
    store.close().await;
    conflicts
}

#[derive(Default)]
struct Tail {
    seen: Vec<(Checkpoint, EventId, StreamId, Version)>,
}

/// Tails `read_all` from the start until `TOTAL` events arrived, checking order as it goes.
async fn tail(store: PgStore) -> Tail {
    let mut tail = Tail::default();
    let mut after = Checkpoint::START;
    let mut versions: HashMap<StreamId, u64> = HashMap::new();
    let mut ids = HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut signal = store.append_signal().expect("PgStore has an append signal");
    while tail.seen.len() < TOTAL {
        assert!(
            Instant::now() < deadline,
            "the tailer saw only {} of {TOTAL} events",
            tail.seen.len()
        );
        let page: Vec<_> = store
            .read_all(ReadAll::new().after(after).limit(100))
            .try_collect()
            .await
            .unwrap();
        for e in &page {
            let cp = e.meta.checkpoint();
            assert!(cp > after, "read_all went backwards: {cp} after {after}");
            after = cp;
            assert!(
                ids.insert(e.meta.event_id),
                "event seen twice: {:?}",
                e.meta
            );
            let v = versions.entry(e.meta.stream_id.clone()).or_insert(0);
            assert_eq!(
                e.meta.version.0,
                *v + 1,
                "stream {} version {} seen after version {v}",
                e.meta.stream_id,
                e.meta.version
            );
            *v += 1;
            tail.seen.push((
                cp,
                e.meta.event_id,
                e.meta.stream_id.clone(),
                e.meta.version,
            ));
        }
        if page.is_empty() {
            // No busy polling: wake on a local append, else back off briefly.
            let _ = tokio::time::timeout(Duration::from_millis(20), signal.changed()).await;
        }
    }
    store.close().await;
    tail
}

/// A reader that pages by `global_position > last_seen` only: the wrong way.
async fn naive_tail(store: PgStore, done: Arc<AtomicBool>) -> HashSet<i64> {
    let sql = format!(
        "SELECT global_position FROM {}.es_events WHERE global_position > $1
         ORDER BY global_position LIMIT 100",
        store.schema().quoted()
    );
    let mut seen = HashSet::new();
    let mut last = 0i64;
    loop {
        let finished = done.load(Ordering::SeqCst);
        let rows = sqlx::query(AssertSqlSafe(sql.clone()))
            .bind(last)
            .fetch_all(store.pool())
            .await
            .unwrap();
        for row in &rows {
            let p: i64 = row.get(0);
            seen.insert(p);
            last = p;
        }
        if rows.is_empty() {
            if finished {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    store.close().await;
    seen
}

/// The checks at the end: gapless streams, and a tail equal to the whole log in log order.
async fn verify(store: &PgStore, tail: &Tail, naive: &HashSet<i64>) {
    let mut total = 0;
    for i in 0..STREAMS {
        let events: Vec<_> = store
            .read_stream(&stream(i), Version(1))
            .try_collect()
            .await
            .unwrap();
        for (n, e) in events.iter().enumerate() {
            assert_eq!(
                e.meta.version,
                Version(n as u64 + 1),
                "stream {i} has a gap"
            );
        }
        let payloads: HashSet<String> = events.iter().map(|e| e.payload.to_string()).collect();
        assert_eq!(payloads.len(), events.len(), "stream {i} has a duplicate");
        total += events.len();
    }
    assert_eq!(total, TOTAL, "every append must be stored exactly once");

    let log: Vec<_> = store.read_all(ReadAll::new()).try_collect().await.unwrap();
    assert_eq!(log.len(), TOTAL);
    let order: Vec<(Checkpoint, EventId)> = log
        .iter()
        .map(|e| (e.meta.checkpoint(), e.meta.event_id))
        .collect();
    let tailed: Vec<(Checkpoint, EventId)> = tail.seen.iter().map(|s| (s.0, s.1)).collect();
    assert_eq!(
        tailed, order,
        "the live tail must equal the log read afterwards, in the same order"
    );
    assert!(
        order.windows(2).all(|w| w[0].0 < w[1].0),
        "the log is strictly ordered by (commit, position)"
    );
    // The hazard was real: commits landed out of position order while the naive reader ran.
    let missed = TOTAL - naive.len();
    assert!(
        missed > 0,
        "the test did not produce out-of-order commits (a naive reader missed nothing)"
    );
    eprintln!("a naive position reader missed {missed} of {TOTAL} events; the store's reader none");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_tasks_eight_streams_and_a_live_tailer() {
    let store = common::store().await;
    common::widen_commit_window(&store).await;
    let schema = store.schema().to_string();

    let done = Arc::new(AtomicBool::new(false));
    let tailer = tokio::spawn(tail(writer_store(&schema).await));
    let naive = tokio::spawn(naive_tail(writer_store(&schema).await, done.clone()));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let s = writer_store(&schema).await;
        writers.push(tokio::spawn(write(s, w)));
    }
    let mut conflicts = 0;
    for w in writers {
        conflicts += w.await.unwrap();
    }
    done.store(true, Ordering::SeqCst);
    let tail = tailer.await.unwrap();
    let naive = naive.await.unwrap();
    assert!(
        conflicts > 0,
        "32 writers on 8 streams must have raced at least once"
    );
    verify(&store, &tail, &naive).await;
    common::drop_store(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writers_in_other_processes_and_a_live_tailer() {
    let store = common::store().await;
    common::widen_commit_window(&store).await;
    let schema = store.schema().to_string();

    let done = Arc::new(AtomicBool::new(false));
    let tailer = tokio::spawn(tail(writer_store(&schema).await));
    let naive = tokio::spawn(naive_tail(writer_store(&schema).await, done.clone()));
    let exe = std::env::current_exe().unwrap();
    let per_process = WRITERS / PROCESSES;
    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            let first = p * per_process;
            tokio::process::Command::new(&exe)
                .args([
                    "--ignored",
                    "--exact",
                    "child_writer_process",
                    "--nocapture",
                ])
                .env(CHILD_SCHEMA, &schema)
                .env(CHILD_WRITERS, format!("{first}..{}", first + per_process))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("start a writer process")
        })
        .collect();
    let mut pids = HashSet::new();
    for child in children {
        pids.insert(child.id());
        let out = child.wait_with_output().await.unwrap();
        assert!(out.status.success(), "a writer process failed: {out:?}");
    }
    assert_eq!(pids.len(), PROCESSES);
    done.store(true, Ordering::SeqCst);
    let tail = tailer.await.unwrap();
    let naive = naive.await.unwrap();
    verify(&store, &tail, &naive).await;
    common::drop_store(store).await;
}

/// The body of a writer process started by `writers_in_other_processes_and_a_live_tailer`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process of writers_in_other_processes_and_a_live_tailer"]
async fn child_writer_process() {
    let schema = std::env::var(CHILD_SCHEMA)
        .expect("run by writers_in_other_processes_and_a_live_tailer, which sets the schema");
    let range = std::env::var(CHILD_WRITERS).expect("the writer range, e.g. 0..8");
    let (first, end) = range.split_once("..").expect("a range like 0..8");
    let (first, end): (usize, usize) = (first.parse().unwrap(), end.parse().unwrap());
    let mut writers = Vec::new();
    for w in first..end {
        let s = writer_store(&schema).await;
        writers.push(tokio::spawn(write(s, w)));
    }
    for w in writers {
        w.await.unwrap();
    }
}
