//! Conformance checks on inputs: whatever a store accepts, every reader reads back; whatever it
//! rejects, every store rejects with the same [`InputError`] (see [`crate::limits`]).

use super::{ConformanceStore, read_all, read_stream, stream};
use crate::limits::{self, MAX_EVENT_TYPE_LEN, MAX_JSON_DEPTH};
use crate::{
    Aggregate, Checkpoint, Event, ExpectedVersion, InputError, JsonField, Metadata, NewEvent,
    Position, ReadAll, RecordedEvent, Repository, Snapshot, StoreError, StreamId, Version,
};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::sync::atomic::{AtomicU64, Ordering};

/// Any JSON payload, as an event the property check loads through a [`Repository`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnyPayload(pub Value);

impl Event for AnyPayload {
    const NAME: &'static str = "testkit.any";
}

/// The payloads of a stream, folded by a [`Repository`].
#[derive(Debug, Default)]
pub struct Collected {
    /// Every payload, in stream order.
    pub payloads: Vec<Value>,
}

impl Aggregate for Collected {
    const NAME: &'static str = "testkit-any";
    type Event = AnyPayload;
    fn apply(&mut self, event: &AnyPayload) {
        self.payloads.push(event.0.clone());
    }
}

/// Whether two JSON values are the same JSON: equal strings, keys and structure, and numbers of
/// equal value (a store may write `1e18` back as `1000000000000000000`).
pub fn same_json(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y
                || match (x.as_i64(), y.as_i64(), x.as_u64(), y.as_u64()) {
                    (Some(i), Some(j), _, _) => i == j,
                    (_, _, Some(i), Some(j)) => i == j,
                    _ => x.as_f64() == y.as_f64() && (x.is_f64() || y.is_f64()),
                }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same_json(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| same_json(v, w)))
        }
        _ => a == b,
    }
}

fn same_metadata(a: &Metadata, b: &Metadata) -> bool {
    a.actor == b.actor
        && a.correlation_id == b.correlation_id
        && a.causation_id == b.causation_id
        && same_json(
            &Value::Object(a.extra.clone()),
            &Value::Object(b.extra.clone()),
        )
}

fn text() -> impl Strategy<Value = String> {
    let special = prop::sample::select(vec![
        '\0',
        'é',
        'ß',
        '😀',
        '"',
        '\\',
        '/',
        '\u{1}',
        '\u{7f}',
        '\u{2028}',
        '\u{fffd}',
        '\u{10ffff}',
    ]);
    prop::collection::vec(prop_oneof![4 => any::<char>(), 1 => special], 0..10)
        .prop_map(|chars| chars.into_iter().collect())
}

fn key() -> impl Strategy<Value = String> {
    let named = prop::sample::select(vec![
        "actor",
        "correlation_id",
        "causation_id",
        "reason",
        "",
        "type",
        "payload",
    ]);
    prop_oneof![3 => text(), 1 => named.prop_map(str::to_owned)]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("not finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        prop::sample::select(vec![
            json!(u64::MAX),
            json!(i64::MIN),
            json!(1e18),
            json!(1e300),
            json!(-1.5e-300),
            json!(5e-324),
            json!(f64::MAX),
            json!(-0.0),
            json!(0.1),
        ]),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A value nested `depth` levels, around the limit.
fn deep() -> impl Strategy<Value = Value> {
    (
        MAX_JSON_DEPTH - 3..=MAX_JSON_DEPTH + 3,
        any::<bool>(),
        json_value(),
    )
        .prop_map(|(depth, objects, inner)| {
            (0..depth).fold(inner, |v, i| {
                if objects && i % 2 == 0 {
                    json!({ "k": v })
                } else {
                    json!([v])
                }
            })
        })
}

fn payload() -> impl Strategy<Value = Value> {
    prop_oneof![6 => json_value(), 1 => deep()]
}

fn metadata() -> impl Strategy<Value = Metadata> {
    let extra =
        prop::collection::btree_map(key(), prop_oneof![5 => json_value(), 1 => deep()], 0..4);
    (
        prop::option::of(text()),
        prop::option::of(any::<u128>()),
        prop::option::of(any::<u128>()),
        extra,
    )
        .prop_map(|(actor, correlation, causation, extra)| Metadata {
            correlation_id: correlation.map(uuid::Uuid::from_u128),
            causation_id: causation.map(uuid::Uuid::from_u128),
            actor,
            extra: extra.into_iter().collect::<Map<String, Value>>(),
        })
}

