//! Dynamic consistency boundaries across processes: 4 processes x 8 writers, each on its own
//! connection, race to enrol in a course of capacity 10 and to register one user name, and make
//! conditional appends on tags of their own, while commits land out of position order (a trigger
//! makes each insert linger) and a live `read_all` tailer follows the log. Exactly 10 enrolments
//! and one registration are stored, unrelated conditional appends never fail (at most 1%), and
//! the tailer sees every event exactly once, in log order.

mod common;

use es_core::dcb::{AppendCondition, Query, QueryItem, StreamAppend};
use es_core::{
    Checkpoint, EventId, EventStore, ExpectedVersion, NewEvent, ReadAll, StoreError, StreamId,
};
use es_postgres::PgStore;
use futures::TryStreamExt;
use serde_json::json;
use std::collections::HashSet;
use std::time::{Duration, Instant};

const PROCESSES: usize = 4;
const WRITERS_PER_PROCESS: usize = 8;
const WRITERS: usize = PROCESSES * WRITERS_PER_PROCESS;
const CAPACITY: usize = 10;
const OWN_APPENDS: usize = 5;
const TOTAL: usize = CAPACITY + 1 + WRITERS * OWN_APPENDS;

const CHILD_SCHEMA: &str = "ES_PG_DCB_CHILD_SCHEMA";
const CHILD_FIRST: &str = "ES_PG_DCB_CHILD_FIRST";

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

fn event(event_type: &str, writer: usize, tags: &[String]) -> NewEvent {
    NewEvent::raw(event_type, 1, json!({ "writer": writer })).with_tags(tags.iter().cloned())
}

/// Reads what matches `query`, lets `decide` choose from how many matched, appends with the
/// condition after the read; on a failed condition, again. Returns (appended, failed conditions).
async fn decide(
    store: &PgStore,
    query: &Query,
    stream: &str,
    decide: impl Fn(usize) -> Option<NewEvent>,
) -> (bool, usize) {
    let mut failed = 0;
    loop {
        let seen: Vec<_> = store
            .read_all(ReadAll::new().matching(query.clone()))
            .try_collect()
            .await
            .unwrap();
        let Some(event) = decide(seen.len()) else {
            return (false, failed);
        };
        let after = seen.last().map(|e| e.meta.checkpoint());
        let append = StreamAppend::new(
            StreamId::new(stream).unwrap(),
            ExpectedVersion::Any,
            vec![event],
        );
        match store
            .append_streams(
                vec![append],
                Some(AppendCondition::new(query.clone(), after)),
            )
            .await
        {
            Ok(_) => return (true, failed),
            Err(StoreError::ConditionFailed { .. }) => failed += 1,
            Err(other) => panic!("conditional append failed: {other}"),
        }
        assert!(failed < 10_000, "a writer kept failing its condition");
    }
}

/// One writer: the course race, the user name race, then `OWN_APPENDS` appends on its own tag.
/// Returns (enrolled, named, failed conditions on its own tag).
async fn write(store: PgStore, w: usize) -> (bool, bool, usize) {
    let course = Query::item(
        QueryItem::new()
            .types(["course.subscribed"])
            .tags(["course:race"]),
    );
    let (enrolled, _) = decide(&store, &course, "course-race", |n| {
        (n < CAPACITY).then(|| {
            event(
                "course.subscribed",
                w,
                &["course:race".into(), format!("student:{w}")],
            )
        })
    })
    .await;
    let name = Query::item(
        QueryItem::new()
            .types(["user.registered"])
            .tags(["username:ada"]),
    );
    let (named, _) = decide(&store, &name, &format!("user-{w}"), |n| {
        (n == 0).then(|| event("user.registered", w, &["username:ada".into()]))
    })
    .await;
    let own = Query::item(QueryItem::new().tags([format!("writer:{w}")]));
    let mut own_failures = 0;
    for _ in 0..OWN_APPENDS {
        let before = own_failures;
        let (appended, failed) = decide(&store, &own, &format!("own-{w}"), |_| {
            Some(event("writer.noted", w, &[format!("writer:{w}")]))
        })
        .await;
        assert!(appended);
        own_failures = before + failed;
    }
    store.close().await;
    (enrolled, named, own_failures)
}

