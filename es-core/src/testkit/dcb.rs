//! Conformance cases of dynamic consistency boundaries: tags, reads by query, conditional and
//! multi-stream appends, and the condition under parallel writers (the dcb.events checks).

use super::{ConformanceStore, noted, read_all, read_stream, stream, texts};
use crate::dcb::{AppendCondition, Query, QueryItem, StreamAppend};
use crate::{
    AppendResult, Checkpoint, ExpectedVersion, InputError, NewEvent, ReadAll, RecordedEvent,
    StoreError, StreamId, Version,
};
use std::collections::HashSet;

fn tagged(text: &str, event_type: &str, tags: &[&str]) -> NewEvent {
    NewEvent::raw(event_type, 1, serde_json::json!({ "text": text }))
        .with_tags(tags.iter().copied())
}

fn one(stream: &StreamId, expected: ExpectedVersion, events: Vec<NewEvent>) -> Vec<StreamAppend> {
    vec![StreamAppend::new(stream.clone(), expected, events)]
}

async fn matching<S: ConformanceStore>(store: &S, query: Query) -> Vec<RecordedEvent> {
    read_all(store, ReadAll::new().matching(query)).await
}

/// Tags are stored with events and read back by every reader, in the order given; appends of
/// events with invalid tags are rejected with the same typed error and write nothing.
pub async fn tags_round_trip<S: ConformanceStore>(store: S) {
    let s = stream("tags");
    let event = tagged("t", "dcb.tagged", &["course:c1", "student:s7", "ünïcode:✓"]);
    store
        .append(
            &s,
            ExpectedVersion::NoStream,
            vec![event, noted("untagged")],
        )
        .await
        .unwrap();
    let events = read_stream(&store, &s, 1).await;
    assert_eq!(
        events[0].meta.tags,
        ["course:c1", "student:s7", "ünïcode:✓"]
    );
    assert!(events[1].meta.tags.is_empty());
    let all = read_all(&store, ReadAll::new()).await;
    assert_eq!(all[0].meta.tags, events[0].meta.tags);

    let bad: [(Vec<String>, &str); 4] = [
        (vec![String::new()], "an empty tag"),
        (vec!["a\u{0}b".into()], "a tag with NUL"),
        (
            vec!["x".repeat(crate::limits::MAX_TAG_LEN + 1)],
            "a tag too long",
        ),
        (vec!["same".into(), "same".into()], "a tag twice"),
    ];
    for (tags, what) in bad {
        let event = NewEvent::raw("dcb.tagged", 1, serde_json::json!({})).with_tags(tags);
        for result in [
            store
                .append(&s, ExpectedVersion::Any, vec![event.clone()])
                .await
                .map(|_| ()),
            store
                .append_streams(one(&s, ExpectedVersion::Any, vec![event]), None)
                .await
                .map(|_| ()),
        ] {
            match result {
                Err(StoreError::InvalidInput(InputError::InvalidTag {
                    index: Some(0), ..
                })) => {}
                other => panic!("{what}: expected InvalidTag, got {other:?}"),
            }
        }
    }
    let many: Vec<String> = (0..=crate::limits::MAX_TAGS)
        .map(|i| format!("t:{i}"))
        .collect();
    let event = NewEvent::raw("dcb.tagged", 1, serde_json::json!({})).with_tags(many);
    assert!(matches!(
        store.append(&s, ExpectedVersion::Any, vec![event]).await,
        Err(StoreError::InvalidInput(InputError::TooMany { .. }))
    ));
    assert_eq!(
        read_stream(&store, &s, 1).await.len(),
        2,
        "rejected appends wrote nothing"
    );
}

