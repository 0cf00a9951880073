use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
pub struct Deposited {
    pub amount: i64,
}

#[derive(Debug, Clone, DomainEvent)]
#[event(name = "account.events", version = 2)]
pub enum AccountEvent {
    Deposited(Deposited),
}

fn main() {}
