//! Catch-up throughput of a projection: 100,000 stored deposits over 1,000 accounts, projected
//! into a balances table in the same database, exactly-once (the handler's writes and the
//! checkpoint commit in one transaction per batch). The handler buffers a batch and writes it
//! in `flush` with one multi-row upsert.
//!
//! ```text
//! cargo run --release -p es-bench --bin projection-report            # SQLite (a temp file)
//! cargo run --release -p es-bench --bin projection-report -- 200000  # another event count
//! ```
//!
//! Prints events/s for a few batch sizes.

use async_trait::async_trait;
use es_core::{
    EventHandler, EventStore, ExpectedVersion, HandlerError, NewEvent, Projection,
    ProjectionRunner, RecordedEvent, StreamId,
};
use es_sqlite::{SqliteStore, SqliteTx};
use std::collections::HashMap;
use std::time::{Duration, Instant};

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
        let amount = e.payload["amount"]
            .as_i64()
            .ok_or_else(|| HandlerError::failed("a deposit without an amount"))?;
        *self
            .pending
            .entry(e.meta.stream_id.to_string())
            .or_insert(0) += amount;
        Ok(())
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

#[tokio::main]
async fn main() -> Result<(), Error> {
    let events = match std::env::args().nth(1) {
        Some(n) => n.parse()?,
        None => 100_000,
    };
    sqlite(events).await
}
