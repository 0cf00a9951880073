//! Conformance checks for deleted streams (`es_core::tombstone`).

use super::ConformanceStore;
use crate::dcb::StreamAppend;
use crate::tombstone::STREAM_DELETED;
use crate::{
    ExpectedVersion, Metadata, NewEvent, ReadAll, RecordedEvent, StoreError, StreamId, Version,
};
use futures::TryStreamExt;
use serde_json::json;

fn noted(text: &str) -> NewEvent {
    NewEvent::raw("testkit.noted", 1, json!({ "text": text }))
}

fn is_deleted(error: &StoreError, stream: &StreamId, version: u64) -> bool {
    matches!(error, StoreError::StreamDeleted { stream: s, version: v } if s == stream && *v == Version(version))
}

/// A deleted stream takes no more events (single and multi-stream appends, any expected
/// version, a second deletion), nothing of a refused batch is written, its events and the
/// tombstone stay in the log with who and why, other streams are untouched, and a repeated
/// deletion (same event id) is recognised as such.
pub async fn deleted_streams_are_closed_and_stay_in_the_log<S: ConformanceStore>(store: S) {
    let stream = StreamId::new("tomb-1").unwrap();
    let other = StreamId::new("tomb-2").unwrap();
    store
        .append(
            &stream,
            ExpectedVersion::NoStream,
            vec![noted("a"), noted("b")],
        )
        .await
        .unwrap();
    store
        .append(&other, ExpectedVersion::NoStream, vec![noted("x")])
        .await
        .unwrap();

    // The expected version guards a deletion like an append.
    let stale = store
        .delete_stream(
            &stream,
            ExpectedVersion::Exact(Version(1)),
            Metadata::new(),
            "stale",
        )
        .await
        .unwrap_err();
    assert!(stale.is_conflict(), "a stale deletion conflicts: {stale}");

    let by = Metadata::new().with_actor("dpo@example.com");
    let deleted = store
        .delete_stream(&stream, ExpectedVersion::Exact(Version(2)), by, "closed")
        .await
        .unwrap();
    assert_eq!(deleted.events.len(), 1);
    assert_eq!(deleted.events[0].version, Version(3));
    assert_eq!(store.stream_version(&stream).await.unwrap(), Version(3));

    for expected in [
        ExpectedVersion::Any,
        ExpectedVersion::Exact(Version(3)),
        ExpectedVersion::NoStream,
    ] {
        let error = store
            .append(&stream, expected, vec![noted("late")])
            .await
            .unwrap_err();
        assert!(
            is_deleted(&error, &stream, 3),
            "an append to a deleted stream ({expected:?}) fails with StreamDeleted, got {error}"
        );
    }
    let twice = store
        .delete_stream(&stream, ExpectedVersion::Any, Metadata::new(), "again")
        .await
        .unwrap_err();
    assert!(is_deleted(&twice, &stream, 3), "got {twice}");
    let multi = store
        .append_streams(
            vec![
                StreamAppend::new(other.clone(), ExpectedVersion::Any, vec![noted("y")]),
                StreamAppend::new(stream.clone(), ExpectedVersion::Any, vec![noted("z")]),
            ],
            None,
        )
        .await;
    match multi {
        Err(error) => assert!(is_deleted(&error, &stream, 3), "got {error}"),
        Ok(_) => panic!("a multi-stream append into a deleted stream must fail"),
    }
    assert_eq!(
        store.stream_version(&other).await.unwrap(),
        Version(1),
        "nothing of a refused multi-stream append is written"
    );

    // Still in the log: both events and the tombstone, with who and why.
    let log: Vec<RecordedEvent> = store.read_all(ReadAll::new()).try_collect().await.unwrap();
    let of_stream: Vec<&RecordedEvent> =
        log.iter().filter(|e| e.meta.stream_id == stream).collect();
    assert_eq!(of_stream.len(), 3);
    let tomb = of_stream[2];
    assert_eq!(tomb.meta.event_type, STREAM_DELETED);
    assert_eq!(tomb.meta.metadata.actor.as_deref(), Some("dpo@example.com"));
    assert_eq!(tomb.payload, json!({ "reason": "closed" }));
    let read: Vec<RecordedEvent> = store
        .read_stream(&stream, Version(1))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(read.len(), 3, "read_stream still returns the stored events");

    // A repeated deletion (a retry with the same event id) is not a second one.
    let third = StreamId::new("tomb-3").unwrap();
    let tombstone = crate::tombstone::tombstone(Metadata::new(), "retried");
    store
        .append(&third, ExpectedVersion::Any, vec![tombstone.clone()])
        .await
        .unwrap();
    let repeat = store
        .append(&third, ExpectedVersion::Any, vec![tombstone])
        .await
        .unwrap();
    assert!(repeat.already_appended, "a retried deletion is recognised");

    // Other streams go on.
    store
        .append(&other, ExpectedVersion::Exact(Version(1)), vec![noted("y")])
        .await
        .unwrap();
}

/// Types starting with `$` are es's own: an append of another `$` type, or of a tombstone that is
/// not the last event of its batch, is rejected with the same typed error on every store, and
/// writes nothing.
pub async fn reserved_event_types_are_rejected<S: ConformanceStore>(store: S) {
    let stream = StreamId::new("reserved-1").unwrap();
    let forged = NewEvent::raw("$es.anything", 1, json!({}));
    let error = store
        .append(&stream, ExpectedVersion::Any, vec![forged])
        .await
        .unwrap_err();
    assert!(
        matches!(
            error.input_error(),
            Some(crate::InputError::InvalidEventType { index: 0, .. })
        ),
        "got {error}"
    );
    let early = crate::tombstone::tombstone(Metadata::new(), "early");
    let error = store
        .append(&stream, ExpectedVersion::Any, vec![early, noted("after")])
        .await
        .unwrap_err();
    assert!(
        matches!(
            error.input_error(),
            Some(crate::InputError::InvalidEventType { index: 0, .. })
        ),
        "got {error}"
    );
    assert_eq!(store.stream_version(&stream).await.unwrap(), Version(0));
}
