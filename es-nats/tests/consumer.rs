//! The consumer side against a real nats-server: a JetStream stream written by the relay drives
//! `#[event_handler]` read models in another database, exactly once; typed subscriptions; the
//! error policy for messages that do not decode; rebuilds.

mod common;

use common::{NatsServer, connect, temp_dir};
use es_core::prelude::*;
use es_core::{MemoryStore, NewEvent, OnFailure, RunnerState};
use es_nats::{JetStreamLog, JetStreamLogConfig, Relay, RelayConfig};
use es_sqlite::{SqliteStore, SqliteTx};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Version 2 stores the amount in cents; version 1 stored whole units as `units`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "order.placed", version = 2, upcast(from = 1, with = units_to_cents))]
struct OrderPlaced {
    cents: i64,
}

fn units_to_cents(v1: es_core::serde_json::Value) -> Result<es_core::serde_json::Value, String> {
    let units = v1["units"].as_i64().ok_or("no units")?;
    Ok(es_core::serde_json::json!({ "cents": units * 100 }))
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "order.cancelled")]
struct OrderCancelled {}

/// Per order: how many placements and the sum, in the consumer's SQLite file.
struct Totals;

impl Totals {
    async fn create(store: &SqliteStore) {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS totals (
                 stream TEXT PRIMARY KEY, placed INTEGER NOT NULL, cents INTEGER NOT NULL)",
        )
        .execute(store.pool())
        .await
        .unwrap();
    }

    async fn read(store: &SqliteStore) -> Vec<(String, i64, i64)> {
        sqlx::query_as("SELECT stream, placed, cents FROM totals ORDER BY stream")
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
            "INSERT INTO totals (stream, placed, cents) VALUES (?1, 1, ?2)
             ON CONFLICT (stream) DO UPDATE SET placed = placed + 1, cents = cents + ?2",
        )
        .bind(meta.stream_id.as_str())
        .bind(e.cents)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn cancelled(
        &mut self,
        _: &OrderCancelled,
        meta: &EventMeta,
        tx: &mut SqliteTx<'_>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM totals WHERE stream = ?1")
            .bind(meta.stream_id.as_str())
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}

#[es_core::async_trait]
impl<'c> es_core::Projection<SqliteTx<'c>> for Totals {
    fn name(&self) -> &str {
        "totals"
    }
    async fn on_reset(&mut self, tx: &mut SqliteTx<'c>) -> Result<(), es_core::HandlerError> {
        sqlx::query("DELETE FROM totals")
            .execute(&mut **tx)
            .await
            .map_err(es_core::HandlerError::failed)?;
        Ok(())
    }
}

/// The expected read model: the fold of the source log.
async fn fold(store: &MemoryStore) -> Vec<(String, i64, i64)> {
    let mut totals = std::collections::BTreeMap::<String, (i64, i64)>::new();
    let log: Vec<es_core::RecordedEvent> =
        store.read_all(ReadAll::new()).try_collect().await.unwrap();
    for e in log {
        let stream = e.meta.stream_id.to_string();
        if OrderPlaced::handles(&e.meta.event_type) {
            let placed = e.decode::<OrderPlaced>().unwrap().event;
            let t = totals.entry(stream).or_default();
            t.0 += 1;
            t.1 += placed.cents;
        } else if e.meta.event_type == "order.cancelled" {
            totals.remove(&stream);
        }
    }
    totals.into_iter().map(|(s, (p, c))| (s, p, c)).collect()
}

