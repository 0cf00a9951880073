use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "", aliases = [" "])]
pub struct Deposited {
    pub amount: i64,
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "", events = Deposited)]
pub struct Account {
    balance: i64,
}

#[event_handler]
impl Account {
    fn deposited(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
}

fn main() {}
