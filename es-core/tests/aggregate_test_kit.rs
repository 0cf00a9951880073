//! The given/when/then kit checks what it claims to check, and fails when it should.

use es_core::prelude::*;
use es_core::testing::AggregateTest;
use serde::{Deserialize, Serialize};

/// v1 stored `{"count": n}`.
fn added_v1_to_v2(v1: serde_json::Value) -> Result<serde_json::Value, String> {
    match v1.get("count") {
        Some(count) => Ok(serde_json::json!({ "n": count })),
        None => Err("a v1 `counter.added` has a `count`".to_owned()),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "counter.added", version = 2, upcast(from = 1, with = added_v1_to_v2))]
struct Added {
    n: i64,
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "counter", events = Added)]
struct Counter {
    total: i64,
}

#[event_handler]
impl Counter {
    fn added(&mut self, e: &Added) {
        self.total += e.n;
    }
}

#[derive(Clone)]
struct Add(i64);

#[derive(Debug, PartialEq)]
enum CounterError {
    TooBig,
}

#[command_handler]
impl Counter {
    fn add(&self, cmd: Add) -> Result<Option<Added>, CounterError> {
        match cmd.0 {
            0 => Ok(None),
            n if self.total + n > 10 => Err(CounterError::TooBig),
            n => Ok(Some(Added { n })),
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
