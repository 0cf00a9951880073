//! PostgreSQL throughput report: prints figures (a)-(e) of issue 3, each next to the raw sqlx floor
//! it is judged against, with `synchronous_commit` on and off.
//!
//! ```text
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/es_test cargo run --release -p es-bench --bin pg-report
//! ```
//!
//! Every run works in its own fresh schema and drops it at the end. `synchronous_commit` is set per
//! connection (a startup parameter), so the server's configuration is left alone.

use es_core::{
    Aggregate, Checkpoint, Event, EventStore, ExpectedVersion, Handle, Metadata, NewEvent, ReadAll,
    Repository, StreamId, Version,
};
use es_postgres::PgStore;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgPool, Row};
use std::str::FromStr;
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Deposited {
    amount: i64,
    memo: String,
}

impl Event for Deposited {
    const NAME: &'static str = "account.deposited";
}

#[derive(Debug, Clone)]
struct Deposit(i64);

/// An account that snapshots every `N` events (0: never).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Account<const N: u64> {
    balance: i64,
}

impl<const N: u64> Aggregate for Account<N> {
    const NAME: &'static str = "account";
    const SNAPSHOT_EVERY: u64 = N;
    type Event = Deposited;

    fn apply(&mut self, event: &Deposited) {
        self.balance += event.amount;
    }

    fn to_snapshot(&self) -> Option<Result<Value, serde_json::Error>> {
        (N > 0).then(|| serde_json::to_value(self))
    }

    fn from_snapshot(state: Value) -> Option<Result<Self, serde_json::Error>> {
        (N > 0).then(|| serde_json::from_value(state))
    }
}

impl<const N: u64> Handle<Deposit> for Account<N> {
    type Error = std::convert::Infallible;
    async fn handle(&self, cmd: Deposit) -> Result<Vec<Deposited>, Self::Error> {
        Ok(vec![deposit(cmd.0)])
    }
}

fn deposit(amount: i64) -> Deposited {
    Deposited {
        amount,
        memo: "monthly transfer from the savings account, reference 2026-11".to_owned(),
    }
}

fn new_event(amount: i64) -> Result<NewEvent, BoxError> {
    let meta = Metadata::new()
        .with_actor("bench")
        .with_correlation_id(uuid::Uuid::now_v7());
    Ok(NewEvent::from_event(&deposit(amount), meta)?)
}

struct Bench {
    url: String,
    sync: bool,
    schema: String,
}

impl Bench {
    fn options(&self) -> Result<PgConnectOptions, BoxError> {
        let sync = if self.sync { "on" } else { "off" };
        Ok(PgConnectOptions::from_str(&self.url)?.options([("synchronous_commit", sync)]))
    }

    async fn pool(&self) -> Result<PgPool, BoxError> {
        Ok(PgPoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(self.options()?)
            .await?)
    }

    async fn store(&self) -> Result<PgStore, BoxError> {
        let pool = self.pool().await?;
        Ok(PgStore::builder().schema(&self.schema).pool(pool).await?)
    }
}

fn per_sec(n: usize, elapsed: Duration) -> f64 {
    n as f64 / elapsed.as_secs_f64()
}

fn median_ms(mut samples: Vec<Duration>) -> f64 {
    samples.sort();
    samples[samples.len() / 2].as_secs_f64() * 1e3
}

/// (a) One writer appending 100-event batches to one stream.
async fn append_batches(store: &PgStore) -> Result<f64, BoxError> {
    let stream = StreamId::new("bench-batches")?;
    let batches = 300;
    let mut version = Version(0);
    // Warm-up: prepare statements and fill caches.
    for _ in 0..10 {
        let batch = (0..100).map(new_event).collect::<Result<Vec<_>, _>>()?;
        let r = store
            .append(&stream, ExpectedVersion::at(version), batch)
            .await?;
        version = r.last_version().unwrap_or(version);
    }
    let start = Instant::now();
    for _ in 0..batches {
        let batch = (0..100).map(new_event).collect::<Result<Vec<_>, _>>()?;
        let r = store
            .append(&stream, ExpectedVersion::at(version), batch)
            .await?;
        version = r.last_version().unwrap_or(version);
    }
    Ok(per_sec(batches * 100, start.elapsed()))
}

