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
    fn withdrawn(&mut self, e: &Withdrawn) {
        self.balance -= e.amount;
    }
}

#[derive(Clone)]
pub struct Withdraw {
    pub amount: i64,
}

#[derive(Debug)]
pub struct Insufficient;

#[command_handler]
impl Account {
    fn withdraw(&self, cmd: Withdraw) -> Result<Withdrawn, Insufficient> {
        if !self.covers(cmd.amount) {
            return Err(Insufficient);
        }
        Ok(Withdrawn { amount: cmd.amount })
    }

    fn covers(&self, amount: i64) -> bool {
        self.balance >= amount
    }
}

fn main() {}
