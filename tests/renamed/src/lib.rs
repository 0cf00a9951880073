//! An application crate that renamed its `es-core` dependency to `my_es`; every macro is told
//! so with `crate = my_es`. Compiling this crate is the test; `tests/renamed.rs` also runs it.
#![deny(warnings)]

use my_es::prelude::*;
use serde::{Deserialize, Serialize};

/// Money came in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(crate = my_es, name = "wallet.credited", version = 2, upcast(from = 1, with = credited_v1))]
pub struct Credited {
    /// How much.
    pub amount: i64,
}

fn credited_v1(v1: serde_json::Value) -> Result<serde_json::Value, String> {
    Ok(serde_json::json!({ "amount": v1["cents"] }))
}

/// Money went out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(crate = my_es, name = "wallet.debited")]
pub struct Debited {
    /// How much.
    pub amount: i64,
}

/// The events of a wallet.
#[derive(Debug, Clone, PartialEq, DomainEvent)]
#[event(crate = my_es)]
pub enum WalletEvent {
    /// See [`Credited`].
    Credited(Credited),
    /// See [`Debited`].
    Debited(Debited),
}

/// A wallet.
#[derive(Debug, Default, Clone, Serialize, Deserialize, Aggregate)]
#[aggregate(crate = my_es, name = "wallet", events = WalletEvent, snapshot_every = 5)]
pub struct Wallet {
    /// The balance.
    pub balance: i64,
}

#[event_handler(crate = my_es)]
impl Wallet {
    fn credited(&mut self, e: &Credited) {
        self.balance += e.amount;
    }
    fn debited(&mut self, e: &Debited) {
        self.balance -= e.amount;
    }
}

/// Pay `0` out.
#[derive(Debug, Clone)]
pub struct Pay(pub i64);

#[command_handler(crate = my_es)]
impl Wallet {
    async fn pay(&self, cmd: Pay) -> Result<Debited, String> {
        if cmd.0 > self.balance {
            return Err(format!("balance {} is less than {}", self.balance, cmd.0));
        }
        Ok(Debited { amount: cmd.0 })
    }
}

/// Counts credits, as a read model.
#[derive(Debug, Default)]
pub struct Credits {
    /// How many credits were seen.
    pub count: usize,
}

#[event_handler(crate = my_es)]
impl Credits {
    async fn credited(&mut self, _: &Credited, meta: &EventMeta) -> Result<(), std::io::Error> {
        let _ = meta.position;
        self.count += 1;
        Ok(())
    }
}

/// The events of a piggy bank, declared in the compact form.
#[event_set(crate = my_es)]
#[derive(Debug, Clone, PartialEq)]
pub enum PiggyEvent {
    /// A coin went in.
    #[event(name = "piggy.fed", version = 2, upcast(from = 1, with = fed_v1))]
    Fed {
        /// Its value.
        cents: i64,
    },
    /// The piggy bank was broken.
    #[event(name = "piggy.broken")]
    Broken,
}

fn fed_v1(v1: serde_json::Value) -> Result<serde_json::Value, String> {
    Ok(serde_json::json!({ "cents": v1["coin"] }))
}

/// A piggy bank.
#[derive(Debug, Default, Aggregate)]
#[aggregate(crate = my_es, name = "piggy", events = PiggyEvent)]
pub struct Piggy {
    /// What is inside.
    pub cents: i64,
    /// Whether it is broken.
    pub broken: bool,
}

#[event_handler(crate = my_es)]
impl Piggy {
    fn fed(&mut self, e: &Fed) {
        self.cents += e.cents;
    }
    fn broken(&mut self, _: &Broken) {
        self.broken = true;
    }
}

#[command_handler(crate = my_es)]
impl Piggy {
    /// Puts a coin in.
    #[command]
    pub fn feed(&self, cents: i64) -> Result<Fed, String> {
        if self.broken {
            return Err("the piggy bank is broken".into());
        }
        Ok(Fed { cents })
    }
}
