//! Dynamic consistency boundaries (DCB): decisions that span streams.
//!
//! In the shape of the DCB specification (dcb.events): every event may carry **tags** (strings
//! such as `course:c1`, written by `#[tag]` fields of `#[derive(DomainEvent)]`); a [`Query`] is a
//! list of [`QueryItem`]s OR'd together, an item matching an event whose type is one of the item's
//! types (any type if it names none) AND that has all of the item's tags; and an append can carry
//! an [`AppendCondition`]: it fails, writing nothing, if any event after `after` matches
//! `fail_if_events_match`.
//!
//! Reading is [`EventStore::read_all`](crate::EventStore::read_all) with
//! [`ReadAll::matching`](crate::ReadAll::matching); the conditional (and multi-stream) append is
//! [`EventStore::append_streams`](crate::EventStore::append_streams). The decision API on top,
//! written like an aggregate, is [`crate::decision`].
//!
//! ```
//! use es_core::dcb::{AppendCondition, Query, QueryItem, StreamAppend};
//! use es_core::{EventStore, ExpectedVersion, MemoryStore, NewEvent, ReadAll, StoreError, StreamId};
//! use es_core::futures::TryStreamExt;
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let enrolment = |student: &str| {
//!     NewEvent::raw("student.subscribed", 1, serde_json::json!({}))
//!         .with_tags(["course:c1".to_owned(), format!("student:{student}")])
//! };
//! let query = Query::item(QueryItem::new().types(["student.subscribed"]).tags(["course:c1"]));
//!
//! // Read what the decision depends on, and remember where the read ended.
//! let seen: Vec<_> = store.read_all(ReadAll::new().matching(query.clone())).try_collect().await.unwrap();
//! let after = seen.last().map(|e| e.meta.checkpoint());
//! let condition = AppendCondition::new(query.clone(), after);
//! let append = StreamAppend::new(StreamId::new("course-c1").unwrap(), ExpectedVersion::Any, vec![enrolment("s1")]);
//! store.append_streams(vec![append.clone()], Some(condition.clone())).await.unwrap();
//!
//! // A second decision on the same (now stale) read fails and writes nothing.
//! let stale = StreamAppend::new(StreamId::new("course-c1").unwrap(), ExpectedVersion::Any, vec![enrolment("s2")]);
//! let error = store.append_streams(vec![stale], Some(condition)).await.unwrap_err();
//! assert!(matches!(error, StoreError::ConditionFailed { .. }));
//! # });
//! ```

use crate::envelope::{AppendResult, AppendedEvent, NewEvent, RecordedEvent};
use crate::error::{InputError, StoreError};
use crate::id::{Checkpoint, ExpectedVersion, StreamId};
use crate::limits;
use std::fmt;

/// A tag: `kind:value`, e.g. `tag("course", "c1") == "course:c1"`. What `#[tag("course")]` on a
/// field writes, so a command names the same tag without spelling the format out.
///
/// ```
/// assert_eq!(es_core::dcb::tag("course", 7), "course:7");
/// ```
pub fn tag(kind: &str, value: impl fmt::Display) -> String {
    format!("{kind}:{value}")
}

/// One item of a [`Query`]: events whose type is one of `types` (any type if empty) and that
/// have every tag of `tags` (no condition on tags if empty).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QueryItem {
    /// Event type names; empty: any type.
    pub types: Vec<String>,
    /// Tags an event must all have.
    pub tags: Vec<String>,
}

impl QueryItem {
    /// An item that matches every event (add types and tags to narrow it).
    pub fn new() -> Self {
        Self::default()
    }

    /// Only events of these types.
    pub fn types<I, S>(mut self, types: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.types.extend(types.into_iter().map(Into::into));
        self
    }

    /// Only events that have all of these tags.
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Whether an event of `event_type` with `tags` matches this item.
    ///
    /// ```
    /// use es_core::dcb::QueryItem;
    /// let item = QueryItem::new().types(["a", "b"]).tags(["x:1"]);
    /// assert!(item.matches("a", &["x:1".into(), "y:2".into()]));
    /// assert!(!item.matches("c", &["x:1".into()]));
    /// assert!(!item.matches("a", &["y:2".into()]));
    /// ```
    pub fn matches(&self, event_type: &str, tags: &[String]) -> bool {
        (self.types.is_empty() || self.types.iter().any(|t| t == event_type))
            && self.tags.iter().all(|t| tags.contains(t))
    }
}

/// Items OR'd together: an event matches the query if it matches any item. A query without
/// items matches nothing; [`Query::all`] matches every event.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    /// The items.
    pub items: Vec<QueryItem>,
}

impl Query {
    /// Every event.
    pub fn all() -> Self {
        Self::item(QueryItem::new())
    }

    /// A query of one item.
    pub fn item(item: QueryItem) -> Self {
        Self { items: vec![item] }
    }

