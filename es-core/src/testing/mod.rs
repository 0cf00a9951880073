//! Given/when/then tests for aggregates, on the real [`Repository`] path over a [`MemoryStore`],
//! and for decisions across streams ([`DecisionTest`]).

mod decision;
pub use decision::{DecisionTest, DecisionThen};

use crate::aggregate::{Aggregate, Handle};
use crate::envelope::NewEvent;
use crate::error::ExecuteError;
use crate::id::{ExpectedVersion, Version};
use crate::memory::MemoryStore;
use crate::metadata::Metadata;
use crate::repository::Repository;
use crate::store::EventStore;
use futures::TryStreamExt;
use futures::executor::block_on;
use serde_json::Value;
use std::fmt::Debug;

const TEST_ID: &str = "test";

/// A given/when/then test of one aggregate.
///
/// The given events are stored (encoded exactly as in production, so upcasters run when they are
/// loaded), the command runs through [`Repository::execute`], and the `then_*` methods check the
/// outcome. The futures are driven with a blocking executor, so a test may be a plain `#[test]`.
///
/// ```
/// # use es_core::{Aggregate, Event, Handle, testing::AggregateTest};
/// # use serde::{Deserialize, Serialize};
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
/// struct Added { n: i64 }
/// impl Event for Added { const NAME: &'static str = "counter.added"; }
///
/// #[derive(Debug, Default)]
/// struct Counter { total: i64 }
/// impl Aggregate for Counter {
///     const NAME: &'static str = "counter";
///     type Event = Added;
///     fn apply(&mut self, e: &Added) { self.total += e.n }
/// }
///
/// #[derive(Clone)]
/// struct Add(i64);
/// #[derive(Debug, PartialEq)]
/// struct TooBig;
/// impl Handle<Add> for Counter {
///     type Error = TooBig;
///     async fn handle(&self, cmd: Add) -> Result<Vec<Added>, TooBig> {
///         if self.total + cmd.0 > 10 { return Err(TooBig) }
///         Ok(vec![Added { n: cmd.0 }])
///     }
/// }
///
/// AggregateTest::<Counter>::given([Added { n: 4 }]).when(Add(5)).then([Added { n: 5 }]);
/// AggregateTest::<Counter>::given([Added { n: 9 }]).when(Add(5)).then_error(TooBig);
/// ```
pub struct AggregateTest<A: Aggregate> {
    repository: Repository<A, MemoryStore>,
    setup_error: Option<String>,
}

impl<A: Aggregate> AggregateTest<A> {
    /// Starts from an aggregate with these events.
    pub fn given<I, E>(events: I) -> Self
    where
        I: IntoIterator<Item = E>,
        E: Into<A::Event>,
    {
        let test = Self {
            repository: Repository::new(MemoryStore::new()),
            setup_error: None,
        };
        let batch: Result<Vec<NewEvent>, String> = events
            .into_iter()
            .map(|e| {
                NewEvent::from_event(&e.into(), Metadata::default()).map_err(|e| e.to_string())
            })
            .collect();
        match batch {
            Ok(batch) => test.store_batch(batch),
            Err(error) => test.fail(error),
        }
    }

    /// Starts from an aggregate with no events.
    pub fn given_nothing() -> Self {
        Self::given(std::iter::empty::<A::Event>())
    }

    /// Adds a raw stored event (any type name, schema version and JSON), as an older version of
    /// the code would have written it.
    pub fn and_stored(self, event_type: &str, schema_version: u32, payload: Value) -> Self {
        self.store_batch(vec![NewEvent::raw(event_type, schema_version, payload)])
    }

    fn store_batch(mut self, batch: Vec<NewEvent>) -> Self {
        if self.setup_error.is_some() || batch.is_empty() {
            return self;
        }
        let result = match Repository::<A, MemoryStore>::stream_id(TEST_ID) {
            Ok(stream) => block_on(self.repository.store().append(
                &stream,
                ExpectedVersion::Any,
                batch,
            ))
            .map(|_| ())
            .map_err(|e| e.to_string()),
            Err(error) => Err(error.to_string()),
        };
        if let Err(error) = result {
            self.setup_error = Some(error);
        }
        self
    }

