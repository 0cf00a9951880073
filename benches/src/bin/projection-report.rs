//! Catch-up throughput of a projection: 100,000 stored deposits over 1,000 accounts, projected
//! into a balances table in the same database, exactly-once (the handler's writes and the
//! checkpoint commit in one transaction per batch). The handler buffers a batch and writes it
//! in `flush` with one multi-row upsert.
//!
//! ```text
//! cargo run --release -p es-bench --bin projection-report            # SQLite (a temp file)
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/es_test \
//!   cargo run --release -p es-bench --bin projection-report            # and PostgreSQL
//! cargo run --release -p es-bench --bin projection-report -- 200000  # another event count
//! cargo run --release -p es-bench --bin projection-report -- --no-analyze  # no ANALYZE after the load
//! ```
//!
//! Prints events/s for a few batch sizes. On PostgreSQL it works in a fresh schema, dropped at the
//! end.

use async_trait::async_trait;
use es_core::{
    EventHandler, EventStore, ExpectedVersion, HandlerError, NewEvent, Projection,
    ProjectionRunner, RecordedEvent, StreamId,
};
use es_postgres::{PgStore, PgTx};
use es_sqlite::{SqliteStore, SqliteTx};
use sqlx::AssertSqlSafe;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Adds a deposit to the batch's pending per-account sums (both stores' handlers).
fn add_deposit(pending: &mut HashMap<String, i64>, e: &RecordedEvent) -> Result<(), HandlerError> {
    let amount = e.payload["amount"]
        .as_i64()
        .ok_or_else(|| HandlerError::failed("a deposit without an amount"))?;
    *pending.entry(e.meta.stream_id.to_string()).or_insert(0) += amount;
    Ok(())
}

const ACCOUNTS: usize = 1_000;
const DEPOSITED: &str = "account.deposited";

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Balances per account, written once per batch.
struct Balances {
    name: String,
    pending: HashMap<String, i64>,
}

impl Balances {
    fn new(name: String) -> Self {
        Self {
            name,
            pending: HashMap::new(),
        }
    }
}

#[async_trait]
impl<'c> EventHandler<SqliteTx<'c>> for Balances {
    fn event_types(&self) -> Vec<&'static str> {
        vec![DEPOSITED]
    }

    async fn handle(
        &mut self,
        e: &RecordedEvent,
        _: &mut SqliteTx<'c>,
    ) -> Result<(), HandlerError> {
        add_deposit(&mut self.pending, e)
    }
}

#[async_trait]
impl<'c> Projection<SqliteTx<'c>> for Balances {
    fn name(&self) -> &str {
        &self.name
    }

    async fn flush(&mut self, tx: &mut SqliteTx<'c>) -> Result<(), HandlerError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        // One statement per batch: the accounts as a JSON array of [account, delta].
        let rows: Vec<(&String, &i64)> = self.pending.iter().collect();
        let json = serde_json::to_string(&rows).map_err(HandlerError::failed)?;
        sqlx::query(
            "INSERT INTO balances (account, balance)
             SELECT value ->> 0, value ->> 1 FROM json_each(?1) WHERE true
             ON CONFLICT (account) DO UPDATE SET balance = balance + excluded.balance",
        )
        .bind(json)
        .execute(&mut **tx)
        .await
        .map_err(HandlerError::failed)?;
        self.pending.clear();
        Ok(())
    }

    fn on_abort(&mut self) {
        self.pending.clear();
    }
}

async fn seed(store: &impl EventStore, events: usize) -> Result<(), Error> {
    let per_append = 100;
    for chunk in 0..events.div_ceil(per_append) {
        let stream = StreamId::new(format!("account-{}", chunk % ACCOUNTS))?;
        let batch = (0..per_append.min(events - chunk * per_append))
            .map(|_| NewEvent::raw(DEPOSITED, 1, serde_json::json!({ "amount": 1 })))
            .collect();
        store.append(&stream, ExpectedVersion::Any, batch).await?;
    }
    Ok(())
}

async fn sqlite(events: usize) -> Result<(), Error> {
    let dir = std::env::temp_dir().join(format!("es-projection-report-{}", uuid::Uuid::now_v7()));
    let store = SqliteStore::open(dir.join("report.db")).await?;
    sqlx::query("CREATE TABLE balances (account TEXT PRIMARY KEY, balance INTEGER NOT NULL)")
        .execute(store.pool())
        .await?;
    let started = Instant::now();
    seed(&store, events).await?;
    println!(
        "SQLite: stored {events} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for batch_size in [500, 2_000, 5_000] {
        let name = format!("balances-{batch_size}");
        sqlx::query("DELETE FROM balances")
            .execute(store.pool())
            .await?;
        let handle = ProjectionRunner::new(store.clone(), store.clone(), Balances::new(name))
            .batch_size(batch_size)
            .spawn();
        let started = Instant::now();
        let status = handle.wait_for(|s| s.processed >= events as u64).await;
        let elapsed = started.elapsed();
        handle.stop().await?;
        check_total(&store, events, status.processed).await?;
        report("SQLite", batch_size, events, elapsed);
    }
    store.close().await;
    std::fs::remove_dir_all(dir)?;
    Ok(())
}

