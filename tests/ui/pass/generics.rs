//! Generic events, sets, aggregates and handlers.
#![deny(warnings)]

use es_core::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Serde-style: the event impl exists whenever `T` allows it.
#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "list.added")]
pub struct Added<T> {
    pub item: T,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "list.cleared")]
pub struct Cleared {}

#[derive(Debug, Clone, DomainEvent)]
pub enum ListEvent<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    Added(Added<T>),
    Cleared(Cleared),
}

pub trait Item: Clone + Default + Serialize + DeserializeOwned + Send + Sync + 'static {}
impl<T: Clone + Default + Serialize + DeserializeOwned + Send + Sync + 'static> Item for T {}

#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "list", events = ListEvent<T>)]
pub struct List<T: Item> {
    pub items: Vec<T>,
}

#[event_handler]
impl<T: Item> List<T> {
    fn added(&mut self, e: &Added<T>) {
        self.items.push(e.item.clone());
    }
    fn cleared(&mut self, _: &Cleared) {
        self.items.clear();
    }
}

pub struct Add<T>(pub T);

#[command_handler]
impl<T: Item> List<T> {
    fn add(&self, cmd: Add<T>) -> Result<Added<T>, std::convert::Infallible> {
        Ok(Added { item: cmd.0 })
    }
}

/// A generic read model.
#[derive(Default)]
pub struct Count<T> {
    pub n: usize,
    _marker: std::marker::PhantomData<fn() -> T>,
}

#[event_handler]
impl<T: Item> Count<T> {
    async fn added(&mut self, _: &Added<T>) {
        self.n += 1;
    }
}

fn main() {
    let mut list = List::<u8>::default();
    Aggregate::apply(&mut list, &ListEvent::Added(Added { item: 3 }));
    assert_eq!(list.items, [3]);
    let count = Count::<u8>::default();
    assert_eq!(EventHandler::<()>::event_types(&count), ["list.added"]);
}
