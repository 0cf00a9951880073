use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.audited")]
pub struct Audited {}

#[event_set]
#[derive(Debug, Clone)]
pub enum AccountEvent {
    #[event(name = "account.opened")]
    Opened { owner: String },
    #[event(name = "account.checked")]
    Audited(Audited),
}

fn main() {}
