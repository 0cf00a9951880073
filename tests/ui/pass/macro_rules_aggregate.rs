//! `#[derive(Aggregate)]` and its attribute produced by a `macro_rules!` macro (mixed hygiene).
#![deny(warnings)]

use es_core::prelude::*;
use es_core::testing::AggregateTest;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "bank.deposited")]
pub struct Deposited {
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, DomainEvent)]
pub enum BankEvent {
    Deposited(Deposited),
}

macro_rules! aggregate {
    ($name:ident, $events:ty, $every:literal) => {
        #[derive(Debug, Default, Serialize, Deserialize, Aggregate)]
        #[aggregate(events = $events, snapshot_every = $every)]
        pub struct $name {
            balance: i64,
        }

        #[event_handler]
        impl $name {
            fn deposited(&mut self, e: &Deposited) {
                self.balance += e.amount;
            }
        }
    };
}

macro_rules! fixed_aggregate {
    ($name:ident) => {
        #[derive(Debug, Default, Serialize, Deserialize, Aggregate)]
        #[aggregate(events = BankEvent, snapshot_every = 100)]
        pub struct $name {
            balance: i64,
        }

        #[event_handler]
        impl $name {
            fn deposited(&mut self, e: &Deposited) {
                self.balance += e.amount;
            }
        }
    };
}

aggregate!(Bank, BankEvent, 100);
fixed_aggregate!(Vault);

fn main() {
    let bank = AggregateTest::<Bank>::given([Deposited { amount: 5 }, Deposited { amount: 2 }]);
    assert_eq!(bank.state().balance, 7);
    let vault = AggregateTest::<Vault>::given([Deposited { amount: 3 }]);
    assert_eq!(vault.state().balance, 3);
    assert_eq!(<Bank as Aggregate>::SNAPSHOT_EVERY, 100);
    assert_eq!(<Vault as Aggregate>::NAME, "Vault");
}
