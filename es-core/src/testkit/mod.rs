//! The storage conformance suite: every adapter (and any third-party one) runs it.
//!
//! Each check takes a fresh, empty store and panics with a message on a contract violation. The
//! checks run on a multi-threaded tokio runtime (the property checks block in place).
//! [`conformance_suite!`](crate::conformance_suite) generates one `#[tokio::test]` per check:
//!
//! ```no_run
//! mod conformance {
//!     es_core::conformance_suite!(|| async { es_core::MemoryStore::new() });
//! }
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::{
    Checkpoint, CheckpointStore, DecodeErrorKind, Event, EventStore, ExpectedVersion, Metadata,
    NewEvent, Position, ReadAll, RecordedEvent, ReplayedEvent, Snapshot, SnapshotStore, StoreError,
    StreamId, Version,
};
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

mod corrupt;
mod dcb;
mod inputs;
mod tombstone;

pub use corrupt::undecodable_rows_are_named_and_parked;
pub use dcb::{
    condition_holds_under_parallel_writers, conditional_append, multi_stream_append, read_by_query,
    streams_and_correlations_are_found, tags_round_trip, unrelated_appends_rarely_conflict,
};
pub use inputs::{
    AnyPayload, Collected, arbitrary_inputs_round_trip_or_are_rejected,
    edge_inputs_get_the_same_answer, same_json, snapshot_and_checkpoint_limits,
};
pub use tombstone::{
    deleted_streams_are_closed_and_stay_in_the_log, reserved_event_types_are_rejected,
};

/// What the suite needs of a store.
pub trait ConformanceStore: EventStore + SnapshotStore + CheckpointStore + Clone + 'static {}
impl<T: EventStore + SnapshotStore + CheckpointStore + Clone + 'static> ConformanceStore for T {}

/// Generates one `#[tokio::test]` per conformance check. `$factory` is called once per test and
/// must return a future of a fresh, empty store; the optional `$teardown` gets the store after a
/// check passed and returns a future that removes what the factory created (a schema, a file).
#[macro_export]
macro_rules! conformance_suite {
    ($factory:expr) => {
        $crate::conformance_suite!($factory, |_store| async {});
    };
    ($factory:expr, $teardown:expr) => {
        $crate::conformance_suite!(@tests $factory, $teardown;
            append_and_read_stream, expected_version_rules, conflict_writes_nothing,
            batch_is_atomic, idempotent_append, read_all_pages_without_gaps,
            read_all_filters_by_type_and_time, metadata_round_trips, decode_errors_name_the_event,
            snapshots_keep_the_newest, checkpoints_round_trip, concurrent_writers_never_fork,
            append_signal_fires, missing_stream_is_empty, replay_stream_matches_read_stream,
            arbitrary_inputs_round_trip_or_are_rejected, edge_inputs_get_the_same_answer,
            snapshot_and_checkpoint_limits, find_events_by_id, tags_round_trip, read_by_query,
            conditional_append, multi_stream_append, condition_holds_under_parallel_writers,
            unrelated_appends_rarely_conflict, streams_and_correlations_are_found,
            deleted_streams_are_closed_and_stay_in_the_log, reserved_event_types_are_rejected
        );
    };
    (@tests $factory:expr, $teardown:expr; $($name:ident),* $(,)?) => {$(
        #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let store = ($factory)().await;
            $crate::testkit::$name(::std::clone::Clone::clone(&store)).await;
            ($teardown)(store).await;
        }
    )*};
}

/// The event type the suite writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Noted {
    /// Anything.
    pub text: String,
}

impl Event for Noted {
    const NAME: &'static str = "testkit.noted";
    const VERSION: u32 = 2;
    fn upcast(
        from: u32,
        payload: serde_json::Value,
    ) -> Result<(u32, serde_json::Value), DecodeErrorKind> {
        match from {
            1 => Ok((2, json!({ "text": payload["note"] }))),
            _ => Err(DecodeErrorKind::MissingUpcast { from }),
        }
    }
}

fn stream(name: &str) -> StreamId {
    StreamId::new(format!("testkit-{name}")).expect("valid stream id")
}

fn noted(text: &str) -> NewEvent {
    NewEvent::raw(Noted::NAME, Noted::VERSION, json!({ "text": text }))
}