/// A query is items OR'd; an item matches an event of one of its types (any if none) that has
/// all of its tags. Reads by query come in log order, with filters and paging like any read.
pub async fn read_by_query<S: ConformanceStore>(store: S) {
    let s = stream("query");
    store
        .append(
            &s,
            ExpectedVersion::NoStream,
            vec![
                tagged("1", "course.defined", &["course:c1"]),
                tagged("2", "course.defined", &["course:c2"]),
                tagged("3", "student.subscribed", &["course:c1", "student:s1"]),
                tagged("4", "student.subscribed", &["course:c2", "student:s1"]),
                tagged("5", "student.subscribed", &["course:c1", "student:s2"]),
                tagged("6", "other", &[]),
            ],
        )
        .await
        .unwrap();
    let cases: [(Query, &[&str]); 9] = [
        (Query::all(), &["1", "2", "3", "4", "5", "6"]),
        (Query::default(), &[]),
        (
            Query::item(QueryItem::new().tags(["course:c1"])),
            &["1", "3", "5"],
        ),
        (
            Query::item(QueryItem::new().types(["course.defined"])),
            &["1", "2"],
        ),
        (
            Query::item(
                QueryItem::new()
                    .types(["student.subscribed"])
                    .tags(["student:s1"]),
            ),
            &["3", "4"],
        ),
        (
            Query::item(QueryItem::new().tags(["course:c1", "student:s2"])),
            &["5"],
        ),
        (
            Query::item(
                QueryItem::new()
                    .types(["course.defined"])
                    .tags(["course:c1"]),
            )
            .or(QueryItem::new()
                .types(["student.subscribed"])
                .tags(["student:s2"])),
            &["1", "5"],
        ),
        (
            Query::item(QueryItem::new().types(["nothing"]).tags(["course:c1"])),
            &[],
        ),
        (Query::item(QueryItem::new().tags(["course:c3"])), &[]),
    ];
    for (query, expected) in cases {
        let events = matching(&store, query.clone()).await;
        assert_eq!(texts(&events), expected, "query {query:?}");
        let checkpoints: Vec<Checkpoint> = events.iter().map(|e| e.meta.checkpoint()).collect();
        assert!(
            checkpoints.windows(2).all(|w| w[0] < w[1]),
            "positions only increase"
        );
    }
    // Paging and the other filters combine with the query.
    let query = Query::item(QueryItem::new().tags(["course:c1"]));
    let first = read_all(&store, ReadAll::new().matching(query.clone()).limit(1)).await;
    assert_eq!(texts(&first), ["1"]);
    let rest = read_all(
        &store,
        ReadAll::new()
            .matching(query.clone())
            .after(first[0].meta.checkpoint()),
    )
    .await;
    assert_eq!(texts(&rest), ["3", "5"]);
    let typed = read_all(
        &store,
        ReadAll::new()
            .matching(query)
            .event_types(["student.subscribed"]),
    )
    .await;
    assert_eq!(texts(&typed), ["3", "5"]);
    // A query with an invalid tag is an input error, like an invalid event type.
    let bad = Query::item(QueryItem::new().tags(["a\u{0}"]));
    let result: Result<Vec<RecordedEvent>, StoreError> =
        futures::TryStreamExt::try_collect(store.read_all(ReadAll::new().matching(bad))).await;
    assert!(matches!(
        result,
        Err(StoreError::InvalidInput(InputError::InvalidTag { .. }))
    ));
}

