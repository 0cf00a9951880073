use es_core::prelude::*;

#[event_set]
#[derive(Debug, Clone)]
pub struct Opened {
    pub owner: String,
}

fn main() {}
