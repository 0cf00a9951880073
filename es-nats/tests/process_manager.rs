//! A process manager in another service: it reacts to events received through JetStream by
//! executing commands on its own repository, idempotently (the command id derives from the
//! causing event), with correlation and causation ids carried over. Redelivering every event
//! (a rebuild replays the stream) executes nothing twice.

mod common;

use common::{NatsServer, connect};
use es_core::prelude::*;
use es_core::{AtLeastOnce, MemoryStore};
use es_nats::{Causation, JetStreamLog, JetStreamLogConfig, Relay, RelayConfig};
use serde::{Deserialize, Serialize};

// ---- the orders service's event --------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "order.placed")]
struct OrderPlaced {
    sku: String,
    quantity: u32,
}

// ---- the inventory service's aggregate -------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "stock.reserved")]
struct StockReserved {
    order: String,
    quantity: u32,
}

#[derive(Debug, Clone, PartialEq, DomainEvent)]
enum StockEvent {
    StockReserved(StockReserved),
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "stock", events = StockEvent)]
struct Stock {
    reserved: u32,
    orders: Vec<String>,
}

#[event_handler]
impl Stock {
    fn stock_reserved(&mut self, e: &StockReserved) {
        self.reserved += e.quantity;
        self.orders.push(e.order.clone());
    }
}

#[derive(Clone)]
struct Reserve {
    order: String,
    quantity: u32,
}

#[command_handler]
impl Stock {
    fn reserve(&self, c: Reserve) -> Result<StockReserved, String> {
        Ok(StockReserved {
            order: c.order,
            quantity: c.quantity,
        })
    }
}

/// The process manager: OrderPlaced -> Reserve on the stock of the SKU.
struct Reserver {
    stock: Repository<Stock, MemoryStore>,
}

#[event_handler]
impl Reserver {
    async fn placed(&mut self, e: &OrderPlaced, meta: &EventMeta) -> Result<(), String> {
        let cause = Causation::of(meta);
        let command = Reserve {
            order: meta.stream_id.to_string(),
            quantity: e.quantity,
        };
        self.stock
            .execute_idempotent_with(
                &e.sku,
                cause.command_id("reserve"),
                command,
                cause.metadata(),
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

impl es_core::Projection for Reserver {
    fn name(&self) -> &str {
        "reserver"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivered_event_never_executes_its_command_twice() {
    let server = NatsServer::start();
    let client = connect(&[server.url()]).await;
    let orders = MemoryStore::new();
    let relay = Relay::new(orders.clone(), client.clone(), RelayConfig::new("PM", "pm")).spawn();
    let correlation = uuid::Uuid::now_v7();
    for (order, sku, quantity) in [
        ("order-1", "mug", 2),
        ("order-2", "mug", 1),
        ("order-3", "tea", 5),
    ] {
        let placed = es_core::NewEvent::from_event(
            &OrderPlaced {
                sku: sku.into(),
                quantity,
            },
            Metadata::new()
                .with_correlation_id(correlation)
                .with_actor("ada"),
        )
        .unwrap();
        orders
            .append(
                &StreamId::new(order).unwrap(),
                ExpectedVersion::NoStream,
                vec![placed],
            )
            .await
            .unwrap();
    }
    let placed: Vec<es_core::RecordedEvent> =
        orders.read_all(ReadAll::new()).try_collect().await.unwrap();
    relay.wait_for(|s| s.checkpoint.position.0 >= 3).await;

    // The inventory service: its own store, the process manager's checkpoint in memory.
    let inventory = MemoryStore::new();
    let stock = Repository::<Stock, _>::new(inventory.clone());
    let log = JetStreamLog::new(client.clone(), JetStreamLogConfig::new("PM", "reserver"));
    let checkpoints = AtLeastOnce(MemoryStore::new());
    let reserver = || Reserver {
        stock: stock.clone(),
    };
    let runner = ProjectionRunner::new(log.clone(), checkpoints.clone(), reserver()).spawn();
    runner.wait_for(|s| s.checkpoint.position.0 >= 3).await;
    runner.stop().await.unwrap();

    // Every event delivered again (a rebuild replays the stream from sequence 1).
    let mut again = ProjectionRunner::new(log, checkpoints, reserver());
    again.rebuild().await.unwrap();
    let again = again.spawn();
    again.wait_for(|s| s.checkpoint.position.0 >= 3).await;
    again.stop().await.unwrap();

    let mug = stock.load("mug").await.unwrap();
    assert_eq!((mug.reserved, mug.orders.len()), (3, 2));
    assert_eq!(stock.load("tea").await.unwrap().reserved, 5);
    assert_eq!(
        inventory.head_position().await.unwrap().0,
        3,
        "one reservation per order"
    );
    let history = stock.history("mug").await.unwrap();
    for (reserved, cause) in history.iter().zip(&placed) {
        assert_eq!(
            reserved.meta.metadata.causation_id,
            Some(cause.meta.event_id.0)
        );
        assert_eq!(reserved.meta.metadata.correlation_id, Some(correlation));
        assert_eq!(reserved.meta.metadata.actor.as_deref(), Some("ada"));
        assert_eq!(
            reserved.meta.event_id,
            es_core::EventId::for_command(
                Causation::of(&cause.meta).command_id("reserve"),
                &reserved.meta.stream_id,
                0
            )
        );
    }
    relay.stop().await.unwrap();
}