/// An append condition fails, writing nothing, when an event after `after` matches its query;
/// it passes when none does (events that do not match, or match at or before `after`).
pub async fn conditional_append<S: ConformanceStore>(store: S) {
    let course = stream("course-c1");
    let other = stream("course-c2");
    let query = Query::item(
        QueryItem::new()
            .types(["student.subscribed"])
            .tags(["course:c1"]),
    );
    let enrol = |student: &str| {
        tagged(
            student,
            "student.subscribed",
            &["course:c1", &format!("student:{student}")],
        )
    };
    // Nothing read, nothing matches: passes.
    let first = store
        .append_streams(
            one(&course, ExpectedVersion::Any, vec![enrol("s1")]),
            Some(AppendCondition::new(query.clone(), None)),
        )
        .await
        .unwrap();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].events[0].version, Version(1));
    let seen = matching(&store, query.clone()).await;
    let after = seen.last().map(|e| e.meta.checkpoint());

    // An unrelated event meanwhile does not fail the condition.
    store
        .append(
            &other,
            ExpectedVersion::Any,
            vec![tagged("x", "student.subscribed", &["course:c2"])],
        )
        .await
        .unwrap();
    store
        .append_streams(
            one(&course, ExpectedVersion::Any, vec![enrol("s2")]),
            Some(AppendCondition::new(query.clone(), after)),
        )
        .await
        .unwrap();

    // The same (now stale) read again: s2 matches after `after`: fails, names s2, writes nothing.
    let head = read_all(&store, ReadAll::new()).await.len();
    match store
        .append_streams(
            vec![
                StreamAppend::new(course.clone(), ExpectedVersion::Any, vec![enrol("s3")]),
                StreamAppend::new(
                    stream("student-s3"),
                    ExpectedVersion::NoStream,
                    vec![noted("s3")],
                ),
            ],
            Some(AppendCondition::new(query.clone(), after)),
        )
        .await
    {
        Err(StoreError::ConditionFailed {
            stream: failed,
            version,
            event_type,
            checkpoint,
        }) => {
            assert_eq!(failed, course);
            assert_eq!(version, Version(2));
            assert_eq!(event_type, "student.subscribed");
            assert!(Some(checkpoint) > after);
        }
        other => panic!("expected ConditionFailed, got {other:?}"),
    }
    assert_eq!(
        read_all(&store, ReadAll::new()).await.len(),
        head,
        "nothing written"
    );
    assert!(
        read_stream(&store, &stream("student-s3"), 1)
            .await
            .is_empty()
    );

    // No read at all (`after: None`) fails on any matching event; `Query::default()` never fails.
    assert!(matches!(
        store
            .append_streams(
                one(&course, ExpectedVersion::Any, vec![enrol("s4")]),
                Some(AppendCondition::new(query.clone(), None)),
            )
            .await,
        Err(StoreError::ConditionFailed { .. })
    ));
    store
        .append_streams(
            one(&course, ExpectedVersion::Any, vec![enrol("s4")]),
            Some(AppendCondition::new(Query::default(), None)),
        )
        .await
        .unwrap();
    // A condition on types alone (an item without tags) is enforced too.
    let by_type = Query::item(QueryItem::new().types(["student.subscribed"]));
    let last = read_all(&store, ReadAll::new())
        .await
        .last()
        .map(|e| e.meta.checkpoint());
    store
        .append_streams(
            one(&other, ExpectedVersion::Any, vec![noted("n")]),
            Some(AppendCondition::new(by_type.clone(), last)),
        )
        .await
        .unwrap();
    store
        .append(
            &other,
            ExpectedVersion::Any,
            vec![tagged("y", "student.subscribed", &[])],
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .append_streams(
                one(&other, ExpectedVersion::Any, vec![noted("m")]),
                Some(AppendCondition::new(by_type, last)),
            )
            .await,
        Err(StoreError::ConditionFailed { .. })
    ));
}

/// A multi-stream append is atomic: every batch is guarded by its expected version, a conflict on
/// one writes none; a repeat is reported as such; a stream may appear once.
pub async fn multi_stream_append<S: ConformanceStore>(store: S) {
    let (a, b) = (stream("transfer-a"), stream("transfer-b"));
    store
        .append(&a, ExpectedVersion::NoStream, vec![noted("a1")])
        .await
        .unwrap();
    let transfer = vec![
        StreamAppend::new(
            a.clone(),
            ExpectedVersion::Exact(Version(1)),
            vec![noted("a2")],
        ),
        StreamAppend::new(
            b.clone(),
            ExpectedVersion::NoStream,
            vec![noted("b1"), noted("b2")],
        ),
    ];
    let results = store.append_streams(transfer.clone(), None).await.unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0].events[0].version, Version(2));
    assert_eq!(
        results[1]
            .events
            .iter()
            .map(|e| e.version)
            .collect::<Vec<_>>(),
        [Version(1), Version(2)]
    );
    assert!(results.iter().all(|r| !r.already_appended));
    // The same append again: the stored results, nothing new.
    let again = store.append_streams(transfer, None).await.unwrap();
    assert!(again.iter().all(|r| r.already_appended));
    assert_eq!(
        again.iter().map(|r| r.events.clone()).collect::<Vec<_>>(),
        results.iter().map(|r| r.events.clone()).collect::<Vec<_>>()
    );
    assert_eq!(texts(&read_stream(&store, &a, 1).await), ["a1", "a2"]);

    // One stale expected version: a conflict naming that stream, nothing of either batch written.
    match store
        .append_streams(
            vec![
                StreamAppend::new(
                    a.clone(),
                    ExpectedVersion::Exact(Version(2)),
                    vec![noted("a3")],
                ),
                StreamAppend::new(
                    b.clone(),
                    ExpectedVersion::Exact(Version(1)),
                    vec![noted("b3")],
                ),
            ],
            None,
        )
        .await
    {
        Err(StoreError::Conflict {
            stream: s, actual, ..
        }) => {
            assert_eq!(s, b);
            assert_eq!(actual, Version(2));
        }
        other => panic!("expected a conflict on {b}, got {other:?}"),
    }
    assert_eq!(
        read_stream(&store, &a, 1).await.len(),
        2,
        "nothing written to {a}"
    );
    assert_eq!(read_stream(&store, &b, 1).await.len(), 2);

    // Input errors, before anything is written.
    assert!(matches!(
        store
            .append_streams(
                vec![
                    StreamAppend::new(a.clone(), ExpectedVersion::Any, vec![noted("x")]),
                    StreamAppend::new(a.clone(), ExpectedVersion::Any, vec![noted("y")]),
                ],
                None,
            )
            .await,
        Err(StoreError::InvalidInput(InputError::StreamTwice { .. }))
    ));
    let twice = noted("dup");
    assert!(matches!(
        store
            .append_streams(
                vec![
                    StreamAppend::new(a.clone(), ExpectedVersion::Any, vec![twice.clone()]),
                    StreamAppend::new(b.clone(), ExpectedVersion::Any, vec![twice]),
                ],
                None,
            )
            .await,
        Err(StoreError::InvalidInput(
            InputError::DuplicateEventId { .. }
        ))
    ));
    assert!(
        store
            .append_streams(Vec::new(), None)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(read_all(&store, ReadAll::new()).await.len(), 4);
}

