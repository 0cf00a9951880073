//! A consumer whose read model lives in its own PostgreSQL database: the JetStream sequence is
//! committed as the checkpoint in the read model's transaction; two runners of the projection in
//! one service take turns through the advisory-lock lease; a runner stopped mid-way and a rebuild
//! leave the read model equal to the fold of the source log.

mod common;

use common::faults;
use common::{NatsServer, connect};
use es_core::prelude::*;
use es_core::{HandlerError, MemoryStore};
use es_nats::{JetStreamLog, JetStreamLogConfig, Relay, RelayConfig};
use es_postgres::{PgStore, PgTx};
use std::time::Duration;

use common::totals::OrderPlaced;

struct PgTotals;

impl PgTotals {
    async fn create(store: &PgStore) {
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {}.totals (stream TEXT PRIMARY KEY, events BIGINT NOT NULL, sum BIGINT NOT NULL)",
            store.schema().quoted()
        );
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(store.pool())
            .await
            .unwrap();
    }

    async fn read(store: &PgStore) -> Vec<(String, i64, i64)> {
        let sql = format!(
            "SELECT stream, events, sum FROM {}.totals ORDER BY stream",
            store.schema().quoted()
        );
        sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .fetch_all(store.pool())
            .await
            .unwrap()
    }
}

#[event_handler]
impl PgTotals {
    async fn placed(
        &mut self,
        e: &OrderPlaced,
        meta: &EventMeta,
        tx: &mut PgTx<'_>,
    ) -> Result<(), sqlx::Error> {
        // The transaction's search_path is the store's schema.
        sqlx::query(
            "INSERT INTO totals (stream, events, sum) VALUES ($1, 1, $2)
             ON CONFLICT (stream) DO UPDATE SET events = totals.events + 1, sum = totals.sum + $2",
        )
        .bind(meta.stream_id.as_str())
        .bind(e.amount)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

#[es_core::async_trait]
impl<'c> es_core::Projection<PgTx<'c>> for PgTotals {
    fn name(&self) -> &str {
        "totals"
    }
    async fn on_reset(&mut self, tx: &mut PgTx<'c>) -> Result<(), HandlerError> {
        sqlx::query("DELETE FROM totals")
            .execute(&mut **tx)
            .await
            .map_err(HandlerError::failed)?;
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_model_in_postgres_is_exactly_once_with_the_jetstream_sequence_as_checkpoint() {
    let server = NatsServer::start();
    let client = connect(&[server.url()]).await;
    let source = MemoryStore::new();
    let relay = Relay::new(
        source.clone(),
        client.clone(),
        RelayConfig::new("PGREPORT", "pgreport"),
    )
    .spawn();
    let schema = format!("es_nats_{}", uuid::Uuid::now_v7().simple());
    let db = faults::pg_store(&schema).await;
    PgTotals::create(&db).await;
    let log = JetStreamLog::new(
        client.clone(),
        JetStreamLogConfig::new("PGREPORT", "totals"),
    );

    let writing = tokio::spawn(faults::write(
        std::sync::Arc::new(source.clone()),
        2,
        1500,
        Duration::from_millis(5),
    ));
    let runner = |log: JetStreamLog| {
        ProjectionRunner::new(log, db.clone(), PgTotals)
            .batch_size(20)
            .lease(db.clone(), Duration::from_millis(100))
            .spawn()
    };
    let first = runner(log.clone());
    let second = runner(log.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let standby = [first.status().state, second.status().state]
        .iter()
        .filter(|s| **s == es_core::RunnerState::Standby)
        .count();
    assert_eq!(standby, 1, "one runner holds the lease");
    // Stopping the active one mid-stream: the other takes over from the committed checkpoint.
    let (active, other) = if first.status().state == es_core::RunnerState::Standby {
        (second, first)
    } else {
        (first, second)
    };
    active.stop().await.unwrap();
    writing.await.unwrap();
    let head = source.head_position().await.unwrap();
    let sequence = relay
        .wait_for(|s| s.checkpoint.position >= head)
        .await
        .stream_sequence;
    other
        .wait_for(|s| s.checkpoint.position.0 >= sequence)
        .await;
    other.stop().await.unwrap();
    let log_events = faults::log(&source).await;
    assert_eq!(PgTotals::read(&db).await, common::totals::fold(&log_events));
    assert_eq!(
        db.load_checkpoint("totals")
            .await
            .unwrap()
            .map(|c| c.position.0),
        Some(sequence)
    );

    // Rebuild: replay the stream from sequence 1 into the emptied table.
    let mut rebuild = ProjectionRunner::new(log, db.clone(), PgTotals);
    rebuild.rebuild().await.unwrap();
    let handle = rebuild.spawn();
    handle
        .wait_for(|s| s.checkpoint.position.0 >= sequence)
        .await;
    handle.stop().await.unwrap();
    assert_eq!(PgTotals::read(&db).await, common::totals::fold(&log_events));

    relay.stop().await.unwrap();
    db.close().await;
    faults::drop_pg_schema(&schema).await;
}
