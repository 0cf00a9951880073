//! `#[cfg]` on handler methods: a cfg'd-out method generates nothing, a kept one works.
#![deny(warnings)]

use es_core::prelude::*;
use es_core::testing::AggregateTest;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
pub struct Deposited {
    pub amount: i64,
}

#[cfg(any())]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.audited")]
pub struct Audited {}

#[derive(Debug, Clone, PartialEq, DomainEvent)]
pub enum AccountEvent {
    Deposited(Deposited),
    #[cfg(any())]
    Audited(Audited),
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
    #[cfg(any())]
    fn audited(&mut self, _: &Audited) {}
}

#[derive(Clone)]
pub struct Deposit(i64);

#[cfg(any())]
#[derive(Clone)]
pub struct Audit;

#[command_handler]
impl Account {
    fn deposit(&self, cmd: Deposit) -> Result<Deposited, std::convert::Infallible> {
        Ok(Deposited { amount: cmd.0 })
    }
    #[cfg(any())]
    fn audit(&self, _: Audit) -> Result<Audited, std::convert::Infallible> {
        Ok(Audited {})
    }
}

#[derive(Default)]
pub struct Count(usize);

#[event_handler]
impl Count {
    async fn deposited(&mut self, _: &Deposited, _: &EventMeta) {
        self.0 += 1;
    }
    #[cfg(any())]
    async fn audited(&mut self, _: &Audited, _: &EventMeta) {}
}

fn main() {
    AggregateTest::<Account>::given([Deposited { amount: 5 }])
        .when(Deposit(7))
        .then([Deposited { amount: 7 }])
        .then_state(|account| assert_eq!(account.balance, 12));
    assert_eq!(EventHandler::<()>::event_types(&Count(0)), vec!["account.deposited"]);
}