/// The dcb.events checks with parallel writers: 32 writers racing to enrol in a course of
/// capacity 10 store exactly 10 enrolments; 32 racing for one user name store exactly one; read
/// positions only increase; a `read_all` tailer sees every appended event exactly once, in order.
pub async fn condition_holds_under_parallel_writers<S: ConformanceStore>(store: S) {
    const WRITERS: usize = 32;
    const CAPACITY: usize = 10;
    let course_query = Query::item(
        QueryItem::new()
            .types(["student.subscribed"])
            .tags(["course:race"]),
    );
    let name_query = Query::item(
        QueryItem::new()
            .types(["user.registered"])
            .tags(["username:ada"]),
    );
    let tailer = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut after = Checkpoint::START;
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(120);
            while seen.len() < CAPACITY + 1 && tokio::time::Instant::now() < deadline {
                let page = read_all(&store, ReadAll::new().after(after).limit(100)).await;
                match page.last() {
                    Some(last) => after = last.meta.checkpoint(),
                    None => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
                }
                seen.extend(
                    page.into_iter()
                        .map(|e| (e.meta.checkpoint(), e.meta.event_id)),
                );
            }
            seen
        })
    };
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        let (course_query, name_query) = (course_query.clone(), name_query.clone());
        tasks.push(tokio::spawn(async move {
            let enrolled = decide(&store, &course_query, &format!("student-{w}"), |seen| {
                (seen < CAPACITY).then(|| {
                    tagged(
                        &format!("{w}"),
                        "student.subscribed",
                        &["course:race", &format!("student:{w}")],
                    )
                })
            })
            .await;
            let named = decide(&store, &name_query, &format!("user-{w}"), |seen| {
                (seen == 0).then(|| tagged(&format!("{w}"), "user.registered", &["username:ada"]))
            })
            .await;
            (enrolled, named)
        }));
    }
    let mut enrolled = 0;
    let mut named = 0;
    for task in tasks {
        let (e, n) = task.await.unwrap();
        enrolled += usize::from(e);
        named += usize::from(n);
    }
    assert_eq!(enrolled, CAPACITY, "writers that were told they enrolled");
    assert_eq!(named, 1, "writers that were told they got the name");
    assert_eq!(
        matching(&store, course_query).await.len(),
        CAPACITY,
        "stored enrolments"
    );
    assert_eq!(
        matching(&store, name_query).await.len(),
        1,
        "stored registrations"
    );

    let seen = tailer.await.unwrap();
    let all = read_all(&store, ReadAll::new()).await;
    assert_eq!(all.len(), CAPACITY + 1);
    assert!(
        seen.windows(2).all(|w| w[0].0 < w[1].0),
        "the tailer saw increasing positions"
    );
    let ids: HashSet<_> = seen.iter().map(|(_, id)| *id).collect();
    assert_eq!(ids.len(), seen.len(), "the tailer saw no event twice");
    assert_eq!(
        ids,
        all.iter().map(|e| e.meta.event_id).collect::<HashSet<_>>(),
        "the tailer saw every event"
    );
}