async fn check_total(store: &SqliteStore, events: usize, processed: u64) -> Result<(), Error> {
    let total: i64 = sqlx::query_scalar("SELECT COALESCE(SUM(balance), 0) FROM balances")
        .fetch_one(store.pool())
        .await?;
    if total != events as i64 || processed != events as u64 {
        return Err(
            format!("the read model is wrong: total {total}, processed {processed}").into(),
        );
    }
    Ok(())
}

fn report(store: &str, batch_size: usize, events: usize, elapsed: Duration) {
    println!(
        "{store}: catch-up of {events} events, batch {batch_size:>5}: {:>6.2} s, {:>9.0} events/s",
        elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64()
    );
}

/// Balances per account in a PostgreSQL table, written once per batch with one `unnest` upsert.
struct PgBalances {
    name: String,
    upsert: String,
    pending: HashMap<String, i64>,
}

#[async_trait]
impl<'c> EventHandler<PgTx<'c>> for PgBalances {
    fn event_types(&self) -> Vec<&'static str> {
        vec![DEPOSITED]
    }

    async fn handle(&mut self, e: &RecordedEvent, _: &mut PgTx<'c>) -> Result<(), HandlerError> {
        add_deposit(&mut self.pending, e)
    }
}

#[async_trait]
impl<'c> Projection<PgTx<'c>> for PgBalances {
    fn name(&self) -> &str {
        &self.name
    }

    async fn flush(&mut self, tx: &mut PgTx<'c>) -> Result<(), HandlerError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let (accounts, deltas): (Vec<String>, Vec<i64>) = self.pending.drain().unzip();
        sqlx::query(AssertSqlSafe(self.upsert.clone()))
            .bind(accounts)
            .bind(deltas)
            .execute(&mut **tx)
            .await
            .map_err(HandlerError::failed)?;
        Ok(())
    }

    fn on_abort(&mut self) {
        self.pending.clear();
    }
}

async fn postgres(url: &str, events: usize, analyze: bool) -> Result<(), Error> {
    let schema = format!("es_bench_{}", uuid::Uuid::now_v7().simple());
    let store = PgStore::builder().schema(&schema).connect(url).await?;
    let result = postgres_in(&store, events, analyze).await;
    sqlx::query(AssertSqlSafe(format!(
        "DROP SCHEMA {} CASCADE",
        store.schema().quoted()
    )))
    .execute(store.pool())
    .await?;
    store.close().await;
    result
}

async fn postgres_in(store: &PgStore, events: usize, analyze: bool) -> Result<(), Error> {
    let s = store.schema().quoted();
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE {s}.balances (account text PRIMARY KEY, balance bigint NOT NULL)"
    )))
    .execute(store.pool())
    .await?;
    let started = Instant::now();
    seed(store, events).await?;
    // What autovacuum does soon after a bulk load; without statistics the planner takes the
    // freshly loaded table for a few rows and sorts every event of the type for each page.
    if analyze {
        sqlx::query(AssertSqlSafe(format!("ANALYZE {s}.es_events")))
            .execute(store.pool())
            .await?;
    }
    println!(
        "PostgreSQL: stored {events} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    for batch_size in [500, 2_000, 5_000] {
        sqlx::query(AssertSqlSafe(format!("TRUNCATE {s}.balances")))
            .execute(store.pool())
            .await?;
        let handler = PgBalances {
            name: format!("balances-{batch_size}"),
            upsert: format!(
                "INSERT INTO {s}.balances (account, balance)
                 SELECT * FROM unnest($1::text[], $2::bigint[])
                 ON CONFLICT (account) DO UPDATE SET balance = {s}.balances.balance + excluded.balance"
            ),
            pending: HashMap::new(),
        };
        let handle = ProjectionRunner::new(store.clone(), store.clone(), handler)
            .batch_size(batch_size)
            .spawn();
        let started = Instant::now();
        let status = handle.wait_for(|s| s.processed >= events as u64).await;
        let elapsed = started.elapsed();
        handle.stop().await?;
        let total: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT COALESCE(SUM(balance), 0)::bigint FROM {s}.balances"
        )))
        .fetch_one(store.pool())
        .await?;
        if total != events as i64 || status.processed != events as u64 {
            return Err(format!(
                "the read model is wrong: total {total}, processed {}",
                status.processed
            )
            .into());
        }
        report("PostgreSQL", batch_size, events, elapsed);
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    // RUST_LOG=es_core=debug shows every batch; the default shows nothing but the figures.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let analyze = !args.iter().any(|a| a == "--no-analyze");
    let events = match args.iter().find(|a| !a.starts_with("--")) {
        Some(n) => n.parse()?,
        None => 100_000,
    };
    sqlite(events).await?;
    match std::env::var("DATABASE_URL") {
        Ok(url) => postgres(&url, events, analyze).await,
        Err(_) => {
            println!("PostgreSQL: skipped (set DATABASE_URL to measure it)");
            Ok(())
        }
    }
}
