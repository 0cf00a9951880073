//! The bank example: accounts as event-sourced aggregates, and a read model of balances that a
//! projection keeps in the same database, exactly once.
//!
//! ```sh
//! cargo run -p examples --example bank              # SQLite: target/es-examples/bank.db
//! cargo run -p examples --example bank -- --db my.db
//! DATABASE_URL=postgres://postgres@127.0.0.1/es_test cargo run -p examples --example bank
//! ```
//!
//! Without `DATABASE_URL` the events live in an embedded SQLite file; with it, in PostgreSQL
//! (schema `bank_example`). Nothing else changes: the application code is generic over the store.
//! Every run opens the accounts if needed, deposits and withdraws (one withdrawal is rejected for
//! insufficient funds), transfers between accounts (both sides in one transaction, or neither when
//! the sender lacks the funds), prints the balances, one account's state as of an earlier version, the
//! account's history, and the balances read model. A second run continues from the stored events.

use es_core::prelude::*;
use es_core::{Projection, ProjectionRunner, ProjectionStore, RunnerState};
use es_postgres::{PgStore, PgTx};
use es_sqlite::{SqliteStore, SqliteTx};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
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

/// One side of a transfer between two accounts, executed together with the other side (see
/// `Repository::execute_together`): both are stored in one transaction, or neither.
#[derive(Debug, Clone)]
enum TransferLeg {
    Out(i64),
    In(i64),
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

    fn transfer(&self, cmd: TransferLeg) -> Result<AccountEvent, AccountError> {
        match cmd {
            TransferLeg::Out(amount) => self.withdraw(Withdraw { amount }).map(Into::into),
            TransferLeg::In(amount) => self.deposit(Deposit { amount }).map(Into::into),
        }
    }
}

// ---- the read model -------------------------------------------------------------------------

/// Balances per account. The handler methods only add up a batch's changes in memory (they work
/// with any store's transaction); `flush` writes them with one statement per account, in the
/// transaction that also commits the projection's checkpoint.
struct Balances {
    /// The table's name, qualified as its database needs.
    table: String,
    pending: BTreeMap<String, i64>,
}

#[event_handler]
impl Balances {
    fn deposited(&mut self, e: &Deposited, meta: &EventMeta) {
        *self.pending.entry(meta.stream_id.to_string()).or_default() += e.amount;
    }

    fn withdrawn(&mut self, e: &Withdrawn, meta: &EventMeta) {
        *self.pending.entry(meta.stream_id.to_string()).or_default() -= e.amount;
    }
}

/// Where the balances table lives: the same database as the events.
trait BalanceTable: ProjectionStore {
    fn table(&self) -> String;
    async fn create_table(&self) -> Result<(), sqlx::Error>;
    async fn balances(&self) -> Result<Vec<(String, i64)>, sqlx::Error>;
}

impl BalanceTable for SqliteStore {
    fn table(&self) -> String {
        "account_balances".into()
    }

    async fn create_table(&self) -> Result<(), sqlx::Error> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS account_balances (account TEXT PRIMARY KEY, balance INTEGER NOT NULL)",
        )
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn balances(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        sqlx::query_as("SELECT account, balance FROM account_balances ORDER BY account")
            .fetch_all(self.pool())
            .await
    }
}

#[async_trait]
impl<'c> Projection<SqliteTx<'c>> for Balances {
    fn name(&self) -> &str {
        "account-balances"
    }

    async fn flush(&mut self, tx: &mut SqliteTx<'c>) -> Result<(), es_core::HandlerError> {
        for (account, delta) in std::mem::take(&mut self.pending) {
            sqlx::query(
                "INSERT INTO account_balances (account, balance) VALUES (?1, ?2)
                 ON CONFLICT (account) DO UPDATE SET balance = balance + excluded.balance",
            )
            .bind(account)
            .bind(delta)
            .execute(&mut **tx)
            .await
            .map_err(es_core::HandlerError::failed)?;
        }
        Ok(())
    }

