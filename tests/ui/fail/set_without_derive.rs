use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
pub struct Deposited {
    pub amount: i64,
}

#[derive(Debug, Clone)]
pub enum AccountEvent {
    Deposited(Deposited),
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "account", events = AccountEvent)]
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
