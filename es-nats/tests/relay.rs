//! The relay against a real nats-server: order, headers, resuming from the stream's last message
//! (past the duplicate window), type filters, live tailing and the lease.

mod common;

use common::{NatsServer, connect, header, stream_messages};
use es_core::prelude::*;
use es_core::{LocalLeases, MemoryStore, NewEvent, RecordedEvent};
use es_nats::{Relay, RelayConfig};
use std::time::Duration;

fn event(event_type: &str, n: u64) -> NewEvent {
    NewEvent::raw(event_type, 1, es_core::serde_json::json!({ "n": n }))
        .with_metadata(Metadata::new().with_actor("test").with("n", n))
}

async fn append(store: &MemoryStore, stream: &str, events: Vec<NewEvent>) {
    let stream = StreamId::new(stream).unwrap();
    store
        .append(&stream, ExpectedVersion::Any, events)
        .await
        .unwrap();
}

async fn log(store: &MemoryStore) -> Vec<RecordedEvent> {
    store.read_all(ReadAll::new()).try_collect().await.unwrap()
}

async fn relay_until_caught_up(
    store: &MemoryStore,
    client: &async_nats::Client,
    config: RelayConfig,
) {
    let head = store.head_position().await.unwrap();
    let handle = Relay::new(store.clone(), client.clone(), config).spawn();
    let status = handle
        .wait_for(|s| s.caught_up && s.checkpoint.position >= head)
        .await;
    assert!(status.last_error.is_none(), "{status:?}");
    assert_eq!(status.lag, 0, "{status:?}");
    assert_eq!(status.state, es_core::RunnerState::Live);
    handle.stop().await.unwrap();
}

