//! A read model written with `#[event_handler]` whose context is a real database transaction:
//! `&mut sqlx::Transaction<'_, Sqlite>` (the same shape as a PostgreSQL projection's `PgTx<'_>`).
//! Its writes and the events it reads live in one SQLite file.
#![deny(warnings)]

use es_core::prelude::*;
use es_sqlite::SqliteStore;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use sqlx::{Sqlite, Transaction};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "rm.deposited")]
struct Deposited {
    amount: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "rm.withdrawn")]
struct Withdrawn {
    amount: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "rm.renamed")]
struct Renamed {
    name: String,
}

#[derive(Debug, Clone, PartialEq, DomainEvent)]
enum AccountEvent {
    Deposited(Deposited),
    Withdrawn(Withdrawn),
    Renamed(Renamed),
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "acct", events = AccountEvent, ignore(Renamed))]
struct Account {
    balance: i64,
}

#[event_handler]
impl Account {
    fn deposited(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
    fn withdrawn(&mut self, e: &Withdrawn) {
        self.balance -= e.amount;
    }
}

#[derive(Clone)]
struct Deposit(i64);
#[derive(Clone)]
struct Withdraw(i64);
#[derive(Clone)]
struct Rename(String);

#[command_handler]
impl Account {
    fn deposit(&self, cmd: Deposit) -> Result<Deposited, std::convert::Infallible> {
        Ok(Deposited { amount: cmd.0 })
    }
    fn withdraw(&self, cmd: Withdraw) -> Result<Withdrawn, std::convert::Infallible> {
        Ok(Withdrawn { amount: cmd.0 })
    }
    fn rename(&self, cmd: Rename) -> Result<Renamed, std::convert::Infallible> {
        Ok(Renamed { name: cmd.0 })
    }
}

/// Balances per stream, in a table next to the events.
#[derive(Default)]
struct Balances {
    handled: usize,
}

#[event_handler]
impl Balances {
    async fn deposited(
        &mut self,
        e: &Deposited,
        meta: &EventMeta,
        tx: &mut Transaction<'_, Sqlite>,
    ) -> Result<(), sqlx::Error> {
        self.add(meta, e.amount, tx).await
    }

    async fn withdrawn(
        &mut self,
        e: &Withdrawn,
        meta: &EventMeta,
        tx: &mut Transaction<'_, Sqlite>,
    ) -> Result<(), sqlx::Error> {
        self.add(meta, -e.amount, tx).await
    }
}

impl Balances {
    async fn add(
        &mut self,
        meta: &EventMeta,
        amount: i64,
        tx: &mut Transaction<'_, Sqlite>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO balances (stream, amount) VALUES (?, ?) \
             ON CONFLICT (stream) DO UPDATE SET amount = amount + excluded.amount",
        )
        .bind(meta.stream_id.as_str())
        .bind(amount)
        .execute(&mut **tx)
        .await?;
        self.handled += 1;
        Ok(())
    }
}

#[tokio::test]
async fn a_read_model_writes_in_the_transaction_it_is_given() {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("es-read-model-tests")
        .join(format!("{}.db", uuid::Uuid::now_v7()));
    let store = SqliteStore::open(&path).await.unwrap();
    sqlx::query("CREATE TABLE balances (stream TEXT PRIMARY KEY, amount INTEGER NOT NULL)")
        .execute(store.pool())
        .await
        .unwrap();
    let accounts = Repository::<Account, _>::new(store.clone());
    accounts.execute("a", Deposit(100)).await.unwrap();
    accounts
        .execute("a", Rename("savings".into()))
        .await
        .unwrap();
    accounts.execute("a", Withdraw(30)).await.unwrap();
    accounts.execute("b", Deposit(5)).await.unwrap();

    let mut balances = Balances::default();
    let types = EventHandler::<Transaction<'_, Sqlite>>::event_types(&balances);
    assert_eq!(types, ["rm.deposited", "rm.withdrawn"]);
    let events: Vec<_> = store
        .read_all(ReadAll::new().event_types(types))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events.len(), 3, "the rename is filtered out by the store");

    // A rolled-back transaction leaves nothing behind.
    let mut tx = store.pool().begin().await.unwrap();
    balances.handle(&events[0], &mut tx).await.unwrap();
    tx.rollback().await.unwrap();
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM balances")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0);

    let mut tx = store.pool().begin().await.unwrap();
    for event in &events {
        balances.handle(event, &mut tx).await.unwrap();
    }
    tx.commit().await.unwrap();
    let table: Vec<(String, i64)> =
        sqlx::query_as("SELECT stream, amount FROM balances ORDER BY stream")
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(table, [("acct-a".to_owned(), 70), ("acct-b".to_owned(), 5)]);
    assert_eq!(balances.handled, 4);
    assert_eq!(accounts.load("a").await.unwrap().balance, 70);

    store.close().await;
    for file in [
        path.with_extension("db-wal"),
        path.with_extension("db-shm"),
        path,
    ] {
        let _ = std::fs::remove_file(file);
    }
}
