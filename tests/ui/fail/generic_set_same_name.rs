use es_core::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "list.added")]
pub struct Added<T> {
    pub item: T,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "list.added")]
pub struct Appended {
    pub text: String,
}

#[derive(Debug, Clone, DomainEvent)]
pub enum ListEvent<T>
where
    T: Serialize + DeserializeOwned + Send + Sync + 'static,
{
    Added(Added<T>),
    Appended(Appended),
}

fn main() {
    let _ = <ListEvent<u32> as DomainEvent>::event_types();
}
