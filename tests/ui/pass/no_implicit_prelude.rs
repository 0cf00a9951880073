//! Generated code names every path absolutely: it compiles in a `#![no_implicit_prelude]` crate.
#![no_implicit_prelude]
#![deny(warnings)]

use ::es_core::prelude::*;
use ::serde::{Deserialize, Serialize};
use ::std::clone::Clone;
use ::std::cmp::PartialEq;
use ::std::default::Default;
use ::std::fmt::Debug;
use ::std::convert::Into;
use ::std::result::Result::{self, Ok};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened", version = 2, upcast(from = 1, with = opened_v1))]
pub struct Opened {
    pub owner: ::std::string::String,
}

fn opened_v1(v: ::es_core::serde_json::Value) -> Result<::es_core::serde_json::Value, ::std::io::Error> {
    Ok(v)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
pub struct Deposited {
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, DomainEvent)]
pub enum AccountEvent {
    Opened(Opened),
    Deposited(Deposited),
}

#[derive(Debug, Default, Serialize, Deserialize, Aggregate)]
#[aggregate(name = "account", events = AccountEvent, snapshot_every = 10)]
pub struct Account {
    balance: i64,
}

#[event_handler]
impl Account {
    fn opened(&mut self, _: &Opened) {}
    fn deposited(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
}

#[derive(Clone)]
pub struct Deposit(i64);

#[command_handler]
impl Account {
    async fn deposit(&self, cmd: Deposit) -> Result<::std::vec::Vec<AccountEvent>, ::std::convert::Infallible> {
        Ok(::std::vec![Deposited { amount: cmd.0 }.into()])
    }
}

#[derive(Default)]
pub struct Total(i64);

#[event_handler]
impl Total {
    async fn deposited(&mut self, e: &Deposited, _: &EventMeta) -> Result<(), ::std::io::Error> {
        self.0 += e.amount;
        Ok(())
    }
    async fn any(&mut self, _: &Opened, _: &mut ::std::vec::Vec<i64>) {}
}

fn main() {
    ::es_core::testing::AggregateTest::<Account>::given([Deposited { amount: 5 }])
        .when(Deposit(7))
        .then([Deposited { amount: 7 }])
        .then_state(|account| ::std::assert_eq!(account.balance, 12));
}
