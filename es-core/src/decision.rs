//! Decisions across streams (dynamic consistency boundaries), written like aggregates.
//!
//! A **decision state** is a plain struct with `#[event_handler]` apply methods, like an
//! aggregate, but it is not bound to a stream: it is built from the events of the types its
//! methods take that carry the tags a command names. A [`Decision`] (the command) names its states
//! and their tags, and decides new events from them. [`Decisions`] reads the states in one query,
//! decides, and appends with an [`AppendCondition`] after the read: if an event that would have
//! changed any state was appended meanwhile, nothing is written and the command is decided again
//! on fresh states (like [`Repository::execute`](crate::Repository::execute) on a conflict).
//!
//! ```
//! use es_core::prelude::*;
//! use es_core::dcb::tag;
//! use es_core::decision::{Decision, Decisions};
//! use es_core::{MemoryStore, NewEvent};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
//! #[event(name = "course.defined")]
//! struct CourseDefined { #[tag("course")] course: String, capacity: u32 }
//!
//! #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
//! #[event(name = "student.subscribed")]
//! struct Subscribed { #[tag("course")] course: String, #[tag("student")] student: String }
//!
//! /// A course's capacity and how many have subscribed.
//! #[derive(Default)]
//! struct Course { capacity: u32, subscribed: u32 }
//! #[event_handler]
//! impl Course {
//!     fn defined(&mut self, e: &CourseDefined) { self.capacity = e.capacity }
//!     fn subscribed(&mut self, _: &Subscribed) { self.subscribed += 1 }
//! }
//!
//! struct Subscribe { course: String, student: String }
//!
//! impl Decision for Subscribe {
//!     type States = (Course,);
//!     type Event = Subscribed;
//!     type Error = String;
//!     fn tags(&self) -> (Vec<String>,) { (vec![tag("course", &self.course)],) }
//!     fn stream(&self, _: &Subscribed) -> String { format!("course-{}", self.course) }
//!     fn decide(&self, (course,): &(Course,)) -> Result<Vec<Subscribed>, String> {
//!         if course.subscribed >= course.capacity {
//!             return Err(format!("course {} is full", self.course));
//!         }
//!         Ok(vec![Subscribed { course: self.course.clone(), student: self.student.clone() }])
//!     }
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = MemoryStore::new();
//! let defined = NewEvent::from_event(&CourseDefined { course: "c1".into(), capacity: 1 }, Metadata::new()).unwrap();
//! store.append(&StreamId::new("course-c1").unwrap(), ExpectedVersion::NoStream, vec![defined]).await.unwrap();
//!
//! let decisions = Decisions::new(store);
//! decisions.execute(Subscribe { course: "c1".into(), student: "s1".into() }).await.unwrap();
//! let full = decisions.execute(Subscribe { course: "c1".into(), student: "s2".into() }).await;
//! assert_eq!(full.unwrap_err().rejection().map(String::as_str), Some("course c1 is full"));
//! # });
//! ```

use crate::dcb::{AppendCondition, Query, QueryItem, StreamAppend};
use crate::envelope::{AppendedEvent, NewEvent, RecordedEvent};
use crate::error::StoreError;
use crate::event::DomainEvent;
use crate::handler::{EventHandler, HandlerError};
use crate::id::{Checkpoint, EventId, ExpectedVersion, InvalidStreamId, StreamId};
use crate::metadata::Metadata;
use crate::repository::DEFAULT_MAX_RETRIES;
use crate::store::{EventStore, ReadAll};
use futures::TryStreamExt;
use tracing::Instrument;

/// A state a decision is built from: a `Default` struct with `#[event_handler]` apply methods.
/// Its query item takes the event types of its methods ([`EventHandler::event_types`]) and the
/// tags the command names for it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a decision state",
    label = "`{Self}` needs `Default` and an `#[event_handler]` impl block with its apply methods",
    note = "a decision state is built like an aggregate: `#[derive(Default)] struct {Self} {{ ... }}` and `#[event_handler] impl {Self} {{ fn ...(&mut self, event: &SomeEvent) {{ ... }} }}`; the events it reads are the types those methods take"
)]
pub trait DecisionState: EventHandler<()> + Default + Send + Sync {}
impl<T: EventHandler<()> + Default + Send + Sync> DecisionState for T {}

/// The states of a decision: a tuple of one to four [`DecisionState`]s.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a tuple of decision states",
    label = "write the states as a tuple of one to four decision states",
    note = "e.g. `type States = (Course,);` or `type States = (Course, Student);`, each a `Default` struct with an `#[event_handler]` impl"
)]
pub trait StateSet: Sized + Send + Sync {
    /// The tags of each state: a tuple of `Vec<String>` of the same arity.
    type Tags: Send;

    /// Fresh, empty states.
    fn empty() -> Self;

    /// One query item per state: its event types and its tags.
    fn items(&self, tags: &Self::Tags) -> Vec<QueryItem>;

    /// Applies `event` to every state whose item (`items[i]`) it matches.
    fn apply(
        &mut self,
        items: &[QueryItem],
        event: &RecordedEvent,
    ) -> impl std::future::Future<Output = Result<(), HandlerError>> + Send;
}