/// How many generated cases each store runs.
const CASES: u32 = 48;

/// Property: an arbitrary payload and metadata (deep nesting, unicode, NUL, big numbers, free keys
/// named like reserved ones) either round-trips through append → `read_stream`, `replay_stream`,
/// `read_all` and `Repository::load`, or is rejected at append with exactly the [`InputError`]
/// that [`limits::check_append`] gives, writing nothing.
pub async fn arbitrary_inputs_round_trip_or_are_rejected<S: ConformanceStore>(store: S) {
    let runtime = tokio::runtime::Handle::current();
    let counter = AtomicU64::new(0);
    let config = Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    };
    let failure = tokio::task::block_in_place(|| {
        TestRunner::new(config)
            .run(&(payload(), metadata()), |(payload, metadata)| {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                runtime.block_on(round_trip_case(&store, n, payload, metadata))
            })
            .err()
            .map(|failure| failure.to_string())
    });
    if let Some(failure) = failure {
        panic!("{failure}");
    }
}

async fn round_trip_case<S: ConformanceStore>(
    store: &S,
    n: u64,
    payload: Value,
    metadata: Metadata,
) -> Result<(), TestCaseError> {
    let id = format!("case-{n}");
    let s = StreamId::for_aggregate(Collected::NAME, &id).expect("valid stream id");
    let event = NewEvent::raw(AnyPayload::NAME, 1, payload.clone()).with_metadata(metadata.clone());
    let expected = limits::check_append(ExpectedVersion::NoStream, std::slice::from_ref(&event));
    let before = store
        .head_checkpoint()
        .await
        .expect("head_checkpoint failed");
    let result = store
        .append(&s, ExpectedVersion::NoStream, vec![event])
        .await;
    match (expected, result) {
        (Err(expected), Err(actual)) => {
            prop_assert_eq!(expected.input_error(), actual.input_error());
            prop_assert_eq!(store.stream_version(&s).await.expect("version"), Version(0));
            return Ok(());
        }
        (Err(expected), Ok(_)) => {
            return Err(TestCaseError::fail(format!(
                "the store accepted what every store must reject: {expected}"
            )));
        }
        (Ok(()), Err(actual)) => {
            return Err(TestCaseError::fail(format!(
                "the store rejected what every store must accept: {actual}"
            )));
        }
        (Ok(()), Ok(_)) => {}
    }
    let check = |what: &str, e: &RecordedEvent| -> Result<(), TestCaseError> {
        prop_assert!(
            same_json(&e.payload, &payload),
            "{what}: payload {} read back as {}",
            payload,
            e.payload
        );
        prop_assert!(
            same_metadata(&e.meta.metadata, &metadata),
            "{what}: metadata {:?} read back as {:?}",
            metadata,
            e.meta.metadata
        );
        Ok(())
    };
    let events = store
        .read_stream(&s, Version(1))
        .try_collect::<Vec<_>>()
        .await
        .map_err(|e| TestCaseError::fail(format!("read_stream: {e}")))?;
    prop_assert_eq!(events.len(), 1);
    check("read_stream", &events[0])?;
    let all: Vec<RecordedEvent> = store
        .read_all(ReadAll::new().after(before))
        .try_collect::<Vec<_>>()
        .await
        .map_err(|e| TestCaseError::fail(format!("read_all: {e}")))?;
    let mine: Vec<_> = all.iter().filter(|e| e.meta.stream_id == s).collect();
    prop_assert_eq!(
        mine.len(),
        1,
        "read_all after the head must return the event once"
    );
    check("read_all", mine[0])?;
    let replayed = store
        .replay_stream(&s, Version(1))
        .try_collect::<Vec<_>>()
        .await
        .map_err(|e| TestCaseError::fail(format!("replay_stream: {e}")))?;
    prop_assert_eq!(replayed.len(), 1);
    let value = replayed[0]
        .payload
        .to_value()
        .map_err(|e| TestCaseError::fail(format!("replay_stream payload: {e}")))?;
    prop_assert!(same_json(&value, &payload), "replay_stream: {}", value);
    let loaded: Collected = Repository::<Collected, _>::new(store.clone())
        .load(&id)
        .await
        .map_err(|e| TestCaseError::fail(format!("load: {e}")))?;
    prop_assert_eq!(loaded.payloads.len(), 1);
    prop_assert!(
        same_json(&loaded.payloads[0], &payload),
        "load: {}",
        loaded.payloads[0]
    );
    Ok(())
}

