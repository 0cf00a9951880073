//! Deleting a stream without touching the log: a tombstone.
//!
//! Stored events are immutable on every store, so a stream is never removed. Deleting it
//! ([`EventStore::delete_stream`](crate::EventStore::delete_stream),
//! [`Repository::delete`](crate::Repository::delete)) appends one last event of type
//! [`STREAM_DELETED`] with who asked (the metadata's actor) and why (the payload's `reason`):
//!
//! - the stream is **closed**: every later append to it fails with
//!   [`StoreError::StreamDeleted`], on every store (checked where the store checks the expected
//!   version, and by the database's insert triggers on SQLite and PostgreSQL, so no SQL client can
//!   write past a tombstone either);
//! - it is **hidden from loads**: [`Repository::load`](crate::Repository::load),
//!   [`execute`](crate::Repository::execute) and [`history`](crate::Repository::history) fail
//!   with [`StoreError::StreamDeleted`] (a load *at* a version or time before the deletion
//!   still returns the state as it was then);
//! - it stays **in the log**: `read_all`, projections, rebuilds and subscriptions see its events
//!   and the tombstone itself (read models that filter by event type skip the tombstone; one that
//!   wants to react to deletions handles [`STREAM_DELETED`]);
//! - the deletion is **logged** by being an event: when (`recorded_at`), who (`actor`), why
//!   (`reason`), with correlation and causation like any other write.
//!
//! Event types starting with `$` are reserved for such events of es itself; an append may carry a
//! tombstone only as the last event of its batch.
//!
//! ```
//! use es_core::{EventStore, ExpectedVersion, MemoryStore, Metadata, NewEvent, StoreError, StreamId};
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let stream = StreamId::new("user-7").unwrap();
//! let event = NewEvent::raw("user.registered", 1, serde_json::json!({ "name": "Ada" }));
//! store.append(&stream, ExpectedVersion::NoStream, vec![event]).await.unwrap();
//!
//! let by = Metadata::new().with_actor("dpo@example.com");
//! store.delete_stream(&stream, ExpectedVersion::Any, by, "account closed").await.unwrap();
//!
//! let late = NewEvent::raw("user.renamed", 1, serde_json::json!({ "name": "Bo" }));
//! let error = store.append(&stream, ExpectedVersion::Any, vec![late]).await.unwrap_err();
//! assert!(matches!(error, StoreError::StreamDeleted { .. }));
//! # });
//! ```

use crate::envelope::NewEvent;
use crate::error::{InputError, StoreError};
use crate::id::{StreamId, Version};
use crate::metadata::Metadata;

/// The type of the tombstone event that closes a deleted stream.
pub const STREAM_DELETED: &str = "$es.stream-deleted";

/// Whether `event_type` is one of es's own reserved types (it starts with `$`).
pub fn is_reserved_type(event_type: &str) -> bool {
    event_type.starts_with('$')
}

/// The tombstone event: type [`STREAM_DELETED`], schema version 1, payload `{"reason": ...}`.
pub fn tombstone(metadata: Metadata, reason: &str) -> NewEvent {
    NewEvent::raw(STREAM_DELETED, 1, serde_json::json!({ "reason": reason }))
        .with_metadata(metadata)
}

/// Checks the reserved types of a batch: only [`STREAM_DELETED`], and only as the last event.
pub fn check_batch(events: &[NewEvent]) -> Result<(), InputError> {
    for (index, event) in events.iter().enumerate() {
        if !is_reserved_type(&event.event_type) {
            continue;
        }
        if event.event_type != STREAM_DELETED {
            return Err(InputError::InvalidEventType {
                index,
                event_type: crate::limits::shorten(&event.event_type),
                reason: "types starting with `$` are reserved for es's own events",
            });
        }
        if index + 1 != events.len() {
            return Err(InputError::InvalidEventType {
                index,
                event_type: event.event_type.clone(),
                reason: "a stream's tombstone must be the last event of its batch",
            });
        }
    }
    Ok(())
}

/// The error for an append to, or a load of, a deleted stream (`version`: the tombstone's).
pub fn deleted(stream: &StreamId, version: Version) -> StoreError {
    StoreError::StreamDeleted {
        stream: stream.clone(),
        version,
    }
}
