//! The bank example: accounts as event-sourced aggregates in an embedded SQLite file.
//!
//! ```sh
//! cargo run -p examples --example bank              # data in target/es-examples/bank.db
//! cargo run -p examples --example bank -- --db my.db
//! ```
//!
//! Every run opens the accounts if needed, deposits and withdraws (one withdrawal is rejected for
//! insufficient funds), prints the balances, one account's state as of an earlier version, and the
//! account's history. A second run continues from the events the first one stored.

use es_core::prelude::*;
use es_sqlite::SqliteStore;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

// ---- events ---------------------------------------------------------------------------------

/// Version 2 added the currency; version-1 events (owner only) are upcast on read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.opened", version = 2, upcast(from = 1, with = opened_v1_to_v2))]
struct Opened {
    owner: String,
    currency: String,
}

fn opened_v1_to_v2(mut v1: serde_json::Value) -> Result<serde_json::Value, String> {
    let obj = v1
        .as_object_mut()
        .ok_or("an Opened event must be a JSON object")?;
    obj.insert("currency".into(), "EUR".into());
    Ok(v1)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
struct Deposited {
    amount: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.withdrawn")]
struct Withdrawn {
    amount: i64,
}

/// The event set of an account.
#[derive(Debug, Clone, PartialEq, DomainEvent)]
enum AccountEvent {
    Opened(Opened),
    Deposited(Deposited),
    Withdrawn(Withdrawn),
}

// ---- the aggregate --------------------------------------------------------------------------

#[derive(Debug, Default, Clone, Serialize, Deserialize, Aggregate)]
#[aggregate(name = "account", events = AccountEvent, snapshot_every = 100)]
struct Account {
    open: bool,
    owner: String,
    currency: String,
    balance: i64,
}

#[event_handler]
impl Account {
    fn opened(&mut self, e: &Opened) {
        self.open = true;
        self.owner.clone_from(&e.owner);
        self.currency.clone_from(&e.currency);
    }

    fn deposited(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }

    fn withdrawn(&mut self, e: &Withdrawn) {
        self.balance -= e.amount;
    }
}

// ---- commands -------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Open {
    owner: String,
    currency: String,
}

#[derive(Debug, Clone)]
struct Deposit {
    amount: i64,
}

#[derive(Debug, Clone)]
struct Withdraw {
    amount: i64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum AccountError {
    #[error("the account is already open")]
    AlreadyOpen,
    #[error("the account is not open")]
    NotOpen,
    #[error("amounts must be positive, got {0}")]
    InvalidAmount(i64),
    #[error("insufficient funds: balance {balance}, requested {requested}")]
    InsufficientFunds { balance: i64, requested: i64 },
}

impl Account {
    fn check_amount(&self, amount: i64) -> Result<(), AccountError> {
        if !self.open {
            return Err(AccountError::NotOpen);
        }
        if amount <= 0 {
            return Err(AccountError::InvalidAmount(amount));
        }
        Ok(())
    }
}

#[command_handler]
impl Account {
    fn open(&self, cmd: Open) -> Result<Opened, AccountError> {
        if self.open {
            return Err(AccountError::AlreadyOpen);
        }
        Ok(Opened {
            owner: cmd.owner,
            currency: cmd.currency,
        })
    }

    fn deposit(&self, cmd: Deposit) -> Result<Deposited, AccountError> {
        self.check_amount(cmd.amount)?;
        Ok(Deposited { amount: cmd.amount })
    }

    fn withdraw(&self, cmd: Withdraw) -> Result<Withdrawn, AccountError> {
        self.check_amount(cmd.amount)?;
        if self.balance < cmd.amount {
            return Err(AccountError::InsufficientFunds {
                balance: self.balance,
                requested: cmd.amount,
            });
        }
        Ok(Withdrawn { amount: cmd.amount })
    }
}

// ---- the application ------------------------------------------------------------------------

fn db_path() -> Result<PathBuf, String> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None, _) => Ok(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/es-examples/bank.db"
        ))),
        (Some("--db"), Some(path)) => Ok(PathBuf::from(path)),
        _ => Err("usage: bank [--db PATH]".into()),
    }
}

fn by(actor: &str) -> Metadata {
    Metadata::new().with_actor(actor)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let path = db_path()?;
    let store = SqliteStore::open(&path).await?;
    let shown = path.canonicalize().unwrap_or(path);
    println!("bank: events in {}", shown.display());
    let accounts = Repository::<Account, _>::new(store);

    for (id, owner) in [("alice", "Alice"), ("bob", "Bob")] {
        let open = Open {
            owner: owner.into(),
            currency: "EUR".into(),
        };
        match accounts.execute_with(id, open, by("teller")).await {
            Ok(_) => println!("opened account {id} for {owner}"),
            Err(ExecuteError::Rejected(AccountError::AlreadyOpen)) => {
                println!("account {id} is already open (continuing from stored events)")
            }
            Err(e) => return Err(e.into()),
        }
    }

    accounts
        .execute_with("alice", Deposit { amount: 100 }, by("alice"))
        .await?;
    accounts
        .execute_with("alice", Withdraw { amount: 30 }, by("atm-17"))
        .await?;
    accounts
        .execute_with("bob", Deposit { amount: 50 }, by("bob"))
        .await?;
    match accounts
        .execute_with("bob", Withdraw { amount: 80 }, by("bob"))
        .await
    {
        Err(ExecuteError::Rejected(e)) => println!("bob's withdrawal of 80 was rejected: {e}"),
        Ok(_) => println!("bob withdrew 80"),
        Err(e) => return Err(e.into()),
    }

    println!("\nbalances:");
    for id in ["alice", "bob"] {
        let acc = accounts.load_versioned(id).await?;
        println!(
            "  {id:<6} {:>6} {}  (owner {}, version {})",
            acc.state.balance, acc.state.currency, acc.state.owner, acc.version
        );
    }

    let then = accounts.load_at("alice", Version(2)).await?;
    println!(
        "\nalice as of version 2: balance {} {}",
        then.balance, then.currency
    );

    println!("\nalice's history:");
    println!(
        "  {:>3}  {:<27}  {:<18}  {:<7}  event",
        "ver", "recorded at (UTC)", "type", "actor"
    );
    for envelope in accounts.history("alice").await? {
        let m = &envelope.meta;
        let detail = match &envelope.event {
            AccountEvent::Opened(e) => format!("owner {}, {}", e.owner, e.currency),
            AccountEvent::Deposited(e) => format!("+{}", e.amount),
            AccountEvent::Withdrawn(e) => format!("-{}", e.amount),
        };
        println!(
            "  {:>3}  {:<27}  {:<18}  {:<7}  {detail}",
            m.version,
            m.recorded_at.format("%Y-%m-%d %H:%M:%S%.6f"),
            m.event_type,
            m.metadata.actor.as_deref().unwrap_or("-"),
        );
    }
    Ok(())
}
