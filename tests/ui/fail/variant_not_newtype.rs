use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
pub struct Deposited {
    pub amount: i64,
}

#[derive(Debug, Clone, DomainEvent)]
pub enum AccountEvent {
    Deposited { event: Deposited },
    Closed,
    Both(Deposited, Deposited),
}

fn main() {}
