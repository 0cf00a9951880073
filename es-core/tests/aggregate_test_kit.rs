//! The given/when/then kit checks what it claims to check, and fails when it should.

use es_core::testing::AggregateTest;
use es_core::{Aggregate, DecodeErrorKind, Event, Handle};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Added {
    n: i64,
}

impl Event for Added {
    const NAME: &'static str = "counter.added";
    const VERSION: u32 = 2;
    // v1 stored `{"count": n}`.
    fn upcast(
        from: u32,
        p: serde_json::Value,
    ) -> Result<(u32, serde_json::Value), DecodeErrorKind> {
        match from {
            1 => Ok((2, serde_json::json!({ "n": p["count"] }))),
            _ => Err(DecodeErrorKind::MissingUpcast { from }),
        }
    }
}

#[derive(Debug, Default)]
struct Counter {
    total: i64,
}

impl Aggregate for Counter {
    const NAME: &'static str = "counter";
    type Event = Added;
    fn apply(&mut self, e: &Added) {
        self.total += e.n;
    }
}

#[derive(Clone)]
struct Add(i64);

#[derive(Debug, PartialEq)]
enum CounterError {
    TooBig,
}

impl Handle<Add> for Counter {
    type Error = CounterError;
    async fn handle(&self, cmd: Add) -> Result<Vec<Added>, CounterError> {
        match cmd.0 {
            0 => Ok(vec![]),
            n if self.total + n > 10 => Err(CounterError::TooBig),
            n => Ok(vec![Added { n }]),
        }
    }
}

#[test]
fn given_when_then_passes() {
    AggregateTest::<Counter>::given([Added { n: 4 }])
        .when(Add(5))
        .then([Added { n: 5 }])
        .then_state(|c| assert_eq!(c.total, 9));
    AggregateTest::<Counter>::given([Added { n: 9 }])
        .when(Add(5))
        .then_error(CounterError::TooBig);
    AggregateTest::<Counter>::given_nothing()
        .when(Add(0))
        .then_nothing();
}

#[test]
fn given_raw_stored_events_are_upcast() {
    let test = AggregateTest::<Counter>::given_nothing().and_stored(
        "counter.added",
        1,
        serde_json::json!({ "count": 7 }),
    );
    assert_eq!(test.state().total, 7);
    test.when(Add(4)).then_error(CounterError::TooBig);
}

#[test]
#[should_panic(expected = "the command stored other events")]
fn then_fails_on_other_events() {
    AggregateTest::<Counter>::given_nothing()
        .when(Add(1))
        .then([Added { n: 2 }]);
}

#[test]
#[should_panic(expected = "expected rejection")]
fn then_error_fails_when_the_command_succeeds() {
    AggregateTest::<Counter>::given_nothing()
        .when(Add(1))
        .then_error(CounterError::TooBig);
}

#[test]
#[should_panic(expected = "the command failed")]
fn then_fails_when_the_command_is_rejected() {
    AggregateTest::<Counter>::given([Added { n: 10 }])
        .when(Add(1))
        .then([Added { n: 1 }]);
}

#[test]
#[should_panic(expected = "loading the given events failed")]
fn undecodable_given_events_fail_loudly() {
    AggregateTest::<Counter>::given_nothing()
        .and_stored("counter.added", 3, serde_json::json!({ "n": 1 }))
        .state();
}
