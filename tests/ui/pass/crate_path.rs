//! `crate = path` on every macro (here the ordinary path; `tests/renamed` uses a renamed crate).
#![deny(warnings)]

use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(crate = ::es_core, name = "c.added")]
pub struct Added {
    pub n: i64,
}

#[derive(Debug, Clone, DomainEvent)]
#[event(crate = "es_core")]
pub enum CounterEvent {
    Added(Added),
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(crate = es_core, events = CounterEvent)]
pub struct Counter {
    pub n: i64,
}

#[event_handler(crate = ::es_core)]
impl Counter {
    fn added(&mut self, e: &Added) {
        self.n += e.n;
    }
}

pub struct Add(pub i64);

#[command_handler(crate = ::es_core)]
impl Counter {
    fn add(&self, cmd: Add) -> Result<Added, std::convert::Infallible> {
        Ok(Added { n: cmd.0 })
    }
}

fn main() {
    let mut c = Counter::default();
    Aggregate::apply(&mut c, &CounterEvent::Added(Added { n: 2 }));
    assert_eq!(c.n, 2);
}
