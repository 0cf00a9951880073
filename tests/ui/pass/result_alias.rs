//! A crate-level `Result` alias with a default error type in command handlers.
#![deny(warnings)]

use es_core::prelude::*;
use es_core::testing::AggregateTest;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq)]
pub enum BankError {
    Insufficient { balance: i64 },
}

pub type Result<T, E = BankError> = std::result::Result<T, E>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
pub struct Deposited {
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.withdrawn")]
pub struct Withdrawn {
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, DomainEvent)]
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
pub struct Withdraw(i64);

#[derive(Clone)]
pub struct Deposit(i64);

#[command_handler]
impl Account {
    fn withdraw(&self, cmd: Withdraw) -> Result<Withdrawn> {
        if cmd.0 > self.balance {
            return Err(BankError::Insufficient { balance: self.balance });
        }
        Ok(Withdrawn { amount: cmd.0 })
    }

    async fn deposit(&self, cmd: Deposit) -> Result<Vec<Deposited>, std::convert::Infallible> {
        Ok(vec![Deposited { amount: cmd.0 }])
    }
}

fn main() {
    AggregateTest::<Account>::given([Deposited { amount: 5 }])
        .when(Withdraw(7))
        .then_error(BankError::Insufficient { balance: 5 });
    AggregateTest::<Account>::given([Deposited { amount: 5 }])
        .when(Withdraw(3))
        .then([Withdrawn { amount: 3 }]);
    AggregateTest::<Account>::given_nothing()
        .when(Deposit(2))
        .then([Deposited { amount: 2 }]);
}
