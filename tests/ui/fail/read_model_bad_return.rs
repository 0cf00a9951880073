use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
pub struct Deposited {
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.withdrawn")]
pub struct Withdrawn {
    pub amount: i64,
}

#[derive(Debug, Clone, DomainEvent)]
pub enum AccountEvent {
    Deposited(Deposited),
    Withdrawn(Withdrawn),
}

#[derive(Default)]
pub struct Totals {
    sum: i64,
}

#[event_handler]
impl Totals {
    async fn deposited(&mut self, e: &Deposited) -> i64 {
        self.sum += e.amount;
        self.sum
    }
}

fn main() {}