/// Follows `read_all` until `TOTAL` events arrived: never backwards, never twice.
async fn tail(store: PgStore) -> Vec<(Checkpoint, EventId)> {
    let mut seen = Vec::new();
    let mut ids = HashSet::new();
    let mut after = Checkpoint::START;
    let deadline = Instant::now() + Duration::from_secs(180);
    while seen.len() < TOTAL {
        assert!(
            Instant::now() < deadline,
            "the tailer saw only {} of {TOTAL}",
            seen.len()
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
            seen.push((cp, e.meta.event_id));
        }
        if page.is_empty() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    store.close().await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conditions_hold_across_processes_and_tailers_see_every_event_once() {
    let store = common::store().await;
    common::widen_commit_window(&store).await;
    let schema = store.schema().to_string();
    let tailer = tokio::spawn(tail(writer_store(&schema).await));
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            tokio::process::Command::new(&exe)
                .args(["--ignored", "--exact", "child_dcb_writers", "--nocapture"])
                .env(CHILD_SCHEMA, &schema)
                .env(CHILD_FIRST, (p * WRITERS_PER_PROCESS).to_string())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("start a writer process")
        })
        .collect();
    let (mut enrolled, mut named, mut own_failures) = (0, 0, 0);
    for child in children {
        let out = child.wait_with_output().await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "a writer process failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find_map(|l| l.strip_prefix("DCB-RESULT "))
            .unwrap_or_else(|| panic!("no result line in {stdout}"));
        let n: Vec<usize> = line.split(' ').map(|v| v.parse().unwrap()).collect();
        enrolled += n[0];
        named += n[1];
        own_failures += n[2];
    }
    assert_eq!(enrolled, CAPACITY, "writers told they enrolled");
    assert_eq!(named, 1, "writers told they got the name");
    let count = |query: Query| {
        let store = store.clone();
        async move {
            store
                .read_all(ReadAll::new().matching(query))
                .try_collect::<Vec<_>>()
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(
        count(Query::item(QueryItem::new().tags(["course:race"]))).await,
        CAPACITY
    );
    assert_eq!(
        count(Query::item(QueryItem::new().tags(["username:ada"]))).await,
        1
    );
    let own_attempts = WRITERS * OWN_APPENDS + own_failures;
    assert!(
        own_failures * 100 <= own_attempts,
        "{own_failures} of {own_attempts} unrelated conditional appends failed (more than 1%)"
    );
    eprintln!(
        "unrelated conditional appends across processes: {own_failures} failed of {own_attempts}"
    );

    let seen = tailer.await.unwrap();
    let log: Vec<(Checkpoint, EventId)> = store
        .read_all(ReadAll::new())
        .map_ok(|e| (e.meta.checkpoint(), e.meta.event_id))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(log.len(), TOTAL);
    assert_eq!(
        seen, log,
        "the live tail equals the log read afterwards, in order"
    );
    common::drop_store(store).await;
}

/// The body of a writer process started by the test above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process of conditions_hold_across_processes_and_tailers_see_every_event_once"]
async fn child_dcb_writers() {
    let schema =
        std::env::var(CHILD_SCHEMA).expect("run by the parent test, which sets the schema");
    let first: usize = std::env::var(CHILD_FIRST).unwrap().parse().unwrap();
    let mut writers = Vec::new();
    for w in first..first + WRITERS_PER_PROCESS {
        let store = writer_store(&schema).await;
        writers.push(tokio::spawn(write(store, w)));
    }
    let (mut enrolled, mut named, mut own_failures) = (0, 0, 0);
    for w in writers {
        let (e, n, f) = w.await.unwrap();
        enrolled += usize::from(e);
        named += usize::from(n);
        own_failures += f;
    }
    println!("DCB-RESULT {enrolled} {named} {own_failures}");
}
