use es_core::prelude::*;

#[event_set]
#[derive(Debug, Clone)]
pub enum ListEvent<T> {
    #[event(name = "list.added")]
    Added { item: T },
}

fn main() {}