/// Checks that the stream holds exactly `expected` (ids in this order).
fn assert_stream_holds(
    messages: &[async_nats::jetstream::message::StreamMessage],
    expected: &[RecordedEvent],
) {
    let ids: Vec<&str> = messages.iter().map(|m| header(m, "es-event-id")).collect();
    let want: Vec<String> = expected
        .iter()
        .map(|e| e.meta.event_id.to_string())
        .collect();
    assert_eq!(ids, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_the_log_in_order_once_and_resumes_from_the_streams_last_message() {
    let server = NatsServer::start();
    let client = connect(&[server.url()]).await;
    let store = MemoryStore::new();
    for n in 0..10 {
        append(&store, "order-1", vec![event("order.placed", n)]).await;
        append(
            &store,
            "order-2.x y",
            vec![event("order.placed", n), event("order.paid", n)],
        )
        .await;
    }
    let mut config = RelayConfig::new("SHOP", "shop");
    config.duplicate_window = Duration::from_secs(1);
    relay_until_caught_up(&store, &client, config.clone()).await;

    let messages = stream_messages(&client, "SHOP").await;
    let events = log(&store).await;
    assert_eq!(messages.len(), 30);
    assert_stream_holds(&messages, &events);
    let first = &messages[0];
    let e = &events[0];
    assert_eq!(first.subject.as_str(), "shop.order.order-1");
    assert_eq!(messages[1].subject.as_str(), "shop.order.order-2_x_y");
    assert_eq!(header(first, "Nats-Msg-Id"), e.meta.event_id.to_string());
    assert_eq!(header(first, "es-event-type"), "order.placed");
    assert_eq!(header(first, "es-schema-version"), "1");
    assert_eq!(header(first, "es-stream-id"), "order-1");
    assert_eq!(header(first, "es-version"), "1");
    assert_eq!(header(first, "es-checkpoint"), "0:1");
    assert_eq!(header(first, "es-actor"), "test");
    assert_eq!(header(&messages[1], "es-stream-id"), "order-2.x y");
    let payload: es_core::serde_json::Value =
        es_core::serde_json::from_slice(&first.payload).unwrap();
    assert_eq!(payload, e.payload);

    // Past the duplicate window: only resuming from the stream's last message prevents doubles.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for n in 10..15 {
        append(&store, "order-1", vec![event("order.placed", n)]).await;
    }
    relay_until_caught_up(&store, &client, config.clone()).await;
    relay_until_caught_up(&store, &client, config).await;
    let messages = stream_messages(&client, "SHOP").await;
    assert_eq!(messages.len(), 35);
    assert_stream_holds(&messages, &log(&store).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_only_the_configured_types_and_follows_live_appends() {
    let server = NatsServer::start();
    let client = connect(&[server.url()]).await;
    let store = MemoryStore::new();
    let config = RelayConfig::new("PAID", "paid").event_types(["order.paid"]);
    let handle = Relay::new(store.clone(), client.clone(), config).spawn();
    handle.wait_for(|s| s.caught_up).await;
    for n in 0..20 {
        append(
            &store,
            "order-1",
            vec![event("order.placed", n), event("order.paid", n)],
        )
        .await;
    }
    let head = store.head_position().await.unwrap();
    // The last paid event is the head: the relay publishes it live.
    let status = handle.wait_for(|s| s.checkpoint.position >= head).await;
    assert_eq!(status.published, 20);
    assert_eq!(status.stream_sequence, 20);
    handle.stop().await.unwrap();
    // Restarted with more events of the other type after the last published one: nothing twice.
    append(&store, "order-1", vec![event("order.placed", 99)]).await;
    let config = RelayConfig::new("PAID", "paid").event_types(["order.paid"]);
    let handle = Relay::new(store.clone(), client.clone(), config).spawn();
    let status = handle.wait_for(|s| s.caught_up).await;
    assert_eq!((status.published, status.stream_sequence), (0, 20));
    handle.stop().await.unwrap();
    let messages = stream_messages(&client, "PAID").await;
    let paid: Vec<RecordedEvent> = log(&store)
        .await
        .into_iter()
        .filter(|e| e.meta.event_type == "order.paid")
        .collect();
    assert_stream_holds(&messages, &paid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_relay_holds_the_lease_the_other_takes_over() {
    let server = NatsServer::start();
    let client = connect(&[server.url()]).await;
    let store = MemoryStore::new();
    let leases = LocalLeases::new();
    let config = RelayConfig::new("LEASED", "leased");
    let first = Relay::new(store.clone(), client.clone(), config.clone())
        .lease(leases.clone(), Duration::from_millis(50))
        .spawn();
    first.wait_for(|s| s.caught_up).await;
    let second = Relay::new(store.clone(), client.clone(), config)
        .lease(leases, Duration::from_millis(50))
        .spawn();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(second.status().state, es_core::RunnerState::Standby);
    for n in 0..10 {
        append(&store, "order-1", vec![event("order.placed", n)]).await;
    }
    first.wait_for(|s| s.checkpoint.position.0 >= 10).await;
    first.stop().await.unwrap();
    for n in 10..20 {
        append(&store, "order-1", vec![event("order.placed", n)]).await;
    }
    let status = second.wait_for(|s| s.checkpoint.position.0 >= 20).await;
    assert_eq!(status.published, 10, "{status:?}");
    second.stop().await.unwrap();
    assert_stream_holds(
        &stream_messages(&client, "LEASED").await,
        &log(&store).await,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backs_off_while_nats_is_down_and_catches_up_when_it_comes() {
    let port = common::free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let client = connect(std::slice::from_ref(&url)).await; // retries in the background
    let store = MemoryStore::new();
    for n in 0..50 {
        append(&store, "order-1", vec![event("order.placed", n)]).await;
    }
    let mut config = RelayConfig::new("LATE", "late");
    config.timeout = Duration::from_millis(300);
    let handle = Relay::new(store.clone(), client.clone(), config).spawn();
    let failing = handle.wait_for(|s| s.failed_attempts >= 2).await;
    assert!(
        failing.last_error.is_some() && failing.published == 0,
        "{failing:?}"
    );

    let _server = NatsServer::start_on(port);
    let status = handle
        .wait_for(|s| s.caught_up && s.checkpoint.position.0 >= 50)
        .await;
    assert_eq!(
        (status.published, status.last_error.clone()),
        (50, None),
        "{status:?}"
    );
    handle.stop().await.unwrap();
    assert_stream_holds(&stream_messages(&client, "LATE").await, &log(&store).await);
}

/// Even two relays of one store running at once without a lease (a misconfiguration) keep the
/// stream exactly-once: each publish expects the previous sequence, and the loser re-reads the
/// stream's last message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_relays_without_a_lease_still_publish_each_event_once() {
    let server = NatsServer::start();
    let client = connect(&[server.url()]).await;
    let store = MemoryStore::new();
    let mut config = RelayConfig::new("TWICE", "twice").batch_size(20);
    config.backoff_min = Duration::from_millis(5);
    let first = Relay::new(store.clone(), client.clone(), config.clone()).spawn();
    let second = Relay::new(store.clone(), client.clone(), config).spawn();
    for n in 0..600 {
        append(
            &store,
            &format!("order-{}", n % 5),
            vec![event("order.placed", n)],
        )
        .await;
        if n % 50 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    let head = store.head_position().await.unwrap();
    first
        .wait_for(|s| s.caught_up && s.checkpoint.position >= head)
        .await;
    second
        .wait_for(|s| s.caught_up && s.checkpoint.position >= head)
        .await;
    first.stop().await.unwrap();
    second.stop().await.unwrap();
    assert_stream_holds(&stream_messages(&client, "TWICE").await, &log(&store).await);
}
