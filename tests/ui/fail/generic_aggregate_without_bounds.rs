use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "bag.added")]
pub struct Added {
    pub item: String,
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "bag", events = Added)]
pub struct Bag<T: Default> {
    items: Vec<T>,
}

#[event_handler]
impl<T: Default> Bag<T> {
    fn added(&mut self, _: &Added) {
        self.items.clear();
    }
}

fn main() {}
