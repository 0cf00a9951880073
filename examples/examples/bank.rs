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

use es_core::{
    Aggregate, DecodeErrorKind, DomainEvent, Event, ExecuteError, Handle, Metadata, Repository,
    Version,
};
use es_sqlite::SqliteStore;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

// ---- events ---------------------------------------------------------------------------------

/// Version 2 added the currency; version-1 events (owner only) are upcast on read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

impl Event for Opened {
    const NAME: &'static str = "account.opened";
    const VERSION: u32 = 2;
    fn upcast(
        from: u32,
        payload: serde_json::Value,
    ) -> Result<(u32, serde_json::Value), DecodeErrorKind> {
        match from {
            1 => opened_v1_to_v2(payload)
                .map(|p| (2, p))
                .map_err(|message| DecodeErrorKind::Upcast { from, message }),
            _ => Err(DecodeErrorKind::MissingUpcast { from }),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Deposited {
    amount: i64,
}
impl Event for Deposited {
    const NAME: &'static str = "account.deposited";
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Withdrawn {
    amount: i64,
}
impl Event for Withdrawn {
    const NAME: &'static str = "account.withdrawn";
}

/// The event set of an account.
#[derive(Debug, Clone, PartialEq)]
enum AccountEvent {
    Opened(Opened),
    Deposited(Deposited),
    Withdrawn(Withdrawn),
}

macro_rules! each_variant {
    ($self:expr, $e:ident => $body:expr) => {
        match $self {
            AccountEvent::Opened($e) => $body,
            AccountEvent::Deposited($e) => $body,
            AccountEvent::Withdrawn($e) => $body,
        }
    };
}

impl DomainEvent for AccountEvent {
    fn event_types() -> Vec<&'static str> {
        [
            Opened::event_types(),
            Deposited::event_types(),
            Withdrawn::event_types(),
        ]
        .concat()
    }
    fn handles(event_type: &str) -> bool {
        Opened::handles(event_type)
            || Deposited::handles(event_type)
            || Withdrawn::handles(event_type)
    }
    fn event_type(&self) -> &'static str {
        each_variant!(self, e => e.event_type())
    }
    fn schema_version(&self) -> u32 {
        each_variant!(self, e => e.schema_version())
    }
    fn to_payload(&self) -> Result<serde_json::Value, serde_json::Error> {
        each_variant!(self, e => e.to_payload())
    }
    fn from_payload(
        event_type: &str,
        schema_version: u32,
        payload: serde_json::Value,
    ) -> Result<Self, DecodeErrorKind> {
        if Opened::handles(event_type) {
            Opened::from_payload(event_type, schema_version, payload).map(Self::Opened)
        } else if Deposited::handles(event_type) {
            Deposited::from_payload(event_type, schema_version, payload).map(Self::Deposited)
        } else if Withdrawn::handles(event_type) {
            Withdrawn::from_payload(event_type, schema_version, payload).map(Self::Withdrawn)
        } else {
            Err(DecodeErrorKind::UnknownType {
                target: "AccountEvent",
            })
        }
    }
}

// ---- the aggregate --------------------------------------------------------------------------

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
struct Account {
    open: bool,
    owner: String,
    currency: String,
    balance: i64,
}

impl Aggregate for Account {
    const NAME: &'static str = "account";
    const SNAPSHOT_EVERY: u64 = 100;
    type Event = AccountEvent;

    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Opened(e) => {
                self.open = true;
                self.owner.clone_from(&e.owner);
                self.currency.clone_from(&e.currency);
            }
            AccountEvent::Deposited(e) => self.balance += e.amount,
            AccountEvent::Withdrawn(e) => self.balance -= e.amount,
        }
    }

    fn to_snapshot(&self) -> Option<Result<serde_json::Value, serde_json::Error>> {
        Some(serde_json::to_value(self))
    }

    fn from_snapshot(state: serde_json::Value) -> Option<Result<Self, serde_json::Error>> {
        Some(serde_json::from_value(state))
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

impl Handle<Open> for Account {
    type Error = AccountError;
    async fn handle(&self, cmd: Open) -> Result<Vec<AccountEvent>, AccountError> {
        if self.open {
            return Err(AccountError::AlreadyOpen);
        }
        Ok(vec![AccountEvent::Opened(Opened {
            owner: cmd.owner,
            currency: cmd.currency,
        })])
    }
}

impl Handle<Deposit> for Account {
    type Error = AccountError;
    async fn handle(&self, cmd: Deposit) -> Result<Vec<AccountEvent>, AccountError> {
        self.check_amount(cmd.amount)?;
        Ok(vec![AccountEvent::Deposited(Deposited {
            amount: cmd.amount,
        })])
    }
}

impl Handle<Withdraw> for Account {
    type Error = AccountError;
    async fn handle(&self, cmd: Withdraw) -> Result<Vec<AccountEvent>, AccountError> {
        self.check_amount(cmd.amount)?;
        if self.balance < cmd.amount {
            return Err(AccountError::InsufficientFunds {
                balance: self.balance,
                requested: cmd.amount,
            });
        }
        Ok(vec![AccountEvent::Withdrawn(Withdrawn {
            amount: cmd.amount,
        })])
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
