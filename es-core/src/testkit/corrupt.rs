//! Conformance check for rows written around the store (by SQL or a foreign tool) that do not
//! decode: every reader names them, replays do not depend on metadata, and a parking projection
//! parks them and goes on.
//!
//! The in-memory store cannot hold such a row, so adapters call this check themselves with a
//! function that writes one through their database:
//!
//! ```no_run
//! # async fn example(store: es_core::MemoryStore) {
//! es_core::testkit::undecodable_rows_are_named_and_parked(store, |store, stream, version| async move {
//!     // INSERT a row of `stream` at `version`, type `testkit.noted`, payload {"text":"bad"},
//!     // whose metadata is {"actor": 5}
//! }).await;
//! # }
//! ```

use super::{ConformanceStore, Noted, noted, stream};
use crate::projection::{Projection, ProjectionRunner, ProjectionStore};
use crate::{
    ErrorPolicy, Event, EventHandler, ExpectedVersion, HandlerError, ReadAll, RecordedEvent,
    StoreError, StreamId, Version,
};
use futures::StreamExt;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Collects the texts of the `Noted` events it handles.
struct Collect(Arc<Mutex<Vec<String>>>);

#[async_trait::async_trait]
impl<T: Send> EventHandler<T> for Collect {
    fn event_types(&self) -> Vec<&'static str> {
        vec![Noted::NAME]
    }

    async fn handle(&mut self, event: &RecordedEvent, _: &mut T) -> Result<(), HandlerError> {
        let noted = event.decode::<Noted>().map_err(HandlerError::failed)?;
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(noted.event.text);
        Ok(())
    }
}

impl<T: Send> Projection<T> for Collect {
    fn name(&self) -> &str {
        "testkit-corrupt"
    }
}

/// A row that does not decode (`write_bad_row` stores one in `stream` at `version`, of type
/// [`Noted::NAME`], with the payload `{"text":"bad"}` and metadata that does not decode, such as
/// `{"actor": 5}`) is named by every reader with its stream, version, position and type; replays
/// (and so `Repository::load`) skip metadata and read it; a reader can continue after its
/// checkpoint; and a projection with [`ErrorPolicy::park`] parks it and handles the events after it.
pub async fn undecodable_rows_are_named_and_parked<S, F, Fut>(store: S, write_bad_row: F)
where
    S: ConformanceStore + ProjectionStore,
    F: FnOnce(S, StreamId, Version) -> Fut,
    Fut: Future<Output = ()>,
{
    let s = stream("corrupt");
    store
        .append(
            &s,
            ExpectedVersion::NoStream,
            vec![noted("one"), noted("two")],
        )
        .await
        .unwrap();
    write_bad_row(store.clone(), s.clone(), Version(3)).await;
    store
        .append(&s, ExpectedVersion::Exact(Version(3)), vec![noted("four")])
        .await
        .unwrap();

    let check = |what: &str, items: &[Result<RecordedEvent, StoreError>]| {
        assert_eq!(
            items.len(),
            4,
            "{what}: every row is read, the bad one as an error"
        );
        let before = items[1].as_ref().unwrap().meta.position;
        match &items[2] {
            Err(StoreError::Corrupt(row)) => {
                assert_eq!(
                    (row.stream.as_str(), row.version),
                    (s.as_str(), 3),
                    "{what}"
                );
                assert_eq!(row.event_type, Noted::NAME, "{what}");
                assert!(row.position > before.0, "{what}: position {}", row.position);
                let message = row.to_string();
                for part in [
                    s.as_str(),
                    Noted::NAME,
                    "version 3",
                    &format!("position {}", row.position),
                ] {
                    assert!(
                        message.contains(part),
                        "{what}: `{message}` should name `{part}`"
                    );
                }
            }
            other => panic!("{what}: expected a corrupt row, got {other:?}"),
        }
        assert!(items[3].is_ok(), "{what}: the event after it still reads");
    };
    let by_stream: Vec<_> = store.read_stream(&s, Version(1)).collect().await;
    check("read_stream", &by_stream);
    let all: Vec<_> = store.read_all(ReadAll::new()).collect().await;
    check("read_all", &all);
    let Err(StoreError::Corrupt(row)) = &all[2] else {
        unreachable!()
    };
    let after: Vec<_> = store
        .read_all(ReadAll::new().after(row.checkpoint()))
        .collect()
        .await;
    assert_eq!(after.len(), 1, "reading after the bad row's checkpoint");
    assert_eq!(after[0].as_ref().unwrap().payload["text"], "four");

    let replayed: Vec<_> = store.replay_stream(&s, Version(1)).collect().await;
    assert_eq!(replayed.len(), 4);
    assert!(
        replayed.iter().all(Result::is_ok),
        "a replay does not read metadata: {replayed:?}"
    );

    let seen = Arc::new(Mutex::new(Vec::new()));
    let policy = ErrorPolicy::default()
        .retries(1)
        .backoff(Duration::from_millis(1), Duration::from_millis(5))
        .park();
    let last = after[0].as_ref().unwrap().meta.checkpoint();
    let handle = ProjectionRunner::new(store.clone(), store.clone(), Collect(seen.clone()))
        .error_policy(policy)
        .spawn();
    let status = tokio::time::timeout(
        Duration::from_secs(120),
        handle.wait_for(|s| s.checkpoint >= last),
    )
    .await
    .expect("the parking projection did not get past the bad row in 120 s");
    assert!(status.checkpoint >= last, "the runner stopped: {status:?}");
    handle.stop().await.unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        ["one", "two", "four"],
        "the events around the bad row are handled"
    );
    let mut runner = ProjectionRunner::new(store.clone(), store.clone(), Collect(seen.clone()));
    let parked = runner.parked().await.unwrap();
    assert_eq!(parked.len(), 1, "{parked:?}");
    assert_eq!((&parked[0].stream_id, parked[0].version), (&s, Version(3)));
    assert_eq!(parked[0].checkpoint, row.checkpoint());
    assert!(parked[0].error.contains("metadata"), "{}", parked[0].error);
    let report = runner.retry_parked().await.unwrap();
    assert_eq!(
        (report.succeeded, report.failed.len()),
        (0, 1),
        "a row that still does not decode stays parked"
    );
    assert_eq!(runner.parked().await.unwrap().len(), 1);
}