/// (b) Sequential single-command executions through `Repository::execute` on one stream, each
/// loading the aggregate (snapshot and replay) or, with `cache`, on the state kept in memory by
/// `Repository::with_cache` (one append per command).
async fn execute_commands(store: &PgStore, cache: bool) -> Result<f64, BoxError> {
    let mut accounts = Repository::<Account<100>, _>::new(store.clone());
    let id = if cache {
        accounts = accounts.with_cache(1_000);
        "cmd-cached"
    } else {
        "cmd"
    };
    for _ in 0..50 {
        accounts.execute(id, Deposit(1)).await?;
    }
    let n = 2_000;
    let start = Instant::now();
    for _ in 0..n {
        accounts.execute(id, Deposit(1)).await?;
    }
    Ok(per_sec(n, start.elapsed()))
}

/// A plain table shaped like the events table, for the raw floors.
async fn create_raw_table(pool: &PgPool, schema: &str) -> Result<(), BoxError> {
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE \"{schema}\".raw_events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
             stream_id text NOT NULL, version bigint NOT NULL, event_type text NOT NULL,
             payload jsonb NOT NULL, metadata jsonb NOT NULL, UNIQUE (stream_id, version))"
    )))
    .execute(pool)
    .await?;
    Ok(())
}

/// (a) floor: raw 100-row INSERTs from arrays (one statement each), no version guard, two indexes.
async fn raw_batch_inserts(pool: &PgPool, schema: &str) -> Result<f64, BoxError> {
    let insert = format!(
        "INSERT INTO \"{schema}\".raw_events (stream_id, version, event_type, payload, metadata)
         SELECT 'raw-batches', $1 + e.ord, 'account.deposited', e.p::jsonb, e.m::jsonb
         FROM unnest($2::text[], $3::text[]) WITH ORDINALITY AS e(p, m, ord)"
    );
    let mut base = 0i64;
    let mut run = async |batches: usize| -> Result<(), BoxError> {
        for _ in 0..batches {
            let events = (0..100).map(new_event).collect::<Result<Vec<_>, _>>()?;
            let payloads = events
                .iter()
                .map(|e| serde_json::to_string(&e.payload))
                .collect::<Result<Vec<_>, _>>()?;
            let metadata = events
                .iter()
                .map(|e| serde_json::to_string(&e.metadata))
                .collect::<Result<Vec<_>, _>>()?;
            sqlx::query(AssertSqlSafe(insert.clone()))
                .bind(base)
                .bind(&payloads)
                .bind(&metadata)
                .execute(pool)
                .await?;
            base += 100;
        }
        Ok(())
    };
    run(10).await?;
    let start = Instant::now();
    run(300).await?;
    Ok(per_sec(300 * 100, start.elapsed()))
}

