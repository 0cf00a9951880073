//! The in-memory store passes the shared conformance suite.

es_core::conformance_suite!(|| async { es_core::MemoryStore::new() });

/// The default `EventStore::find_events` (a scan of `read_all`), on a store that does not
/// override it.
mod default_find_events {
    use es_core::Checkpoint;
    use es_core::{
        AppendResult, CheckpointStore, EventStore, EventStream, ExpectedVersion, MemoryStore,
        NewEvent, Position, ReadAll, Snapshot, SnapshotStore, StoreError, StreamId, Version,
        async_trait,
    };

    /// Forwards everything but `find_events` to a memory store.
    #[derive(Clone)]
    struct Plain(MemoryStore);

    #[async_trait]
    impl EventStore for Plain {
        async fn append(
            &self,
            stream: &StreamId,
            expected: ExpectedVersion,
            events: Vec<NewEvent>,
        ) -> Result<AppendResult, StoreError> {
            self.0.append(stream, expected, events).await
        }
        fn read_stream<'a>(&'a self, stream: &'a StreamId, from: Version) -> EventStream<'a> {
            self.0.read_stream(stream, from)
        }
        fn read_all<'a>(&'a self, query: ReadAll) -> EventStream<'a> {
            self.0.read_all(query)
        }
        async fn stream_version(&self, stream: &StreamId) -> Result<Version, StoreError> {
            self.0.stream_version(stream).await
        }
        async fn head_position(&self) -> Result<Position, StoreError> {
            self.0.head_position().await
        }
    }

    #[async_trait]
    impl SnapshotStore for Plain {
        async fn load_snapshot(&self, stream: &StreamId) -> Result<Option<Snapshot>, StoreError> {
            self.0.load_snapshot(stream).await
        }
        async fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
            self.0.save_snapshot(snapshot).await
        }
    }

    #[async_trait]
    impl CheckpointStore for Plain {
        async fn load_checkpoint(&self, name: &str) -> Result<Option<Checkpoint>, StoreError> {
            self.0.load_checkpoint(name).await
        }
        async fn save_checkpoint(
            &self,
            name: &str,
            checkpoint: Checkpoint,
        ) -> Result<(), StoreError> {
            self.0.save_checkpoint(name, checkpoint).await
        }
        async fn delete_checkpoint(&self, name: &str) -> Result<(), StoreError> {
            self.0.delete_checkpoint(name).await
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn find_events_by_id() {
        es_core::testkit::find_events_by_id(Plain(MemoryStore::new())).await;
    }

    /// The scan pages past the first 1000 events.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn find_events_pages_through_the_log() {
        let store = Plain(MemoryStore::new());
        let stream = StreamId::new("many").unwrap();
        let events: Vec<_> = (0..2500)
            .map(|_| NewEvent::raw("t", 1, serde_json::json!({})))
            .collect();
        let (first, last) = (events[0].event_id, events[2499].event_id);
        store
            .append(&stream, ExpectedVersion::NoStream, events)
            .await
            .unwrap();
        let mut found = store.find_events(&[last, first]).await.unwrap();
        found.sort_by_key(|(_, e)| e.version);
        let versions: Vec<_> = found.iter().map(|(_, e)| e.version).collect();
        assert_eq!(versions, [Version(1), Version(2500)]);
    }
}