macro_rules! state_set {
    ($($state:ident $index:tt),+) => {
        impl<$($state: DecisionState),+> StateSet for ($($state,)+) {
            type Tags = ($(state_set!(@tags $state),)+);

            fn empty() -> Self {
                ($($state::default(),)+)
            }

            fn items(&self, tags: &Self::Tags) -> Vec<QueryItem> {
                vec![$(
                    QueryItem::new()
                        .types(self.$index.event_types())
                        .tags(tags.$index.iter().cloned()),
                )+]
            }

            async fn apply(&mut self, items: &[QueryItem], event: &RecordedEvent) -> Result<(), HandlerError> {
                $(
                    if items.get($index).is_some_and(|item| item.matches(&event.meta.event_type, &event.meta.tags)) {
                        self.$index.handle(event, &mut ()).await?;
                    }
                )+
                Ok(())
            }
        }
    };
    (@tags $state:ident) => { Vec<String> };
}

state_set!(A 0);
state_set!(A 0, B 1);
state_set!(A 0, B 1, C 2);
state_set!(A 0, B 1, C 2, D 3);

/// A command decided across streams: it names its states and their tags, and decides new events
/// from them. Executed by [`Decisions`]; see the [module docs](self) for an example.
pub trait Decision: Send + Sync {
    /// The states it reads: a tuple of [`DecisionState`]s, e.g. `(Course, Student)`.
    type States: StateSet;
    /// The events it decides (an event struct or an event set).
    type Event: DomainEvent;
    /// Why it rejects.
    type Error: Send;

    /// The tags each state is built from, in the order of [`States`](Self::States): e.g.
    /// `(vec![tag("course", &self.course)], vec![tag("student", &self.student)])`.
    fn tags(&self) -> <Self::States as StateSet>::Tags;

    /// The stream a decided event is stored in (any version: the condition guards the decision).
    fn stream(&self, event: &Self::Event) -> String;

    /// Decides the new events from the states (none: nothing is written).
    fn decide(&self, states: &Self::States) -> Result<Vec<Self::Event>, Self::Error>;
}

/// What [`Decisions::execute`] stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decided {
    /// The stored events with their streams, in the order decided.
    pub events: Vec<(StreamId, AppendedEvent)>,
    /// How many times the command was decided (1 without concurrent changes).
    pub attempts: usize,
    /// True when [`Decisions::execute_idempotent`] found the command's events stored already.
    pub already_applied: bool,
}

