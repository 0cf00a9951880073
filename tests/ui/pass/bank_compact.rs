//! The bank domain of examples/bank.rs (3 events with an upcast, 3 commands, the error type,
//! the aggregate with snapshots) in the compact forms: `#[event_set]` and `#[command]`.
#![deny(warnings)]

use es_core::prelude::*;
use es_core::testing::AggregateTest;
use serde::{Deserialize, Serialize};

// domain: begin
#[event_set]
#[derive(Debug, Clone, PartialEq)]
pub enum AccountEvent {
    #[event(name = "account.opened", version = 2, upcast(from = 1, with = opened_v1_to_v2))]
    Opened { owner: String, currency: String },
    #[event(name = "account.deposited")]
    Deposited { amount: i64 },
    #[event(name = "account.withdrawn")]
    Withdrawn { amount: i64 },
}

fn opened_v1_to_v2(mut v1: serde_json::Value) -> Result<serde_json::Value, String> {
    let obj = v1.as_object_mut().ok_or("an Opened event must be a JSON object")?;
    obj.insert("currency".into(), "EUR".into());
    Ok(v1)
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AccountError {
    #[error("the account is already open")]
    AlreadyOpen,
    #[error("the account is not open")]
    NotOpen,
    #[error("amounts must be positive, got {0}")]
    InvalidAmount(i64),
    #[error("insufficient funds: balance {balance}, requested {requested}")]
    InsufficientFunds { balance: i64, requested: i64 },
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, Aggregate)]
#[aggregate(name = "account", events = AccountEvent, snapshot_every = 100)]
pub struct Account { open: bool, owner: String, currency: String, balance: i64 }

#[event_handler]
impl Account {
    fn opened(&mut self, e: &Opened) {
        (self.open, self.owner, self.currency) = (true, e.owner.clone(), e.currency.clone());
    }
    fn deposited(&mut self, e: &Deposited) { self.balance += e.amount }
    fn withdrawn(&mut self, e: &Withdrawn) { self.balance -= e.amount }
}

#[command_handler]
impl Account {
    #[command]
    pub fn open(&self, owner: String, currency: String) -> Result<Opened, AccountError> {
        if self.open { return Err(AccountError::AlreadyOpen) }
        Ok(Opened { owner, currency })
    }
    #[command]
    pub fn deposit(&self, amount: i64) -> Result<Deposited, AccountError> {
        self.check_amount(amount).map(|()| Deposited { amount })
    }
    #[command]
    pub fn withdraw(&self, amount: i64) -> Result<Withdrawn, AccountError> {
        self.check_amount(amount)?;
        if self.balance < amount {
            return Err(AccountError::InsufficientFunds { balance: self.balance, requested: amount });
        }
        Ok(Withdrawn { amount })
    }
}

impl Account {
    fn check_amount(&self, amount: i64) -> Result<(), AccountError> {
        if !self.open { return Err(AccountError::NotOpen) }
        if amount <= 0 { return Err(AccountError::InvalidAmount(amount)) }
        Ok(())
    }
}
// domain: end

fn main() {
    let opened = Opened { owner: "Ann".into(), currency: "EUR".into() };
    AggregateTest::<Account>::given_nothing()
        .when(Open { owner: "Ann".into(), currency: "EUR".into() })
        .then([opened.clone()]);
    AggregateTest::<Account>::given([AccountEvent::from(opened.clone()), Deposited { amount: 50 }.into()])
        .when(Withdraw { amount: 80 })
        .then_error(AccountError::InsufficientFunds { balance: 50, requested: 80 });
    AggregateTest::<Account>::given([opened.clone()])
        .when(Deposit { amount: -1 })
        .then_error(AccountError::InvalidAmount(-1));
    AggregateTest::<Account>::given_nothing()
        .when(Deposit { amount: 5 })
        .then_error(AccountError::NotOpen);
    let v1 = AggregateTest::<Account>::given_nothing()
        .and_stored("account.opened", 1, serde_json::json!({ "owner": "Bo" }));
    assert_eq!(v1.state().currency, "EUR");
    assert_eq!(<Opened as Event>::VERSION, 2);
}