async fn read_stream<S: ConformanceStore>(
    store: &S,
    s: &StreamId,
    from: u64,
) -> Vec<RecordedEvent> {
    store
        .read_stream(s, Version(from))
        .try_collect()
        .await
        .expect("read_stream failed")
}

async fn read_all<S: ConformanceStore>(store: &S, query: ReadAll) -> Vec<RecordedEvent> {
    store
        .read_all(query)
        .try_collect()
        .await
        .expect("read_all failed")
}

fn texts(events: &[RecordedEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| e.payload["text"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// Appended events come back in order, with versions 1..n and everything that was stored.
pub async fn append_and_read_stream<S: ConformanceStore>(store: S) {
    let s = stream("a");
    let batch = vec![noted("one"), noted("two"), noted("three")];
    let ids: Vec<_> = batch.iter().map(|e| e.event_id).collect();
    let result = store
        .append(&s, ExpectedVersion::NoStream, batch)
        .await
        .unwrap();
    assert!(!result.already_appended);
    assert_eq!(
        result.events.iter().map(|e| e.version).collect::<Vec<_>>(),
        vec![Version(1), Version(2), Version(3)]
    );
    let events = read_stream(&store, &s, 1).await;
    assert_eq!(texts(&events), ["one", "two", "three"]);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.meta.version, Version(i as u64 + 1));
        assert_eq!(e.meta.event_id, ids[i]);
        assert_eq!(e.meta.stream_id, s);
        assert_eq!(e.meta.event_type, Noted::NAME);
        assert_eq!(e.meta.schema_version, Noted::VERSION);
        assert_eq!(e.meta.position, result.events[i].position);
        assert!(e.meta.position > Position(0));
    }
    assert!(
        events
            .windows(2)
            .all(|w| w[0].meta.position < w[1].meta.position)
    );
    assert_eq!(texts(&read_stream(&store, &s, 2).await), ["two", "three"]);
    assert!(read_stream(&store, &s, 4).await.is_empty());
    assert_eq!(store.stream_version(&s).await.unwrap(), Version(3));
    assert_eq!(
        store.head_position().await.unwrap(),
        events[2].meta.position
    );
    let decoded = events[0].decode::<Noted>().unwrap();
    assert_eq!(decoded.event, Noted { text: "one".into() });
}

fn assert_conflict(result: Result<crate::AppendResult, StoreError>, actual: u64) {
    match result {
        Err(StoreError::Conflict { actual: a, .. }) => {
            assert_eq!(a, Version(actual), "conflict must carry the actual version")
        }
        other => panic!("expected a conflict at version {actual}, got {other:?}"),
    }
}

/// `NoStream`, `Exact` and `Any` are enforced; a conflict carries the actual version.
pub async fn expected_version_rules<S: ConformanceStore>(store: S) {
    let s = stream("ev");
    assert_conflict(
        store
            .append(&s, ExpectedVersion::Exact(Version(1)), vec![noted("x")])
            .await,
        0,
    );
    store
        .append(&s, ExpectedVersion::Exact(Version(0)), vec![noted("1")])
        .await
        .unwrap();
    assert_conflict(
        store
            .append(&s, ExpectedVersion::NoStream, vec![noted("x")])
            .await,
        1,
    );
    assert_conflict(
        store
            .append(&s, ExpectedVersion::Exact(Version(0)), vec![noted("x")])
            .await,
        1,
    );
    assert_conflict(
        store
            .append(&s, ExpectedVersion::Exact(Version(2)), vec![noted("x")])
            .await,
        1,
    );
    store
        .append(
            &s,
            ExpectedVersion::Exact(Version(1)),
            vec![noted("2"), noted("3")],
        )
        .await
        .unwrap();
    let any = store
        .append(&s, ExpectedVersion::Any, vec![noted("4")])
        .await
        .unwrap();
    assert_eq!(any.last_version(), Some(Version(4)));
    let fresh = stream("ev-any");
    let any = store
        .append(&fresh, ExpectedVersion::Any, vec![noted("1")])
        .await
        .unwrap();
    assert_eq!(any.last_version(), Some(Version(1)));
    assert_eq!(
        texts(&read_stream(&store, &s, 1).await),
        ["1", "2", "3", "4"]
    );
}

/// A conflicting batch writes nothing, anywhere.
pub async fn conflict_writes_nothing<S: ConformanceStore>(store: S) {
    let s = stream("cw");
    store
        .append(&s, ExpectedVersion::NoStream, vec![noted("kept")])
        .await
        .unwrap();
    let head = store.head_position().await.unwrap();
    let loser = vec![noted("lost-1"), noted("lost-2"), noted("lost-3")];
    assert_conflict(store.append(&s, ExpectedVersion::NoStream, loser).await, 1);
    assert_eq!(texts(&read_stream(&store, &s, 1).await), ["kept"]);
    assert_eq!(read_all(&store, ReadAll::new()).await.len(), 1);
    assert_eq!(store.head_position().await.unwrap(), head);
}

/// A batch that fails part-way (an event id already stored elsewhere) writes nothing.
pub async fn batch_is_atomic<S: ConformanceStore>(store: S) {
    let other = stream("atomic-other");
    let taken = noted("taken");
    let taken_id = taken.event_id;
    store
        .append(&other, ExpectedVersion::NoStream, vec![taken])
        .await
        .unwrap();
    let s = stream("atomic");
    let mut clash = noted("clash");
    clash.event_id = taken_id;
    let result = store
        .append(
            &s,
            ExpectedVersion::NoStream,
            vec![noted("first"), clash, noted("third")],
        )
        .await;
    assert!(
        matches!(result, Err(StoreError::DuplicateEventId { .. })),
        "a batch reusing a stored event id of another stream must fail, got {result:?}"
    );
    assert!(
        read_stream(&store, &s, 1).await.is_empty(),
        "a failed batch must write nothing"
    );
    assert_eq!(store.stream_version(&s).await.unwrap(), Version(0));
    assert_eq!(read_all(&store, ReadAll::new()).await.len(), 1);
}

/// Re-appending a stored batch (same ids) is reported, not duplicated.
pub async fn idempotent_append<S: ConformanceStore>(store: S) {
    let s = stream("idem");
    let batch = vec![noted("a"), noted("b")];
    let first = store
        .append(&s, ExpectedVersion::NoStream, batch.clone())
        .await
        .unwrap();
    let again = store
        .append(&s, ExpectedVersion::NoStream, batch)
        .await
        .unwrap();
    assert!(
        again.already_appended,
        "a repeated batch must be reported as already appended"
    );
    assert_eq!(again.events, first.events);
    assert_eq!(texts(&read_stream(&store, &s, 1).await), ["a", "b"]);
    assert_eq!(read_all(&store, ReadAll::new()).await.len(), 2);
}

/// Paging `read_all` by the checkpoint of the last event returns every event once, in log order.
pub async fn read_all_pages_without_gaps<S: ConformanceStore>(store: S) {
    let mut expected = Vec::new();
    for round in 0..5 {
        for name in ["x", "y", "z"] {
            let text = format!("{name}{round}");
            store
                .append(&stream(name), ExpectedVersion::Any, vec![noted(&text)])
                .await
                .unwrap();
            expected.push(text);
        }
    }
    let mut seen = Vec::new();
    let mut after = Checkpoint::START;
    loop {
        let page = read_all(&store, ReadAll::new().after(after).limit(4)).await;
        assert!(page.len() <= 4, "read_all must honour the limit");
        let Some(last) = page.last() else { break };
        after = last.meta.checkpoint();
        seen.extend(page);
    }
    assert_eq!(texts(&seen), expected);
    assert!(
        seen.windows(2)
            .all(|w| w[0].meta.checkpoint() < w[1].meta.checkpoint())
    );
    let mut stream_versions = std::collections::HashMap::new();
    for e in &seen {
        let v = stream_versions.entry(e.meta.stream_id.clone()).or_insert(0);
        *v += 1;
        assert_eq!(
            e.meta.version,
            Version(*v),
            "read_all must keep each stream's order"
        );
    }
    let after_all = read_all(&store, ReadAll::new().after(after)).await;
    assert!(after_all.is_empty());
}

/// `read_all` filters by event type and by a `recorded_at` range.
pub async fn read_all_filters_by_type_and_time<S: ConformanceStore>(store: S) {
    let s = stream("filter");
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    store
        .append(
            &s,
            ExpectedVersion::NoStream,
            vec![
                noted("n1"),
                NewEvent::raw("testkit.other", 1, json!({ "text": "o1" })),
                noted("n2"),
                NewEvent::raw("testkit.third", 1, json!({ "text": "t1" })),
            ],
        )
        .await
        .unwrap();
    let after = chrono::Utc::now() + chrono::Duration::seconds(1);
    let only_noted = read_all(&store, ReadAll::new().event_types([Noted::NAME])).await;
    assert_eq!(texts(&only_noted), ["n1", "n2"]);
    let two = read_all(
        &store,
        ReadAll::new().event_types(["testkit.other", "testkit.third"]),
    )
    .await;
    assert_eq!(texts(&two), ["o1", "t1"]);
    let limited = read_all(&store, ReadAll::new().event_types([Noted::NAME]).limit(1)).await;
    assert_eq!(texts(&limited), ["n1"]);
    let none = read_all(&store, ReadAll::new().event_types(Vec::<String>::new())).await;
    assert!(none.is_empty(), "an empty type list matches nothing");
    let in_range = read_all(&store, ReadAll::new().recorded_between(before, after)).await;
    assert_eq!(in_range.len(), 4);
    let later = after + chrono::Duration::seconds(60);
    let out_of_range = read_all(&store, ReadAll::new().recorded_between(after, later)).await;
    assert!(out_of_range.is_empty());
    for e in &in_range {
        assert!(e.meta.recorded_at >= before && e.meta.recorded_at < after);
    }
}

/// Metadata (correlation, causation, actor, user keys) is stored and read back unchanged.
pub async fn metadata_round_trips<S: ConformanceStore>(store: S) {
    let s = stream("meta");
    let meta = Metadata::new()
        .with_actor("alice")
        .with_correlation_id(uuid::Uuid::now_v7())
        .with_causation_id(uuid::Uuid::now_v7())
        .with("reason", "testing")
        .with("attempt", 3);
    let event = noted("m").with_metadata(meta.clone());
    store
        .append(&s, ExpectedVersion::NoStream, vec![event])
        .await
        .unwrap();
    let read = read_stream(&store, &s, 1).await;
    assert_eq!(read[0].meta.metadata, meta);
    let all = read_all(&store, ReadAll::new()).await;
    assert_eq!(all[0].meta.metadata, meta);
}

/// Unknown types, too-new versions and bad payloads fail with an error naming the event; old
/// versions upcast.
pub async fn decode_errors_name_the_event<S: ConformanceStore>(store: S) {
    let s = stream("decode");
    store
        .append(
            &s,
            ExpectedVersion::NoStream,
            vec![
                NewEvent::raw(Noted::NAME, 1, json!({ "note": "old" })),
                NewEvent::raw("testkit.unknown", 1, json!({})),
                NewEvent::raw(Noted::NAME, 3, json!({ "text": "future" })),
                NewEvent::raw(Noted::NAME, 2, json!({ "text": 42 })),
            ],
        )
        .await
        .unwrap();
    let events = read_stream(&store, &s, 1).await;
    assert_eq!(
        events[0].decode::<Noted>().unwrap().event,
        Noted { text: "old".into() }
    );
    for (event, expect) in events[1..]
        .iter()
        .zip(["no event type", "newer", "does not decode"])
    {
        let error = event.decode::<Noted>().unwrap_err();
        let message = error.to_string();
        assert_eq!(error.stream, s);
        assert_eq!(error.version, event.meta.version);
        assert_eq!(error.position, event.meta.position);
        for part in [
            s.as_str(),
            &event.meta.event_type,
            &format!("version {}", event.meta.version),
            &format!("position {}", event.meta.position),
            expect,
        ] {
            assert!(
                message.contains(part),
                "`{message}` should mention `{part}`"
            );
        }
    }
}

/// Snapshots round-trip; an older snapshot never replaces a newer one.
pub async fn snapshots_keep_the_newest<S: ConformanceStore>(store: S) {
    let s = stream("snap");
    assert!(store.load_snapshot(&s).await.unwrap().is_none());
    let snap = |v: u64| Snapshot {
        stream_id: s.clone(),
        version: Version(v),
        schema_version: 1,
        state: json!({ "at": v }),
    };
    store.save_snapshot(&snap(10)).await.unwrap();
    assert_eq!(store.load_snapshot(&s).await.unwrap(), Some(snap(10)));
    store.save_snapshot(&snap(20)).await.unwrap();
    store.save_snapshot(&snap(15)).await.unwrap();
    assert_eq!(store.load_snapshot(&s).await.unwrap(), Some(snap(20)));
    assert!(
        store
            .load_snapshot(&stream("snap-other"))
            .await
            .unwrap()
            .is_none()
    );
}

/// Checkpoints are saved, overwritten, loaded and deleted by name.
pub async fn checkpoints_round_trip<S: ConformanceStore>(store: S) {
    assert_eq!(store.load_checkpoint("p").await.unwrap(), None);
    let one = Checkpoint::new(7, Position(3));
    store.save_checkpoint("p", one).await.unwrap();
    assert_eq!(store.load_checkpoint("p").await.unwrap(), Some(one));
    let two = Checkpoint::new(9, Position(12));
    store.save_checkpoint("p", two).await.unwrap();
    store.save_checkpoint("q", one).await.unwrap();
    assert_eq!(store.load_checkpoint("p").await.unwrap(), Some(two));
    store.delete_checkpoint("p").await.unwrap();
    assert_eq!(store.load_checkpoint("p").await.unwrap(), None);
    assert_eq!(store.load_checkpoint("q").await.unwrap(), Some(one));
}

/// Concurrent writers with optimistic retries: every stream ends gapless, nothing lost or doubled.
pub async fn concurrent_writers_never_fork<S: ConformanceStore>(store: S) {
    const WRITERS: usize = 8;
    const EACH: usize = 25;
    let streams: Vec<StreamId> = (0..2).map(|i| stream(&format!("race-{i}"))).collect();
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        let s = streams[w % streams.len()].clone();
        tasks.push(tokio::spawn(async move {
            for n in 0..EACH {
                loop {
                    let v = store.stream_version(&s).await.unwrap();
                    let e = noted(&format!("{w}-{n}"));
                    match store.append(&s, ExpectedVersion::at(v), vec![e]).await {
                        Ok(_) => break,
                        Err(StoreError::Conflict { .. }) => tokio::task::yield_now().await,
                        Err(other) => panic!("append failed: {other}"),
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut total = 0;
    for s in &streams {
        let events = read_stream(&store, s, 1).await;
        for (i, e) in events.iter().enumerate() {
            assert_eq!(e.meta.version, Version(i as u64 + 1));
        }
        let mut seen: Vec<String> = texts(&events);
        let n = seen.len();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), n, "no event may be stored twice");
        total += n;
    }
    assert_eq!(total, WRITERS * EACH);
    assert_eq!(read_all(&store, ReadAll::new()).await.len(), WRITERS * EACH);
}

/// If a store offers an append signal, it fires on append.
pub async fn append_signal_fires<S: ConformanceStore>(store: S) {
    let Some(mut signal) = store.append_signal() else {
        return;
    };
    signal.borrow_and_update();
    store
        .append(&stream("signal"), ExpectedVersion::Any, vec![noted("s")])
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(5), signal.changed())
        .await
        .expect("the append signal did not fire within 5 s")
        .expect("the append signal closed");
}

/// A stream with no events reads empty, at version 0; an empty store's head is 0.
pub async fn missing_stream_is_empty<S: ConformanceStore>(store: S) {
    let s = stream("missing");
    assert!(read_stream(&store, &s, 1).await.is_empty());
    assert_eq!(store.stream_version(&s).await.unwrap(), Version(0));
    assert_eq!(store.head_position().await.unwrap(), Position(0));
    assert!(read_all(&store, ReadAll::new()).await.is_empty());
    let empty = store
        .append(&s, ExpectedVersion::Exact(Version(5)), vec![])
        .await
        .unwrap();
    assert!(empty.events.is_empty());
}

/// `find_events` returns the stored events with the asked ids, each once, with stream, version
/// and position as stored: none of an empty store or for unknown ids, all of a batch, the stored
/// ones of a mix, across streams, and nothing for an empty list.
pub async fn find_events_by_id<S: ConformanceStore>(store: S) {
    let (a, b) = (stream("find-a"), stream("find-b"));
    let unknown = crate::EventId::new();
    assert!(
        store.find_events(&[unknown]).await.unwrap().is_empty(),
        "an empty store finds nothing"
    );
    let batch_a = vec![noted("a1"), noted("a2"), noted("a3")];
    let ids_a: Vec<_> = batch_a.iter().map(|e| e.event_id).collect();
    let stored_a = store
        .append(&a, ExpectedVersion::NoStream, batch_a)
        .await
        .unwrap()
        .events;
    let batch_b = vec![noted("b1")];
    let id_b = batch_b[0].event_id;
    let stored_b = store
        .append(&b, ExpectedVersion::NoStream, batch_b)
        .await
        .unwrap()
        .events;
    let sorted = |mut found: Vec<(StreamId, crate::AppendedEvent)>| {
        found.sort_by_key(|(_, e)| e.position);
        found
    };
    // Found: every event of a batch.
    let found = sorted(store.find_events(&ids_a).await.unwrap());
    let expected: Vec<_> = stored_a.iter().map(|e| (a.clone(), *e)).collect();
    assert_eq!(found, expected, "every stored id is found, as stored");
    // Not found.
    assert!(store.find_events(&[unknown]).await.unwrap().is_empty());
    assert!(store.find_events(&[]).await.unwrap().is_empty());
    // Mixed, across streams, with a repeated id: each stored one once.
    let mixed = [ids_a[1], unknown, id_b, crate::EventId::new(), ids_a[1]];
    let found = sorted(store.find_events(&mixed).await.unwrap());
    assert_eq!(
        found,
        vec![(a.clone(), stored_a[1]), (b.clone(), stored_b[0])],
        "the stored ids of a mix, each once, with their streams"
    );
    // What was found is what reading the streams returns.
    let read = read_stream(&store, &b, 1).await;
    assert_eq!(read[0].meta.event_id, id_b);
    assert_eq!(read[0].meta.position, stored_b[0].position);
}

/// `replay_stream` returns the same events as `read_stream` (minus ids and metadata), in version
/// order, from the requested version, and nothing of other streams.
pub async fn replay_stream_matches_read_stream<S: ConformanceStore>(store: S) {
    let (a, b) = (stream("replay-a"), stream("replay-b"));
    let meta = Metadata::new().with_actor("tester");
    store
        .append(
            &a,
            ExpectedVersion::NoStream,
            vec![noted("one"), noted("two")],
        )
        .await
        .unwrap();
    store
        .append(&b, ExpectedVersion::NoStream, vec![noted("other")])
        .await
        .unwrap();
    store
        .append(
            &a,
            ExpectedVersion::Exact(Version(2)),
            vec![noted("three").with_metadata(meta)],
        )
        .await
        .unwrap();
    for from in [1, 2, 4] {
        let expected: Vec<ReplayedEvent> = read_stream(&store, &a, from)
            .await
            .into_iter()
            .map(ReplayedEvent::from)
            .collect();
        let replayed: Vec<ReplayedEvent> = store
            .replay_stream(&a, Version(from))
            .try_collect()
            .await
            .expect("replay_stream failed");
        assert_eq!(
            replayed.len(),
            expected.len(),
            "replay_stream from version {from}"
        );
        for (r, e) in replayed.iter().zip(&expected) {
            let payload = r
                .payload
                .to_value()
                .expect("a replayed payload is not JSON");
            assert_eq!(payload, e.payload.to_value().unwrap());
            assert_eq!(
                (r.version, r.position, &r.event_type),
                (e.version, e.position, &e.event_type)
            );
            assert_eq!(
                (r.schema_version, r.recorded_at),
                (e.schema_version, e.recorded_at)
            );
        }
    }
    let replayed: Vec<ReplayedEvent> = store
        .replay_stream(&a, Version(1))
        .try_collect()
        .await
        .unwrap();
    let texts: Vec<_> = replayed
        .iter()
        .map(|e| e.payload.to_value().unwrap()["text"].clone())
        .collect();
    assert_eq!(texts, ["one", "two", "three"]);
    assert_eq!(
        replayed.iter().map(|e| e.version).collect::<Vec<_>>(),
        [Version(1), Version(2), Version(3)]
    );
    let event: Noted = replayed[2].clone().into_event(&a).unwrap();
    assert_eq!(event.text, "three");
    let none: Vec<ReplayedEvent> = store
        .replay_stream(&stream("replay-missing"), Version(1))
        .try_collect()
        .await
        .unwrap();
    assert!(none.is_empty());
}