/// Why a decision was not stored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecisionError<E> {
    /// The command was rejected; nothing was written.
    #[error("command rejected: {0}")]
    Rejected(E),
    /// Other writers kept changing what the decision read; every attempt failed its condition.
    #[error("gave up after {attempts} attempts: {source}")]
    Conflict {
        /// How many times the command was decided.
        attempts: usize,
        /// The last failure.
        #[source]
        source: StoreError,
    },
    /// An event could not be serialized.
    #[error("cannot serialize event `{event_type}`: {source}")]
    Encode {
        /// The event's type name.
        event_type: &'static str,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// A decided event's stream id is not valid.
    #[error(transparent)]
    InvalidStream(#[from] InvalidStreamId),
    /// A stored event could not be applied to a state.
    #[error("building the decision's states failed: {0}")]
    State(#[source] HandlerError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl<E> DecisionError<E> {
    /// The command's own error, if it was rejected.
    pub fn rejection(&self) -> Option<&E> {
        match self {
            DecisionError::Rejected(e) => Some(e),
            _ => None,
        }
    }
}

/// Executes [`Decision`]s on a store: read the states, decide, append with the condition, and
/// decide again when the condition fails (at most `max_retries` times more).
#[derive(Clone, Debug)]
pub struct Decisions<S> {
    store: S,
    max_retries: usize,
}

impl<S: EventStore> Decisions<S> {
    /// An executor on `store`.
    pub fn new(store: S) -> Self {
        Self {
            store,
            max_retries: DEFAULT_MAX_RETRIES,
        }
    }

    /// How often a decision whose condition failed is decided again (default
    /// [`DEFAULT_MAX_RETRIES`]).
    pub fn with_max_retries(mut self, retries: usize) -> Self {
        self.max_retries = retries;
        self
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Reads a decision's states as they are now, with the checkpoint of the last event read
    /// (`None` if none matched) and the query they were read with.
    pub async fn states<D: Decision>(
        &self,
        command: &D,
    ) -> Result<(D::States, Option<Checkpoint>, Query), DecisionError<D::Error>> {
        let mut states = D::States::empty();
        let items = states.items(&command.tags());
        let query = Query::items(items.iter().cloned());
        let mut events = self.store.read_all(ReadAll::new().matching(query.clone()));
        let mut last = None;
        while let Some(event) = events.try_next().await? {
            states
                .apply(&items, &event)
                .await
                .map_err(DecisionError::State)?;
            last = Some(event.meta.checkpoint());
        }
        Ok((states, last, query))
    }

    /// Decides `command` and stores its events, atomically and only if nothing it read changed.
    pub async fn execute<D: Decision>(
        &self,
        command: D,
    ) -> Result<Decided, DecisionError<D::Error>> {
        self.execute_with(command, Metadata::default()).await
    }

    /// Like [`execute`](Self::execute), storing `metadata` with every event.
    pub async fn execute_with<D: Decision>(
        &self,
        command: D,
        metadata: Metadata,
    ) -> Result<Decided, DecisionError<D::Error>> {
        let span = tracing::debug_span!("es.decide", command = std::any::type_name::<D>());
        self.run(&command, None, metadata).instrument(span).await
    }

    /// Decides `command` at most once per `command_id`: the events' ids are derived from the
    /// command id ([`EventId::for_command`], with the event's stream and index), so a retry after
    /// an error whose append had in fact been stored returns the stored events with
    /// [`already_applied`](Decided::already_applied) set instead of deciding again. The command
    /// id is the events' `causation_id` unless `metadata` has one.
    pub async fn execute_idempotent<D: Decision>(
        &self,
        command_id: uuid::Uuid,
        command: D,
        metadata: Metadata,
    ) -> Result<Decided, DecisionError<D::Error>> {
        let span = tracing::debug_span!(
            "es.decide",
            command = std::any::type_name::<D>(),
            %command_id
        );
        let metadata = if metadata.causation_id.is_none() {
            metadata.with_causation_id(command_id)
        } else {
            metadata
        };
        self.run(&command, Some(command_id), metadata)
            .instrument(span)
            .await
    }

    async fn run<D: Decision>(
        &self,
        command: &D,
        command_id: Option<uuid::Uuid>,
        metadata: Metadata,
    ) -> Result<Decided, DecisionError<D::Error>> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (states, after, query) = self.states(command).await?;
            let decided = command.decide(&states).map_err(DecisionError::Rejected)?;
            if decided.is_empty() {
                return Ok(Decided {
                    events: Vec::new(),
                    attempts,
                    already_applied: false,
                });
            }
            let appends = encode(command, command_id, decided, &metadata)?;
            if let Some(stored) = self.stored(command_id, &appends).await? {
                return Ok(Decided {
                    events: stored,
                    attempts,
                    already_applied: true,
                });
            }
            let condition = AppendCondition::new(query, after);
            match self
                .store
                .append_streams(appends.clone(), Some(condition))
                .await
            {
                Ok(results) => {
                    let already_applied = results.iter().all(|r| r.already_appended);
                    let events = appends
                        .iter()
                        .zip(results)
                        .flat_map(|(a, r)| r.events.into_iter().map(|e| (a.stream.clone(), e)))
                        .collect();
                    return Ok(Decided {
                        events,
                        attempts,
                        already_applied,
                    });
                }
                Err(error @ (StoreError::ConditionFailed { .. } | StoreError::Conflict { .. })) => {
                    if attempts > self.max_retries {
                        return Err(DecisionError::Conflict {
                            attempts,
                            source: error,
                        });
                    }
                    tracing::debug!(attempts, %error, "decision condition failed; deciding again");
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// With a command id: the command's events, if they are stored already.
    async fn stored<E>(
        &self,
        command_id: Option<uuid::Uuid>,
        appends: &[StreamAppend],
    ) -> Result<Option<Vec<(StreamId, AppendedEvent)>>, DecisionError<E>> {
        if command_id.is_none() {
            return Ok(None);
        }
        let ids: Vec<EventId> = appends
            .iter()
            .flat_map(|a| a.events.iter().map(|e| e.event_id))
            .collect();
        let found = self.store.find_events(&ids).await?;
        if found.is_empty() {
            return Ok(None);
        }
        // In the order decided; a partial find is a repeat whose rest differs: report what is there.
        let ordered = ids
            .iter()
            .filter_map(|id| found.iter().find(|(_, e)| e.event_id == *id).cloned())
            .collect();
        Ok(Some(ordered))
    }
}

/// The decided events as one batch per stream, in the order first decided.
fn encode<D: Decision>(
    command: &D,
    command_id: Option<uuid::Uuid>,
    decided: Vec<D::Event>,
    metadata: &Metadata,
) -> Result<Vec<StreamAppend>, DecisionError<D::Error>> {
    let mut appends: Vec<StreamAppend> = Vec::new();
    for event in decided {
        let stream = StreamId::new(command.stream(&event))?;
        let mut new = NewEvent::from_event(&event, metadata.clone()).map_err(|source| {
            DecisionError::Encode {
                event_type: event.event_type(),
                source,
            }
        })?;
        let append = match appends.iter_mut().position(|a| a.stream == stream) {
            Some(i) => &mut appends[i],
            None => {
                appends.push(StreamAppend::new(stream, ExpectedVersion::Any, Vec::new()));
                let last = appends.len() - 1;
                &mut appends[last]
            }
        };
        if let Some(command_id) = command_id {
            new.event_id =
                EventId::for_command(command_id, &append.stream, append.events.len() as u64);
        }
        append.events.push(new);
    }
    Ok(appends)
}