/// (b) floor: a raw sqlx loop of single-row INSERTs, each in its own transaction, into a table
/// shaped like the events table.
async fn raw_insert_loop(pool: &PgPool, schema: &str) -> Result<f64, BoxError> {
    let table = format!("\"{schema}\".raw_events");
    let insert = format!(
        "INSERT INTO {table} (stream_id, version, event_type, payload, metadata)
         VALUES ($1, $2, $3, $4::jsonb, $5::jsonb)"
    );
    let event = new_event(1)?;
    let payload = serde_json::to_string(&event.payload)?;
    let metadata = serde_json::to_string(&event.metadata)?;
    let run = |from: i64, n: i64| {
        let insert = insert.clone();
        let payload = payload.clone();
        let metadata = metadata.clone();
        async move {
            for v in from..from + n {
                let mut tx = pool.begin().await?;
                sqlx::query(AssertSqlSafe(insert.clone()))
                    .bind("raw")
                    .bind(v)
                    .bind("account.deposited")
                    .bind(&payload)
                    .bind(&metadata)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            Ok::<_, BoxError>(())
        }
    };
    run(1, 50).await?;
    let n = 2_000;
    let start = Instant::now();
    run(51, n).await?;
    Ok(per_sec(n as usize, start.elapsed()))
}

/// Fills a stream with `n` deposits of 1, in batches of 500.
async fn fill(store: &PgStore, stream: &StreamId, n: usize) -> Result<(), BoxError> {
    let mut version = store.stream_version(stream).await?;
    for _ in 0..n / 500 {
        let batch = (0..500)
            .map(|_| new_event(1))
            .collect::<Result<Vec<_>, _>>()?;
        let r = store
            .append(stream, ExpectedVersion::at(version), batch)
            .await?;
        version = r.last_version().unwrap_or(version);
    }
    Ok(())
}

/// (c) Load of a 10,000-event stream by full replay, median of 15, and the raw floor: one SELECT
/// of the payloads and a serde fold.
async fn load_replay(store: &PgStore, pool: &PgPool, schema: &str) -> Result<(f64, f64), BoxError> {
    let accounts = Repository::<Account<0>, _>::new(store.clone());
    let mut samples = Vec::new();
    for _ in 0..16 {
        let start = Instant::now();
        let acc = accounts.load("replay").await?;
        samples.push(start.elapsed());
        assert_eq!(acc.balance, 10_000);
    }
    let load = median_ms(samples[1..].to_vec());

    let select =
        format!("SELECT payload FROM \"{schema}\".es_events WHERE stream_id = $1 ORDER BY version");
    let mut samples = Vec::new();
    for _ in 0..16 {
        let start = Instant::now();
        let mut rows = sqlx::query(AssertSqlSafe(select.clone()))
            .bind("account-replay")
            .fetch(pool);
        let mut balance = 0;
        while let Some(row) = rows.try_next().await? {
            let payload: sqlx::types::Json<Deposited> = row.try_get(0)?;
            balance += payload.0.amount;
        }
        samples.push(start.elapsed());
        assert_eq!(balance, 10_000);
    }
    Ok((load, median_ms(samples[1..].to_vec())))
}

/// (d) Load of the same 10,000-event stream with a snapshot at its head, median of 50.
async fn load_snapshot(store: &PgStore) -> Result<f64, BoxError> {
    let accounts = Repository::<Account<10_000>, _>::new(store.clone());
    // One more command makes the repository snapshot at version 10,000 (9,999 + 1).
    let mut samples = Vec::new();
    for _ in 0..51 {
        let start = Instant::now();
        let acc = accounts.load_versioned("snap").await?;
        samples.push(start.elapsed());
        assert_eq!(acc.state.balance, 10_000);
        assert_eq!(acc.version, Version(10_000));
    }
    Ok(median_ms(samples[1..].to_vec()))
}

/// (e) `read_all` of 100,000 events in pages of 1,000.
async fn read_all(store: &PgStore) -> Result<f64, BoxError> {
    let start = Instant::now();
    let mut after = Checkpoint::START;
    let mut n = 0;
    loop {
        let page: Vec<_> = store
            .read_all(ReadAll::new().after(after).limit(1_000))
            .try_collect()
            .await?;
        let Some(last) = page.last() else { break };
        after = last.meta.checkpoint();
        n += page.len();
    }
    let elapsed = start.elapsed();
    assert!(n >= 100_000, "read {n} events");
    Ok(per_sec(n, elapsed))
}

/// (e) floor: the same keyset pages read with raw SQL, rows decoded into JSON values.
async fn raw_read_all(pool: &PgPool, schema: &str) -> Result<f64, BoxError> {
    let sql = format!(
        "SELECT global_position, tx_id::text::bigint AS commit_key, stream_id, version, payload, metadata
         FROM \"{schema}\".es_events
         WHERE (tx_id, global_position) > ($1::text::xid8, $2)
           AND tx_id < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY es_events.tx_id, global_position LIMIT 1000"
    );
    let start = Instant::now();
    let (mut tx, mut pos, mut n) = (0i64, 0i64, 0usize);
    loop {
        let rows = sqlx::query(AssertSqlSafe(sql.clone()))
            .bind(tx.to_string())
            .bind(pos)
            .fetch_all(pool)
            .await?;
        let Some(last) = rows.last() else { break };
        pos = last.try_get(0)?;
        tx = last.try_get(1)?;
        for row in &rows {
            let _: sqlx::types::Json<Value> = row.try_get(4)?;
            let _: sqlx::types::Json<Value> = row.try_get(5)?;
        }
        n += rows.len();
    }
    Ok(per_sec(n, start.elapsed()))
}

async fn run(url: &str, sync: bool) -> Result<(), BoxError> {
    let bench = Bench {
        url: url.to_owned(),
        sync,
        schema: format!("es_bench_{}", uuid::Uuid::now_v7().simple()),
    };
    let store = bench.store().await?;
    let pool = bench.pool().await?;
    let result = async {
        let label = if sync { "on" } else { "off" };
        println!("\n## synchronous_commit = {label}");

        let a = append_batches(&store).await?;
        create_raw_table(&pool, &bench.schema).await?;
        let raw_a = raw_batch_inserts(&pool, &bench.schema).await?;
        println!("(a) append, 100-event batches, 1 writer:      {a:>10.0} events/s   (raw unguarded 100-row INSERT {raw_a:.0}/s; target >= 50,000)");

        let b = execute_commands(&store, false).await?;
        let floor = raw_insert_loop(&pool, &bench.schema).await?;
        let cached = execute_commands(&store, true).await?;
        println!(
            "(b) Repository::execute, 1 stream, sequential: {b:>10.0} commands/s (raw INSERT-in-a-transaction floor {floor:.0}/s; {:.0}% of it, target >= 70%)",
            b / floor * 100.0
        );
        println!(
            "    the same with Repository::with_cache:      {cached:>10.0} commands/s ({:.0}% of the floor)",
            cached / floor * 100.0
        );

        fill(&store, &StreamId::new("account-replay")?, 10_000).await?;
        let (c, raw_c) = load_replay(&store, &pool, &bench.schema).await?;
        println!(
            "(c) load 10,000-event stream (replay):         {c:>10.2} ms         (raw SELECT + serde fold {raw_c:.2} ms; {:.2}x, targets <= 10 ms and <= 1.3x)",
            c / raw_c
        );

        let snap = StreamId::new("account-snap")?;
        fill(&store, &snap, 9_500).await?;
        let accounts = Repository::<Account<10_000>, _>::new(store.clone());
        let mut version = store.stream_version(&snap).await?;
        while version < Version(9_999) {
            let batch = (0..(9_999 - version.0).min(500))
                .map(|_| new_event(1))
                .collect::<Result<Vec<_>, _>>()?;
            version = store
                .append(&snap, ExpectedVersion::at(version), batch)
                .await?
                .last_version()
                .unwrap_or(version);
        }
        accounts.execute("snap", Deposit(1)).await?;
        let d = load_snapshot(&store).await?;
        println!("(d) load the same stream from a snapshot:     {d:>10.2} ms         (target <= 1 ms)");

        let mut have = store.read_all(ReadAll::new()).try_collect::<Vec<_>>().await?.len();
        let mut version = Version(0);
        let fillup = StreamId::new("fill")?;
        while have < 100_000 {
            let batch = (0..500).map(|_| new_event(1)).collect::<Result<Vec<_>, _>>()?;
            version = store
                .append(&fillup, ExpectedVersion::at(version), batch)
                .await?
                .last_version()
                .unwrap_or(version);
            have += 500;
        }
        let e = read_all(&store).await?;
        let raw_e = raw_read_all(&pool, &bench.schema).await?;
        println!(
            "(e) read_all of {have} events, pages of 1,000: {e:>10.0} events/s   (raw keyset pages {raw_e:.0}/s; target >= 200,000)"
        );
        Ok::<_, BoxError>(())
    }
    .await;
    sqlx::query(AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
        bench.schema
    )))
    .execute(&pool)
    .await?;
    store.close().await;
    pool.close().await;
    result
}

/// The machine's load averages: other work on the same cores moves every figure.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".to_owned())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let url = std::env::var("DATABASE_URL").map_err(|_| {
        "DATABASE_URL is not set (e.g. postgres://postgres@127.0.0.1:5432/es_test; `bash scripts/test` sets one up)"
    })?;
    println!(
        "# es-postgres report ({} CPUs; load average before: {})",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    for sync in [true, false] {
        run(&url, sync).await?;
    }
    println!("\nload average after: {}", load_average());
    Ok(())
}