async fn append_orders(store: &MemoryStore, from: u64, to: u64) {
    for n in from..to {
        let stream = StreamId::new(format!("order-{}", n % 7)).unwrap();
        let mut events = vec![if n % 3 == 0 {
            // stored by older code, upcast on the consumer's side
            NewEvent::raw(
                "order.placed",
                1,
                es_core::serde_json::json!({ "units": n }),
            )
        } else {
            NewEvent::from_event(&OrderPlaced { cents: n as i64 }, Metadata::new()).unwrap()
        }];
        if n % 11 == 10 {
            events.push(NewEvent::from_event(&OrderCancelled {}, Metadata::new()).unwrap());
        }
        events.push(NewEvent::raw(
            "order.noted",
            1,
            es_core::serde_json::json!({}),
        ));
        store
            .append(&stream, ExpectedVersion::Any, events)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_model_in_another_database_equals_the_fold_of_the_log_across_restarts_and_rebuilds() {
    let server = NatsServer::start();
    let client = connect(&[server.url()]).await;
    let source = MemoryStore::new();
    let relay = Relay::new(
        source.clone(),
        client.clone(),
        RelayConfig::new("ORDERS", "orders"),
    )
    .spawn();

    let dir = temp_dir("consumer");
    let db = SqliteStore::open(dir.join("reports.db")).await.unwrap();
    Totals::create(&db).await;
    let log = JetStreamLog::new(client.clone(), JetStreamLogConfig::new("ORDERS", "totals"));

    append_orders(&source, 0, 50).await;
    let head = source.head_position().await.unwrap();
    relay.wait_for(|s| s.checkpoint.position >= head).await;
    let runner = ProjectionRunner::new(log.clone(), db.clone(), Totals)
        .batch_size(16)
        .spawn();
    let sequence = relay.status().stream_sequence;
    runner
        .wait_for(|s| s.checkpoint.position.0 >= sequence)
        .await;
    runner.stop().await.unwrap();
    assert_eq!(Totals::read(&db).await, fold(&source).await);
    // The checkpoint is the JetStream sequence.
    assert_eq!(
        db.load_checkpoint("totals")
            .await
            .unwrap()
            .map(|c| c.position.0),
        Some(sequence)
    );

    // Live: a new runner (a restarted process) continues from the checkpoint, woken by messages.
    let runner = ProjectionRunner::new(log.clone(), db.clone(), Totals)
        .batch_size(16)
        .spawn();
    runner.wait_for(|s| s.caught_up).await;
    append_orders(&source, 50, 120).await;
    let head = source.head_position().await.unwrap();
    relay.wait_for(|s| s.checkpoint.position >= head).await;
    let sequence = relay.status().stream_sequence;
    let status = runner
        .wait_for(|s| s.checkpoint.position.0 >= sequence)
        .await;
    assert_eq!(status.lag, 0);
    runner.stop().await.unwrap();
    assert_eq!(Totals::read(&db).await, fold(&source).await);

    // A checkpoint that lags the consumer's acknowledgements (a crash after the commit of an
    // earlier batch): the consumer is re-created at the checkpoint, nothing counted twice.
    let mut tx = db.begin().await.unwrap();
    sqlx::query("DELETE FROM totals")
        .execute(&mut *tx)
        .await
        .unwrap();
    db.delete_checkpoint_in(&mut tx, "totals").await.unwrap();
    db.commit(tx).await.unwrap();
    let mut rebuild = ProjectionRunner::new(log.clone(), db.clone(), Totals);
    rebuild.rebuild().await.unwrap();
    let runner = rebuild.spawn();
    runner
        .wait_for(|s| s.checkpoint.position.0 >= sequence)
        .await;
    runner.stop().await.unwrap();
    assert_eq!(Totals::read(&db).await, fold(&source).await);

    relay.stop().await.unwrap();
    db.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_subscriptions_across_processes_decode_and_upcast() {
    let server = NatsServer::start();
    let client = connect(&[server.url()]).await;
    let source = MemoryStore::new();
    let relay = Relay::new(
        source.clone(),
        client.clone(),
        RelayConfig::new("SUB", "sub"),
    )
    .spawn();
    append_orders(&source, 0, 3).await;
    let head = source.head_position().await.unwrap();
    relay.wait_for(|s| s.checkpoint.position >= head).await;

    let log = JetStreamLog::new(client.clone(), JetStreamLogConfig::new("SUB", "mailer"));
    let mut placed = SubscriptionBuilder::new(log).subscribe::<OrderPlaced>();
    let mut got = Vec::new();
    for _ in 0..3 {
        let envelope = tokio::time::timeout(Duration::from_secs(10), placed.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        got.push((envelope.meta.stream_id.to_string(), envelope.event.cents));
    }
    assert_eq!(
        got,
        [
            ("order-0".to_string(), 0),
            ("order-1".to_string(), 1),
            ("order-2".to_string(), 2)
        ]
    );
    // Live: appended after the subscription started.
    source
        .append(
            &StreamId::new("order-9").unwrap(),
            ExpectedVersion::Any,
            vec![NewEvent::raw(
                "order.placed",
                1,
                es_core::serde_json::json!({ "units": 4 }),
            )],
        )
        .await
        .unwrap();
    let envelope = tokio::time::timeout(Duration::from_secs(10), placed.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(envelope.event, OrderPlaced { cents: 400 });
    placed.close().await.unwrap();
    relay.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_that_do_not_decode_follow_the_error_policy() {
    let server = NatsServer::start();
    let client = connect(&[server.url()]).await;
    let source = MemoryStore::new();
    let relay = Relay::new(
        source.clone(),
        client.clone(),
        RelayConfig::new("BAD", "bad"),
    )
    .spawn();
    append_orders(&source, 0, 2).await;
    let head = source.head_position().await.unwrap();
    relay.wait_for(|s| s.checkpoint.position >= head).await;
    relay.stop().await.unwrap();
    // A foreign message without es headers, then an es event whose payload does not decode.
    let js = async_nats::jetstream::new(client.clone());
    js.publish("bad.x.y", "not an event".into())
        .await
        .unwrap()
        .await
        .unwrap();
    source
        .append(
            &StreamId::new("order-5").unwrap(),
            ExpectedVersion::Any,
            vec![NewEvent::raw(
                "order.placed",
                2,
                es_core::serde_json::json!({ "cents": "many" }),
            )],
        )
        .await
        .unwrap();
    append_orders(&source, 2, 4).await;
    let head = source.head_position().await.unwrap();
    let relay = Relay::new(
        source.clone(),
        client.clone(),
        RelayConfig::new("BAD", "bad"),
    )
    .spawn();
    relay.wait_for(|s| s.checkpoint.position >= head).await;
    let sequence = relay.status().stream_sequence;
    relay.stop().await.unwrap();

    let dir = temp_dir("policy");
    let db = SqliteStore::open(dir.join("reports.db")).await.unwrap();
    Totals::create(&db).await;
    let log = JetStreamLog::new(client.clone(), JetStreamLogConfig::new("BAD", "totals"));
    let quick = es_core::ErrorPolicy::default()
        .retries(1)
        .backoff(Duration::from_millis(5), Duration::from_millis(5));

    // Stop: the runner stops at the foreign message, its checkpoint before it.
    let stopped = ProjectionRunner::new(log.clone(), db.clone(), Totals)
        .error_policy(quick)
        .spawn();
    let error = stopped.join().await.unwrap_err();
    assert!(error.to_string().contains("lacks the header"), "{error}");

    // Park: both are parked, everything else is handled.
    let runner = ProjectionRunner::new(log, db.clone(), Totals)
        .error_policy(quick.park())
        .spawn();
    let status = runner
        .wait_for(|s| s.checkpoint.position.0 >= sequence)
        .await;
    assert_eq!(status.state, RunnerState::Live, "{status:?}");
    runner.stop().await.unwrap();
    let parked = db.parked("totals").await.unwrap();
    assert_eq!(
        parked.len(),
        2,
        "{parked:?} {status:?} {:?}",
        Totals::read(&db).await
    );
    assert_eq!(parked[0].checkpoint.position.0, 5);
    assert_eq!(parked[1].stream_id.as_str(), "order-5");
    assert_eq!(
        es_core::ErrorPolicy::default().park().on_failure,
        OnFailure::Park
    );
    // Totals: the fold of the log without the undecodable event.
    assert_eq!(Totals::read(&db).await.len(), 4);
    db.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Events appended one at a time, each awaited by a live subscription: none is skipped when the
/// consumer is asked for a message the stream stored a moment before the consumer noticed it
/// (the runner moves to the head after an empty read; the head never passes what was delivered).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_delivery_one_at_a_time_never_skips_an_event() {
    let server = NatsServer::start();
    let client = connect(&[server.url()]).await;
    let source = MemoryStore::new();
    let relay = Relay::new(
        source.clone(),
        client.clone(),
        RelayConfig::new("LIVE", "live"),
    )
    .spawn();
    relay.wait_for(|s| s.caught_up).await;
    let log = JetStreamLog::new(client.clone(), JetStreamLogConfig::new("LIVE", "live"));
    let mut events = SubscriptionBuilder::new(log).subscribe_types(&[]);
    let stream = StreamId::new("order-1").unwrap();
    for i in 0..400 {
        let event = NewEvent::raw("order.noted", 1, es_core::serde_json::json!({ "i": i }));
        source
            .append(&stream, ExpectedVersion::Any, vec![event])
            .await
            .unwrap();
        let received = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .unwrap_or_else(|_| panic!("event {i} never arrived"))
            .unwrap();
        assert_eq!(received.payload["i"], i);
    }
    events.close().await.unwrap();
    relay.stop().await.unwrap();
}