fn input_error(result: Result<crate::AppendResult, StoreError>) -> InputError {
    match result {
        Err(StoreError::InvalidInput(e)) => e,
        other => panic!("expected an input error, got {other:?}"),
    }
}

fn nested(depth: usize) -> Value {
    (0..depth).fold(json!("leaf"), |v, _| json!([v]))
}

/// Edge inputs get the same answer on every store: NUL characters, depth at and past the limit,
/// reserved metadata keys, out-of-range numbers, oversized and empty names; nothing of a rejected
/// batch is written, and no error message quotes more than a short prefix of a value.
pub async fn edge_inputs_get_the_same_answer<S: ConformanceStore>(store: S) {
    let s = stream("edge");
    let raw = |payload: Value| NewEvent::raw("testkit.edge", 1, payload);
    let append = |events: Vec<NewEvent>| store.append(&s, ExpectedVersion::Any, events);

    // NUL in a payload string, a payload key, metadata: rejected the same way everywhere.
    for (payload, meta) in [
        (json!({ "text": "a\u{0}b" }), Metadata::new()),
        (json!({ "a\u{0}": 1 }), Metadata::new()),
        (json!({}), Metadata::new().with("reason", "x\u{0}")),
        (json!({}), Metadata::new().with_actor("al\u{0}ice")),
    ] {
        let field = if meta == Metadata::new() {
            JsonField::Payload
        } else {
            JsonField::Metadata
        };
        let good = raw(json!({ "ok": true }));
        let error = input_error(append(vec![good, raw(payload).with_metadata(meta)]).await);
        assert_eq!(
            error,
            InputError::NulInJson {
                index: Some(1),
                field
            }
        );
    }
    assert!(StreamId::new("a\u{0}b").is_err());

    // Depth: the limit round-trips, one more level is rejected.
    let ok = append(vec![raw(nested(MAX_JSON_DEPTH))]).await.unwrap();
    let read = read_stream(&store, &s, ok.events[0].version.0).await;
    assert_eq!(read[0].payload, nested(MAX_JSON_DEPTH));
    assert_eq!(
        input_error(append(vec![raw(nested(MAX_JSON_DEPTH + 1))]).await),
        InputError::JsonTooDeep {
            index: Some(0),
            field: JsonField::Payload,
            max: MAX_JSON_DEPTH
        }
    );
    let deep_meta = Metadata::new().with("deep", nested(MAX_JSON_DEPTH));
    assert!(matches!(
        input_error(append(vec![raw(json!({})).with_metadata(deep_meta)]).await),
        InputError::JsonTooDeep {
            field: JsonField::Metadata,
            ..
        }
    ));

    // Reserved keys among the free keys: the audit trail cannot be overwritten or poisoned.
    for meta in [
        Metadata::new().with("actor", 5),
        Metadata::new().with("correlation_id", "req-42"),
        Metadata::new().with_actor("alice").with("actor", "mallory"),
        Metadata::new().with("causation_id", Value::Null),
    ] {
        assert!(matches!(
            input_error(append(vec![raw(json!({})).with_metadata(meta)]).await),
            InputError::ReservedMetadataKey { index: 0, .. }
        ));
    }

    // Numbers out of range.
    assert!(matches!(
        input_error(
            store
                .append(
                    &s,
                    ExpectedVersion::Exact(Version(u64::MAX)),
                    vec![raw(json!({}))]
                )
                .await
        ),
        InputError::NumberOutOfRange { .. }
    ));
    for schema_version in [0, u32::MAX] {
        assert!(matches!(
            input_error(
                append(vec![NewEvent::raw(
                    "testkit.edge",
                    schema_version,
                    json!({})
                )])
                .await
            ),
            InputError::SchemaVersionOutOfRange { index: Some(0), .. }
        ));
    }
    let max = NewEvent::raw("testkit.edge", limits::MAX_SCHEMA_VERSION, json!({}));
    append(vec![max]).await.unwrap();

    // Event types: empty, oversized, control characters; the longest accepted one round-trips.
    let huge = "t".repeat(1 << 20);
    for event_type in ["", huge.as_str(), "bad\u{0}type", "new\nline"] {
        let error = input_error(append(vec![NewEvent::raw(event_type, 1, json!({}))]).await);
        assert!(matches!(
            error,
            InputError::InvalidEventType { index: 0, .. }
        ));
        assert!(error.to_string().len() < 300, "{error}");
    }
    let longest = "t".repeat(MAX_EVENT_TYPE_LEN);
    append(vec![NewEvent::raw(longest.as_str(), 1, json!({}))])
        .await
        .unwrap();
    let typed = read_all(&store, ReadAll::new().event_types([longest.as_str()])).await;
    assert_eq!(typed.len(), 1);

    // Stream ids: empty and oversized never reach a store; the message stays short.
    let error = StreamId::new("s".repeat(1 << 20)).unwrap_err();
    assert!(error.to_string().len() < 300, "{error}");
    assert!(StreamId::new("").is_err());
    let longest_stream = StreamId::new("s".repeat(limits::MAX_STREAM_ID_LEN)).unwrap();
    store
        .append(
            &longest_stream,
            ExpectedVersion::NoStream,
            vec![raw(json!({}))],
        )
        .await
        .unwrap();
    assert_eq!(read_stream(&store, &longest_stream, 1).await.len(), 1);

    // Nothing of the rejected batches was written: the stream holds the accepted events only.
    let stored = read_stream(&store, &s, 1).await;
    assert_eq!(stored.len(), 3, "rejected batches must write nothing");

    // Reads with extreme bounds: the whole log, or nothing, never an error.
    let everything = read_all(&store, ReadAll::new()).await.len();
    let between =
        ReadAll::new().recorded_between(DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
    assert_eq!(read_all(&store, between).await.len(), everything);
    let none = ReadAll::new().recorded_between(DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MIN_UTC);
    assert!(read_all(&store, none).await.is_empty());
    let past_the_end = ReadAll::new().after(Checkpoint::new(u64::MAX, Position(u64::MAX)));
    assert!(read_all(&store, past_the_end).await.is_empty());
    assert!(read_stream(&store, &s, u64::MAX).await.is_empty());
    let bad_type = store
        .read_all(ReadAll::new().event_types(["bad\u{0}type"]))
        .try_collect::<Vec<_>>()
        .await;
    assert!(matches!(
        bad_type,
        Err(StoreError::InvalidInput(
            InputError::InvalidEventType { .. }
        ))
    ));
}

/// Snapshots and checkpoints have the same limits on every store.
pub async fn snapshot_and_checkpoint_limits<S: ConformanceStore>(store: S) {
    let s = stream("limits");
    let snap = |version: u64, schema_version: u32, state: Value| Snapshot {
        stream_id: s.clone(),
        version: Version(version),
        schema_version,
        state,
    };
    for bad in [
        snap(0, 1, json!({})),
        snap(u64::MAX, 1, json!({})),
        snap(1, u32::MAX, json!({})),
        snap(1, 1, json!({ "a": "\u{0}" })),
        snap(1, 1, nested(MAX_JSON_DEPTH + 1)),
    ] {
        let result = crate::SnapshotStore::save_snapshot(&store, &bad).await;
        assert!(
            matches!(result, Err(StoreError::InvalidInput(_))),
            "{bad:?}: {result:?}"
        );
    }
    assert!(
        crate::SnapshotStore::load_snapshot(&store, &s)
            .await
            .unwrap()
            .is_none()
    );
    let deepest = snap(1, 0, nested(MAX_JSON_DEPTH));
    crate::SnapshotStore::save_snapshot(&store, &deepest)
        .await
        .unwrap();
    assert_eq!(
        crate::SnapshotStore::load_snapshot(&store, &s)
            .await
            .unwrap(),
        Some(deepest)
    );

    let huge = "n".repeat(1 << 20);
    for name in ["", "a\u{0}b", huge.as_str()] {
        for result in [
            store.save_checkpoint(name, Checkpoint::START).await,
            store.delete_checkpoint(name).await,
            store.load_checkpoint(name).await.map(|_| ()),
        ] {
            match result {
                Err(StoreError::InvalidInput(e @ InputError::InvalidName { .. })) => {
                    assert!(e.to_string().len() < 300, "{e}")
                }
                other => panic!("checkpoint name {name:?}: expected InvalidName, got {other:?}"),
            }
        }
    }
    for checkpoint in [
        Checkpoint::new(u64::MAX, Position(1)),
        Checkpoint::new(1, Position(u64::MAX)),
    ] {
        assert!(matches!(
            store.save_checkpoint("p", checkpoint).await,
            Err(StoreError::InvalidInput(
                InputError::NumberOutOfRange { .. }
            ))
        ));
    }
    let largest = Checkpoint::new(limits::MAX_VERSION, Position(limits::MAX_VERSION));
    store.save_checkpoint("p", largest).await.unwrap();
    assert_eq!(store.load_checkpoint("p").await.unwrap(), Some(largest));
}
