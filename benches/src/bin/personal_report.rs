//! Personal data: what one encrypted field per event costs.
//!
//! ```text
//! cargo run --release -p es-bench --bin personal-report                       # SQLite only
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/es_test cargo run --release -p es-bench --bin personal-report
//! ```
//!
//! The same 10,000 events (user id, e-mail address, amount) appended in batches of 100 and the
//! stream loaded by replay (`Repository::load`, no snapshots), twice: with the e-mail a plain field
//! through the store itself, and with it `#[personal(subject = user_id)]` through
//! `es_core::personal::Protected` (encrypted on append, decrypted on load, the key cache warm).
//! Best of 5 runs each, alternating, in one fresh SQLite file or PostgreSQL schema per store.

use es_core::personal::Protected;
use es_core::prelude::*;
use es_core::{NewEvent, SnapshotStore};
use es_postgres::PgStore;
use es_sqlite::SqliteStore;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const EVENTS: usize = 10_000;
const BATCH: usize = 100;
const RUNS: usize = 5;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "bench.paid")]
struct Paid {
    user_id: String,
    email: String,
    amount: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "bench.paid_personal")]
struct PaidPersonal {
    user_id: String,
    #[personal(subject = user_id)]
    email: String,
    amount: i64,
}

#[derive(Debug, Clone, PartialEq, DomainEvent)]
enum PaymentEvent {
    Paid(Paid),
    PaidPersonal(PaidPersonal),
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "payer", events = PaymentEvent)]
struct Payer {
    total: i64,
    email: String,
}

#[event_handler]
impl Payer {
    fn paid(&mut self, e: &Paid) {
        self.total += e.amount;
        self.email.clone_from(&e.email);
    }
    fn paid_personal(&mut self, e: &PaidPersonal) {
        self.total += e.amount;
        self.email.clone_from(&e.email);
    }
}

fn event(personal: bool, user: &str, n: usize) -> Result<NewEvent, BoxError> {
    let email = format!("{user}.{n}@example.com");
    let amount = i64::try_from(n)?;
    let user_id = user.to_owned();
    Ok(if personal {
        NewEvent::from_event(
            &PaidPersonal {
                user_id,
                email,
                amount,
            },
            Metadata::new(),
        )?
    } else {
        NewEvent::from_event(
            &Paid {
                user_id,
                email,
                amount,
            },
            Metadata::new(),
        )?
    })
}

/// (append time, load time) of one stream of `EVENTS` events.
async fn once<S>(store: &S, personal: bool, run: usize) -> Result<(Duration, Duration), BoxError>
where
    S: EventStore + SnapshotStore + Clone + 'static,
{
    let user = format!("u{run}{}", if personal { "p" } else { "x" });
    let stream = StreamId::new(format!("payer-{user}"))?;
    let started = Instant::now();
    for batch in 0..EVENTS / BATCH {
        let events = (0..BATCH)
            .map(|i| event(personal, &user, batch * BATCH + i))
            .collect::<Result<Vec<_>, _>>()?;
        store.append(&stream, ExpectedVersion::Any, events).await?;
    }
    let appended = started.elapsed();
    let payers = Repository::<Payer, _>::new(store.clone());
    let started = Instant::now();
    let payer = payers.load(&user).await?;
    let loaded = started.elapsed();
    assert_eq!(payer.email, format!("{user}.{}@example.com", EVENTS - 1));
    Ok((appended, loaded))
}

async fn report<S>(name: &str, store: S) -> Result<(), BoxError>
where
    S: EventStore + SnapshotStore + es_core::personal::KeyStore + Clone + 'static,
{
    let protected = Protected::new(store.clone(), store.clone());
    // Warm the key cache (and the connection pool) once.
    once(&protected, true, 99).await?;
    let (mut plain, mut secret) = (
        (Duration::MAX, Duration::MAX),
        (Duration::MAX, Duration::MAX),
    );
    for run in 0..RUNS {
        let (a, l) = once(&store, false, run).await?;
        plain = (plain.0.min(a), plain.1.min(l));
        let (a, l) = once(&protected, true, run).await?;
        secret = (secret.0.min(a), secret.1.min(l));
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let over = |p: Duration, s: Duration| 100.0 * (s.as_secs_f64() / p.as_secs_f64() - 1.0);
    println!("\n{name}: {EVENTS} events, best of {RUNS}");
    println!(
        "  append (batches of {BATCH}): plain {:.1} ms, personal {:.1} ms ({:+.1}%)",
        ms(plain.0),
        ms(secret.0),
        over(plain.0, secret.0)
    );
    println!(
        "  load by replay:            plain {:.1} ms, personal {:.1} ms ({:+.1}%)",
        ms(plain.1),
        ms(secret.1),
        over(plain.1, secret.1)
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let dir = std::env::temp_dir().join(format!("es-personal-report-{}", uuid::Uuid::now_v7()));
    let sqlite = SqliteStore::open(dir.join("bench.db")).await?;
    let result = report("SQLite (file, WAL, synchronous = FULL)", sqlite.clone()).await;
    sqlite.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    if let Ok(url) = std::env::var("DATABASE_URL") {
        let schema = format!("es_pr_{}", uuid::Uuid::now_v7().simple());
        let store = PgStore::builder().schema(&schema).connect(&url).await?;
        let result = report("PostgreSQL (local, synchronous_commit on)", store.clone()).await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            store.schema().quoted()
        )))
        .execute(store.pool())
        .await?;
        store.close().await;
        result?;
    } else {
        println!("\n(set DATABASE_URL to measure PostgreSQL too)");
    }
    Ok(())
}
