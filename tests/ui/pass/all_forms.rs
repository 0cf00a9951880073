//! Every attribute key and every handler form, under `deny(warnings)`.
#![deny(warnings)]

use es_core::prelude::*;
use serde::{Deserialize, Serialize};

fn v1_to_v2(v: serde_json::Value) -> Result<serde_json::Value, std::io::Error> {
    Ok(v)
}

#[derive(Debug, Deserialize)]
pub struct OpenedV2 {
    pub owner: String,
}

#[derive(Debug, Deserialize, Serialize)]
pub struct OpenedV3 {
    pub owner: String,
    pub currency: String,
}

impl From<OpenedV2> for OpenedV3 {
    fn from(v: OpenedV2) -> Self {
        OpenedV3 { owner: v.owner, currency: "EUR".into() }
    }
}

impl From<OpenedV3> for Opened {
    fn from(v: OpenedV3) -> Self {
        Opened { owner: v.owner, currency: v.currency, vip: false }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(
    name = "account.opened",
    version = 4,
    aliases = ["opened", "acct.opened"],
    upcast(from = 1, with = v1_to_v2),
    upcast(from = 2, via = OpenedV2),
    upcast(from = 3, via = OpenedV3),
)]
pub struct Opened {
    pub owner: String,
    pub currency: String,
    pub vip: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
pub struct Deposited {
    pub amount: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.noted")]
pub struct Noted {}

#[derive(Debug, Clone, PartialEq, DomainEvent)]
pub enum AccountEvent {
    Opened(Opened),
    Deposited(Deposited),
    Noted(Noted),
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, Aggregate)]
#[aggregate(
    name = "account",
    events = AccountEvent,
    snapshot_every = 50,
    snapshot_version = 3,
    ignore(Noted)
)]
pub struct Account {
    pub open: bool,
    pub balance: i64,
}

#[event_handler]
impl Account {
    fn opened(&mut self, _: &Opened) {
        self.open = true;
    }
    fn deposited(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
}

pub struct Open(pub String);
pub struct Deposit(pub i64);
pub struct DepositMany(pub Vec<i64>);
pub struct Note;
pub struct Nothing;
pub struct MaybeDeposit(pub i64);
pub struct Mixed;

#[derive(Debug)]
pub struct Rejected;

#[command_handler]
impl Account {
    fn open(&self, cmd: Open) -> Result<Opened, Rejected> {
        Ok(Opened { owner: cmd.0, currency: "EUR".into(), vip: false })
    }
    async fn deposit(&self, cmd: Deposit) -> Result<Deposited, Rejected> {
        Ok(Deposited { amount: cmd.0 })
    }
    fn deposit_many(&self, cmd: DepositMany) -> Result<Vec<Deposited>, Rejected> {
        Ok(cmd.0.into_iter().map(|amount| Deposited { amount }).collect())
    }
    fn note(&self, _: Note) -> Result<AccountEvent, std::convert::Infallible> {
        Ok(AccountEvent::Noted(Noted {}))
    }
    fn nothing(&self, _: Nothing) -> Result<(), Rejected> {
        Ok(())
    }
    fn maybe(&self, cmd: MaybeDeposit) -> Result<Option<Deposited>, Rejected> {
        Ok((cmd.0 > 0).then_some(Deposited { amount: cmd.0 }))
    }
    fn mixed(&self, _: Mixed) -> Result<Vec<AccountEvent>, Rejected> {
        Ok(vec![Noted {}.into(), Deposited { amount: 1 }.into()])
    }
}

fn main() {
    let v1 = serde_json::json!({ "owner": "Ann" });
    let opened = Opened::from_payload("opened", 1, v1).unwrap();
    assert_eq!(opened.currency, "EUR");
    assert_eq!(<Account as Aggregate>::SNAPSHOT_VERSION, 3);
    assert_eq!(<Deposited as Event>::NAME, "Deposited");
}