/// Reads what matches `query`, decides with `decide(count)`, appends with the condition after the
/// read, and decides again when it fails. True if it appended.
async fn decide<S: ConformanceStore>(
    store: &S,
    query: &Query,
    stream_name: &str,
    decide: impl Fn(usize) -> Option<NewEvent>,
) -> bool {
    for _ in 0..1000 {
        let seen = matching(store, query.clone()).await;
        let Some(event) = decide(seen.len()) else {
            return false;
        };
        let after = seen.last().map(|e| e.meta.checkpoint());
        let append = one(&stream(stream_name), ExpectedVersion::Any, vec![event]);
        match store
            .append_streams(append, Some(AppendCondition::new(query.clone(), after)))
            .await
        {
            Ok(_) => return true,
            Err(StoreError::ConditionFailed { .. }) => tokio::task::yield_now().await,
            Err(other) => panic!("conditional append failed: {other}"),
        }
    }
    panic!("a writer kept failing its condition 1000 times")
}

/// Unrelated conditional appends in parallel (each writer its own tag) almost never fail: at most
/// 1% (the dcb.events check; every bundled store fails none).
pub async fn unrelated_appends_rarely_conflict<S: ConformanceStore>(store: S) {
    const WRITERS: usize = 8;
    const EACH: usize = 25;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let query = Query::item(QueryItem::new().tags([format!("writer:{w}")]));
            let (mut failures, mut stored) = (0, 0);
            for n in 0..EACH {
                let seen = matching(&store, query.clone()).await;
                assert_eq!(seen.len(), stored, "a writer reads what it stored");
                let after = seen.last().map(|e| e.meta.checkpoint());
                let event = tagged(
                    &format!("{w}-{n}"),
                    "dcb.unrelated",
                    &[&format!("writer:{w}")],
                );
                let result: Result<Vec<AppendResult>, StoreError> = store
                    .append_streams(
                        one(
                            &stream(&format!("unrelated-{w}")),
                            ExpectedVersion::Any,
                            vec![event],
                        ),
                        Some(AppendCondition::new(query.clone(), after)),
                    )
                    .await;
                match result {
                    Ok(_) => stored += 1,
                    Err(StoreError::ConditionFailed { .. }) => failures += 1,
                    Err(other) => panic!("append failed: {other}"),
                }
            }
            failures
        }));
    }
    let mut failures = 0;
    for task in tasks {
        failures += task.await.unwrap();
    }
    let attempts = WRITERS * EACH;
    assert!(
        failures * 100 <= attempts,
        "{failures} of {attempts} unrelated conditional appends failed (more than 1%)"
    );
}

/// `list_streams` pages through the streams of an id prefix in byte order with their versions;
/// `ReadAll::correlated_with` reads the events of one correlation id.
pub async fn streams_and_correlations_are_found<S: ConformanceStore>(store: S) {
    for (id, n) in [
        ("account-b", 2),
        ("account-a", 1),
        ("accounts-x", 1),
        ("order-1", 3),
        ("account-c", 1),
    ] {
        let stream = StreamId::new(id).unwrap();
        let events = (0..n).map(|i| noted(&format!("{id}-{i}"))).collect();
        store
            .append(&stream, ExpectedVersion::NoStream, events)
            .await
            .unwrap();
    }
    let page = store.list_streams("account-", None, 2).await.unwrap();
    let ids = |page: &[(StreamId, Version)]| {
        page.iter()
            .map(|(s, v)| (s.to_string(), v.0))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&page),
        [("account-a".to_owned(), 1), ("account-b".to_owned(), 2)]
    );
    let next = store
        .list_streams("account-", Some(&page[1].0), 2)
        .await
        .unwrap();
    assert_eq!(ids(&next), [("account-c".to_owned(), 1)]);
    assert!(
        store
            .list_streams("account-", Some(&next[0].0), 2)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.list_streams("", None, 100).await.unwrap().len(), 5);
    assert!(
        store
            .list_streams("nothing-", None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    let request = uuid::Uuid::now_v7();
    let tagged =
        |text: &str| noted(text).with_metadata(crate::Metadata::new().with_correlation_id(request));
    store
        .append(
            &stream("corr-1"),
            ExpectedVersion::Any,
            vec![tagged("c1"), noted("other")],
        )
        .await
        .unwrap();
    store
        .append(&stream("corr-2"), ExpectedVersion::Any, vec![tagged("c2")])
        .await
        .unwrap();
    let correlated = read_all(&store, ReadAll::new().correlated_with(request)).await;
    assert_eq!(texts(&correlated), ["c1", "c2"]);
    assert!(
        read_all(&store, ReadAll::new().correlated_with(uuid::Uuid::now_v7()))
            .await
            .is_empty()
    );
    let combined = read_all(
        &store,
        ReadAll::new()
            .correlated_with(request)
            .matching(Query::all())
            .limit(1),
    )
    .await;
    assert_eq!(texts(&combined), ["c1"]);
}