    fn fail(mut self, error: String) -> Self {
        self.setup_error = Some(error);
        self
    }

    /// The state after the given events (for assertions on `load` and upcasting).
    #[track_caller]
    pub fn state(&self) -> A {
        self.assert_setup();
        match block_on(self.repository.load(TEST_ID)) {
            Ok(state) => state,
            Err(error) => panic!("loading the given events failed: {error}"),
        }
    }

    /// Executes a command against the given state.
    #[track_caller]
    pub fn when<C>(self, command: C) -> Then<A, C>
    where
        A: Handle<C>,
        C: Clone + Send,
    {
        self.assert_setup();
        let before = self.version();
        let result = block_on(self.repository.execute(TEST_ID, command));
        Then {
            test: self,
            before,
            result: result.map(|_| ()),
        }
    }

    #[track_caller]
    fn assert_setup(&self) {
        if let Some(error) = &self.setup_error {
            panic!("storing the given events failed: {error}");
        }
    }

    #[track_caller]
    fn version(&self) -> Version {
        let stream = Repository::<A, MemoryStore>::stream_id(TEST_ID);
        match stream.map(|s| block_on(self.repository.store().stream_version(&s))) {
            Ok(Ok(v)) => v,
            Ok(Err(e)) => panic!("{e}"),
            Err(e) => panic!("{e}"),
        }
    }
}

/// The outcome of [`AggregateTest::when`], to check.
pub struct Then<A: Aggregate + Handle<C>, C> {
    test: AggregateTest<A>,
    before: Version,
    result: Result<(), ExecuteError<<A as Handle<C>>::Error>>,
}

impl<A, C> Then<A, C>
where
    A: Aggregate + Handle<C>,
{
    /// The events the command stored, decoded back from the store.
    #[track_caller]
    pub fn events(&self) -> Vec<A::Event> {
        let stream = match Repository::<A, MemoryStore>::stream_id(TEST_ID) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        };
        let store = self.test.repository.store();
        let read = block_on(
            store
                .read_stream(&stream, self.before.next())
                .try_collect::<Vec<_>>(),
        );
        match read {
            Ok(records) => records
                .into_iter()
                .map(|r| match r.into_decoded::<A::Event>() {
                    Ok(env) => env.event,
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
        E: Into<A::Event>,
        A::Event: PartialEq + Debug,
        <A as Handle<C>>::Error: Debug,
    {
        if let Err(error) = &self.result {
            panic!("expected events, but the command failed: {error:?}");
        }
        let expected: Vec<A::Event> = expected.into_iter().map(Into::into).collect();
        assert_eq!(self.events(), expected, "the command stored other events");
        self
    }

    /// Asserts the command succeeded and stored no event.
    #[track_caller]
    pub fn then_nothing(self) -> Self
    where
        A::Event: PartialEq + Debug,
        <A as Handle<C>>::Error: Debug,
    {
        self.then(std::iter::empty::<A::Event>())
    }

    /// Asserts the command was rejected with exactly this error, and stored nothing.
    #[track_caller]
    pub fn then_error(self, expected: <A as Handle<C>>::Error) -> Self
    where
        <A as Handle<C>>::Error: PartialEq + Debug,
        A::Event: Debug,
    {
        match &self.result {
            Err(ExecuteError::Rejected(error)) => {
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
        assert_eq!(
            self.test.version(),
            self.before,
            "a rejected command must not store events"
        );
        self
    }

    /// Asserts something about the state after the command.
    #[track_caller]
    pub fn then_state(self, check: impl FnOnce(&A)) -> Self {
        check(&self.test.state());
        self
    }

    /// The raw outcome.
    pub fn result(&self) -> &Result<(), ExecuteError<<A as Handle<C>>::Error>> {
        &self.result
    }
}
