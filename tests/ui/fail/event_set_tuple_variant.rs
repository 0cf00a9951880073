use es_core::prelude::*;

#[event_set]
#[derive(Debug, Clone)]
pub enum AccountEvent {
    #[event(name = "account.opened")]
    Opened { owner: String },
    #[event(name = "account.moved")]
    Moved(String, String),
    #[event(name = "account.closed")]
    Closed = 3,
}

fn main() {}
