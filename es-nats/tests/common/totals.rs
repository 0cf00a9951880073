//! A read model for the fault tests: per order stream, how many `order.placed` events and their
//! sum, in a SQLite file; plus its expected value, the fold of the source log.
#![allow(dead_code)]

use es_core::prelude::*;
use es_core::{HandlerError, RecordedEvent};
use es_sqlite::{SqliteStore, SqliteTx};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "order.placed")]
pub struct OrderPlaced {
    pub amount: i64,
}

/// `(stream, events, sum)` rows.
pub type Rows = Vec<(String, i64, i64)>;

/// The read model; `delay` per event widens batches so kills land inside them.
pub struct Totals {
    pub delay: Duration,
}

impl Totals {
    pub async fn create(store: &SqliteStore) {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS totals (
                 stream TEXT PRIMARY KEY, events INTEGER NOT NULL, sum INTEGER NOT NULL)",
        )
        .execute(store.pool())
        .await
        .unwrap();
    }

    pub async fn read(store: &SqliteStore) -> Rows {
        sqlx::query_as("SELECT stream, events, sum FROM totals ORDER BY stream")
            .fetch_all(store.pool())
            .await
            .unwrap()
    }
}

#[event_handler]
impl Totals {
    async fn placed(
        &mut self,
        e: &OrderPlaced,
        meta: &EventMeta,
        tx: &mut SqliteTx<'_>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO totals (stream, events, sum) VALUES (?1, 1, ?2)
             ON CONFLICT (stream) DO UPDATE SET events = events + 1, sum = sum + ?2",
        )
        .bind(meta.stream_id.as_str())
        .bind(e.amount)
        .execute(&mut **tx)
        .await?;
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        Ok(())
    }
}

#[es_core::async_trait]
impl<'c> es_core::Projection<SqliteTx<'c>> for Totals {
    fn name(&self) -> &str {
        "totals"
    }
    async fn on_reset(&mut self, tx: &mut SqliteTx<'c>) -> Result<(), HandlerError> {
        sqlx::query("DELETE FROM totals")
            .execute(&mut **tx)
            .await
            .map_err(HandlerError::failed)?;
        Ok(())
    }
}

/// The expected rows: the fold of the source log.
pub fn fold(log: &[RecordedEvent]) -> Rows {
    let mut totals = BTreeMap::<String, (i64, i64)>::new();
    for e in log {
        if OrderPlaced::handles(&e.meta.event_type) {
            let placed = e.decode::<OrderPlaced>().unwrap().event;
            let t = totals.entry(e.meta.stream_id.to_string()).or_default();
            t.0 += 1;
            t.1 += placed.amount;
        }
    }
    totals
        .into_iter()
        .map(|(s, (n, sum))| (s, n, sum))
        .collect()
}