    fn on_abort(&mut self) {
        self.pending.clear();
    }
}

impl BalanceTable for PgStore {
    fn table(&self) -> String {
        format!("{}.account_balances", self.schema().quoted())
    }

    async fn create_table(&self) -> Result<(), sqlx::Error> {
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} (account text PRIMARY KEY, balance bigint NOT NULL)",
            self.table()
        );
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(self.pool())
            .await?;
        Ok(())
    }

    async fn balances(&self) -> Result<Vec<(String, i64)>, sqlx::Error> {
        let sql = format!(
            "SELECT account, balance FROM {} ORDER BY account",
            self.table()
        );
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(self.pool())
            .await
    }
}

#[async_trait]
impl<'c> Projection<PgTx<'c>> for Balances {
    fn name(&self) -> &str {
        "account-balances"
    }

    /// One statement for the whole batch: the accounts and their changes as two arrays.
    async fn flush(&mut self, tx: &mut PgTx<'c>) -> Result<(), es_core::HandlerError> {
        let (accounts, deltas): (Vec<String>, Vec<i64>) =
            std::mem::take(&mut self.pending).into_iter().unzip();
        let sql = format!(
            "INSERT INTO {} AS b (account, balance)
             SELECT * FROM unnest($1::text[], $2::bigint[])
             ON CONFLICT (account) DO UPDATE SET balance = b.balance + excluded.balance",
            self.table
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(accounts)
            .bind(deltas)
            .execute(&mut **tx)
            .await
            .map_err(es_core::HandlerError::failed)?;
        Ok(())
    }

    fn on_abort(&mut self) {
        self.pending.clear();
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
    // One line picks the adapter; `run` is the same for both.
    match std::env::var("DATABASE_URL") {
        Ok(url) => {
            let store = PgStore::builder()
                .schema("bank_example")
                .connect(&url)
                .await?;
            println!("bank: events in PostgreSQL, schema bank_example");
            run(store).await
        }
        Err(_) => {
            let path = db_path()?;
            let store = SqliteStore::open(&path).await?;
            let shown = path.canonicalize().unwrap_or(path);
            println!("bank: events in {}", shown.display());
            run(store).await
        }
    }
}

async fn run<S>(store: S) -> Result<(), Box<dyn std::error::Error>>
where
    S: EventStore + SnapshotStore + BalanceTable + Clone + 'static,
    Balances: Projection<S::Tx>,
{
    store.create_table().await?;
    let balances = ProjectionRunner::new(
        store.clone(),
        store.clone(),
        Balances {
            table: store.table(),
            pending: BTreeMap::new(),
        },
    )
    .spawn();
    let accounts = Repository::<Account, _>::new(store.clone());
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

    // A transfer: both accounts' events in one transaction, each guarded by its version.
    for (from, to, amount) in [("alice", "bob", 10), ("bob", "alice", 1000)] {
        let legs = [
            (from, TransferLeg::Out(amount)),
            (to, TransferLeg::In(amount)),
        ];
        match accounts.execute_together_with(legs, by("teller")).await {
            Ok(_) => println!("transferred {amount} from {from} to {to}"),
            Err(ExecuteError::Rejected(e)) => {
                println!(
                    "transfer of {amount} from {from} to {to} refused, neither side stored: {e}"
                )
            }
            Err(e) => return Err(e.into()),
        }
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

    // The read model follows the log; wait until it has this run's events, then query it.
    let head = store.head_position().await?;
    let status = balances
        .wait_for(|s| s.state == RunnerState::Live && s.checkpoint.position >= head)
        .await;
    balances.stop().await?;
    println!(
        "\nbalances read model (projected up to position {}):",
        status.checkpoint.position
    );
    for (account, balance) in store.balances().await? {
        println!("  {account:<14} {balance:>6}");
    }
    Ok(())
}