    /// A query of these items.
    pub fn items(items: impl IntoIterator<Item = QueryItem>) -> Self {
        Self {
            items: items.into_iter().collect(),
        }
    }

    /// Adds an item.
    pub fn or(mut self, item: QueryItem) -> Self {
        self.items.push(item);
        self
    }

    /// Whether an event of `event_type` with `tags` matches.
    pub fn matches(&self, event_type: &str, tags: &[String]) -> bool {
        self.items.iter().any(|i| i.matches(event_type, tags))
    }

    /// Whether a stored event matches.
    pub fn matches_event(&self, event: &RecordedEvent) -> bool {
        self.matches(&event.meta.event_type, &event.meta.tags)
    }
}

/// The condition of a conditional append: fail, writing nothing, if an event after `after`
/// (every event if `None`) matches `fail_if_events_match`.
///
/// `after` is the checkpoint of the last event the decision read ([`RecordedEvent`]'s
/// `meta.checkpoint()`), or `None` if it read none: events are ordered by checkpoint, and a read
/// through [`ReadAll`](crate::ReadAll) never misses one that commits later below it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendCondition {
    /// The query no new event may match.
    pub fail_if_events_match: Query,
    /// Only events after this checkpoint count.
    pub after: Option<Checkpoint>,
}

impl AppendCondition {
    /// Fail if an event after `after` matches `query`.
    pub fn new(query: Query, after: Option<Checkpoint>) -> Self {
        Self {
            fail_if_events_match: query,
            after,
        }
    }

    /// Whether a stored event violates the condition.
    pub fn violated_by(&self, event: &RecordedEvent) -> bool {
        self.after
            .is_none_or(|after| event.meta.checkpoint() > after)
            && self.fail_if_events_match.matches_event(event)
    }
}

/// One stream's part of a multi-stream append: a batch guarded by its expected version.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamAppend {
    /// The stream.
    pub stream: StreamId,
    /// The version the stream must be at.
    pub expected: ExpectedVersion,
    /// The events, appended in order.
    pub events: Vec<NewEvent>,
}

impl StreamAppend {
    /// A batch for `stream` at `expected`.
    pub fn new(stream: StreamId, expected: ExpectedVersion, events: Vec<NewEvent>) -> Self {
        Self {
            stream,
            expected,
            events,
        }
    }
}

/// Checks a multi-stream append and its condition with the same limits as a single append (see
/// [`limits`]); every adapter calls it before touching the database. A stream may appear once.
pub fn check_appends(
    appends: &[StreamAppend],
    condition: Option<&AppendCondition>,
) -> Result<(), StoreError> {
    let mut ids = std::collections::HashSet::new();
    for (i, append) in appends.iter().enumerate() {
        if appends[..i].iter().any(|a| a.stream == append.stream) {
            return Err(InputError::StreamTwice {
                stream: append.stream.clone(),
            }
            .into());
        }
        limits::check_append(append.expected, &append.events)?;
        for event in &append.events {
            if !ids.insert(event.event_id) {
                return Err(InputError::DuplicateEventId {
                    event_id: event.event_id,
                }
                .into());
            }
        }
    }
    if let Some(condition) = condition {
        limits::check_query(&condition.fail_if_events_match)?;
        if let Some(after) = condition.after {
            limits::check_number("condition position", after.position.0)?;
            limits::check_number("condition commit key", after.commit)?;
        }
    }
    Ok(())
}

/// Decides what a multi-stream append means when some of its event ids are stored (`stored`:
/// the stored events with those ids). `Ok(None)`: none is, append. `Ok(Some(results))`: every
/// batch was appended before exactly so; report it. Otherwise [`StoreError::DuplicateEventId`].
/// The multi-stream form of [`AppendResult::for_repeated_batch`].
pub fn repeated_appends(
    appends: &[StreamAppend],
    stored: &[(StreamId, AppendedEvent)],
) -> Result<Option<Vec<AppendResult>>, StoreError> {
    if stored.is_empty() {
        return Ok(None);
    }
    let mut results = Vec::with_capacity(appends.len());
    for append in appends {
        match AppendResult::for_repeated_batch(&append.stream, &append.events, stored)? {
            Some(result) => results.push(result),
            None if append.events.is_empty() => results.push(AppendResult {
                events: Vec::new(),
                already_appended: true,
            }),
            None => {
                // Another batch of this append is stored, this one is not: not a repeat.
                let event_id = appends
                    .iter()
                    .flat_map(|a| &a.events)
                    .find(|e| stored.iter().any(|(_, s)| s.event_id == e.event_id))
                    .map(|e| e.event_id)
                    .unwrap_or_default();
                return Err(StoreError::DuplicateEventId {
                    stream: append.stream.clone(),
                    event_id,
                });
            }
        }
    }
    Ok(Some(results))
}
