//! Given/when/then tests for [`Decision`]s, on the real [`Decisions`] path over a [`MemoryStore`].

use crate::decision::{Decision, DecisionError, Decisions};
use crate::envelope::NewEvent;
use crate::event::DomainEvent;
use crate::id::{ExpectedVersion, StreamId};
use crate::memory::MemoryStore;
use crate::metadata::Metadata;
use crate::store::{EventStore, ReadAll};
use futures::TryStreamExt;
use futures::executor::block_on;
use std::fmt::Debug;

/// A given/when/then test of a [`Decision`]: the given events are stored with their tags (each
/// event in a stream of its own, as the decision reads by type and tags, not by stream), the
/// command runs through [`Decisions::execute`], and the `then_*` methods check what it stored.
///
/// ```
/// use es_core::prelude::*;
/// use es_core::dcb::tag;
/// use es_core::decision::Decision;
/// use es_core::testing::DecisionTest;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
/// #[event(name = "user.registered")]
/// struct Registered { #[tag("username")] name: String }
///
/// #[derive(Default)]
/// struct Name { taken: bool }
/// #[event_handler]
/// impl Name {
///     fn registered(&mut self, _: &Registered) { self.taken = true }
/// }
///
/// struct Register { name: String }
/// impl Decision for Register {
///     type States = (Name,);
///     type Event = Registered;
///     type Error = String;
///     fn tags(&self) -> (Vec<String>,) { (vec![tag("username", &self.name)],) }
///     fn stream(&self, _: &Registered) -> String { format!("user-{}", self.name) }
///     fn decide(&self, (name,): &(Name,)) -> Result<Vec<Registered>, String> {
///         if name.taken { return Err(format!("{} is taken", self.name)) }
///         Ok(vec![Registered { name: self.name.clone() }])
///     }
/// }
///
/// DecisionTest::new()
///     .given(Registered { name: "ada".into() })
///     .when(Register { name: "bob".into() })
///     .then([Registered { name: "bob".into() }]);
/// DecisionTest::new()
///     .given(Registered { name: "ada".into() })
///     .when(Register { name: "ada".into() })
///     .then_error("ada is taken".to_owned());
/// ```
pub struct DecisionTest {
    decisions: Decisions<MemoryStore>,
    given: usize,
    setup_error: Option<String>,
}

impl Default for DecisionTest {
    fn default() -> Self {
        Self::new()
    }
}

impl DecisionTest {
    /// Starts from an empty store.
    pub fn new() -> Self {
        Self {
            decisions: Decisions::new(MemoryStore::new()),
            given: 0,
            setup_error: None,
        }
    }

    /// Adds a stored event (with the tags of its `#[tag]` fields).
    pub fn given<E: DomainEvent>(mut self, event: E) -> Self {
        if self.setup_error.is_some() {
            return self;
        }
        self.given += 1;
        let stored = NewEvent::from_event(&event, Metadata::default())
            .map_err(|e| e.to_string())
            .and_then(|new| {
                let stream =
                    StreamId::new(format!("given-{}", self.given)).map_err(|e| e.to_string())?;
                block_on(self.decisions.store().append(
                    &stream,
                    ExpectedVersion::NoStream,
                    vec![new],
                ))
                .map_err(|e| e.to_string())
            });
        if let Err(error) = stored {
            self.setup_error = Some(error);
        }
        self
    }

    /// Decides a command on the given events.
    #[track_caller]
    pub fn when<D: Decision>(self, command: D) -> DecisionThen<D> {
        if let Some(error) = &self.setup_error {
            panic!("storing the given events failed: {error}");
        }
        let result = block_on(self.decisions.execute(command)).map(|_| ());
        DecisionThen { test: self, result }
    }
}

/// The outcome of [`DecisionTest::when`], to check.
pub struct DecisionThen<D: Decision> {
    test: DecisionTest,
    result: Result<(), DecisionError<D::Error>>,
}

impl<D: Decision> DecisionThen<D> {
    /// The events the command stored, decoded back from the store.
    #[track_caller]
    pub fn events(&self) -> Vec<D::Event> {
        let records = block_on(
            self.test
                .decisions
                .store()
                .read_all(ReadAll::new())
                .try_collect::<Vec<_>>(),
        );
        match records {
            Ok(records) => records
                .into_iter()
                .skip(self.test.given)
                .map(|r| match r.into_decoded::<D::Event>() {
                    Ok(envelope) => envelope.event,
                    Err(e) => panic!("{e}"),
                })
                .collect(),
            Err(e) => panic!("{e}"),
        }
    }

    /// Asserts the command succeeded and stored exactly these events.
    #[track_caller]
    pub fn then<I, E>(self, expected: I) -> Self
    where
        I: IntoIterator<Item = E>,
        E: Into<D::Event>,
        D::Event: PartialEq + Debug,
        D::Error: Debug,
    {
        if let Err(error) = &self.result {
            panic!("expected events, but the command failed: {error:?}");
        }
        let expected: Vec<D::Event> = expected.into_iter().map(Into::into).collect();
        assert_eq!(self.events(), expected, "the command stored other events");
        self
    }

    /// Asserts the command succeeded and stored no event.
    #[track_caller]
    pub fn then_nothing(self) -> Self
    where
        D::Event: PartialEq + Debug,
        D::Error: Debug,
    {
        self.then(std::iter::empty::<D::Event>())
    }

    /// Asserts the command was rejected with exactly this error, and stored nothing.
    #[track_caller]
    pub fn then_error(self, expected: D::Error) -> Self
    where
        D::Error: PartialEq + Debug,
        D::Event: Debug,
    {
        match &self.result {
            Err(DecisionError::Rejected(error)) => {
                assert_eq!(
                    error, &expected,
                    "the command was rejected with another error"
                )
            }
            Err(other) => panic!("expected rejection {expected:?}, got {other:?}"),
            Ok(()) => panic!(
                "expected rejection {expected:?}, but the command stored {:?}",
                self.events()
            ),
        }
        assert!(
            self.events().is_empty(),
            "a rejected command must not store events"
        );
        self
    }

    /// The raw outcome.
    pub fn result(&self) -> &Result<(), DecisionError<D::Error>> {
        &self.result
    }
}
