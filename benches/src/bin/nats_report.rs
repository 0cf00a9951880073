//! es-nats figures: relay throughput against raw async-nats JetStream publishing of the same
//! messages in the same run, and the latency from an append to a consumer's handler.
//!
//! ```sh
//! cargo run --release -p es-bench --bin nats-report            # starts its own nats-server
//! NATS_URL=nats://127.0.0.1:4222 cargo run --release -p es-bench --bin nats-report
//! ```

use es_core::prelude::*;
use es_core::{MemoryStore, NewEvent, RecordedEvent};
use es_nats::async_nats::{self, jetstream};
use es_nats::{JetStreamLog, JetStreamLogConfig, Relay, RelayConfig};
use es_sqlite::SqliteStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const EVENTS: usize = 50_000;

const LATENCY_SAMPLES: usize = 1_000;

/// A nats-server child process with its own storage, removed on drop.
struct Server {
    child: std::process::Child,
    dir: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn start_server() -> Result<(String, Server), BoxError> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let dir =
        std::env::temp_dir().join(format!("es-nats-report-{}", uuid::Uuid::now_v7().simple()));
    std::fs::create_dir_all(&dir)?;
    let child = std::process::Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir.join("js"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start nats-server ({e}): install it or set NATS_URL"))?;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((format!("nats://127.0.0.1:{port}"), Server { child, dir }))
}

fn events(n: usize) -> Vec<(StreamId, NewEvent)> {
    (0..n)
        .map(|i| {
            let stream = StreamId::new(format!("order-{}", i % 1000)).unwrap();
            let payload = serde_json::json!({ "sku": format!("sku-{}", i % 97), "quantity": i % 5 + 1, "unit_price": 1250 });
            (stream, NewEvent::raw("order.item_added", 1, payload))
        })
        .collect()
}

async fn fill(store: &dyn EventStore, events: Vec<(StreamId, NewEvent)>) -> Result<(), BoxError> {
    for (stream, event) in events {
        store
            .append(&stream, ExpectedVersion::Any, vec![event])
            .await?;
    }
    Ok(())
}

/// Events/s of the relay from the store's log to acknowledged publishes.
async fn relay_rate(
    store: Arc<dyn EventStore>,
    client: &async_nats::Client,
    name: &str,
) -> Result<f64, BoxError> {
    let head = store.head_position().await?;
    let started = Instant::now();
    let relay = Relay::new(
        store,
        client.clone(),
        RelayConfig::new(name, name.to_lowercase()),
    )
    .spawn();
    let status = relay.wait_for(|s| s.checkpoint.position >= head).await;
    let elapsed = started.elapsed();
    relay.stop().await?;
    assert_eq!(status.published as usize, EVENTS);
    Ok(EVENTS as f64 / elapsed.as_secs_f64())
}

/// Events/s of raw async-nats publishing of the same messages (subject, headers, payload,
/// Nats-Msg-Id), pipelined in windows of the relay's batch size.
async fn raw_rate(
    log: &[RecordedEvent],
    client: &async_nats::Client,
    name: &str,
) -> Result<f64, BoxError> {
    let js = jetstream::new(client.clone());
    js.get_or_create_stream(jetstream::stream::Config {
        name: name.into(),
        subjects: vec![format!("{}.>", name.to_lowercase())],
        ..Default::default()
    })
    .await?;
    let prefix = name.to_lowercase();
    let messages: Vec<(String, async_nats::HeaderMap, Vec<u8>)> = log
        .iter()
        .map(|e| {
            let mut headers = async_nats::HeaderMap::new();
            let id = e.meta.event_id.to_string();
            for (k, v) in [
                ("Nats-Msg-Id", id.clone()),
                ("es-event-id", id),
                ("es-event-type", e.meta.event_type.clone()),
                ("es-schema-version", e.meta.schema_version.to_string()),
                ("es-stream-id", e.meta.stream_id.to_string()),
                ("es-version", e.meta.version.to_string()),
                ("es-checkpoint", e.meta.checkpoint().to_string()),
                ("es-recorded-at", e.meta.recorded_at.to_rfc3339()),
                ("es-metadata", "{}".to_string()),
            ] {
                headers.insert(k, v.as_str());
            }
            let subject = format!("{prefix}.order.{}", e.meta.stream_id);
            (subject, headers, serde_json::to_vec(&e.payload).unwrap())
        })
        .collect();
    let started = Instant::now();
    for window in messages.chunks(500) {
        let mut acks = Vec::with_capacity(window.len());
        for (subject, headers, payload) in window {
            acks.push(
                js.publish_with_headers(subject.clone(), headers.clone(), payload.clone().into())
                    .await?,
            );
        }
        for ack in acks {
            ack.await?;
        }
    }
    Ok(EVENTS as f64 / started.elapsed().as_secs_f64())
}

/// Append-to-handler latencies: one event at a time through a live relay and a consumer's
/// subscription on the JetStream stream.
async fn latencies(
    store: SqliteStore,
    client: &async_nats::Client,
) -> Result<Vec<Duration>, BoxError> {
    let relay = Relay::new(
        store.clone(),
        client.clone(),
        RelayConfig::new("LATENCY", "latency"),
    )
    .spawn();
    relay.wait_for(|s| s.caught_up).await;
    let log = JetStreamLog::new(
        client.clone(),
        JetStreamLogConfig::new("LATENCY", "latency"),
    );
    let mut subscription = SubscriptionBuilder::new(log).subscribe_types(&[]);
    let stream = StreamId::new("order-1")?;
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for i in 0..LATENCY_SAMPLES + 50 {
        let started = Instant::now();
        store
            .append(
                &stream,
                ExpectedVersion::Any,
                vec![NewEvent::raw(
                    "order.pinged",
                    1,
                    serde_json::json!({ "i": i }),
                )],
            )
            .await?;
        let event = tokio::time::timeout(Duration::from_secs(10), subscription.next())
            .await?
            .ok_or("subscription ended")?;
        assert_eq!(event.payload["i"], i);
        if i >= 50 {
            samples.push(started.elapsed()); // the first 50 warm up
        }
    }
    subscription.close().await?;
    relay.stop().await?;
    samples.sort();
    Ok(samples)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let (url, _server) = match std::env::var("NATS_URL") {
        Ok(url) => (url, None),
        Err(_) => {
            let (url, server) = start_server()?;
            (url, Some(server))
        }
    };
    let client = async_nats::connect(&url).await?;
    println!(
        "# es-nats report ({} CPUs; load average before: {}; nats-server at {url})",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load_average()
    );
    let dir = std::env::temp_dir().join(format!(
        "es-nats-report-db-{}",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir)?;
    // Removed on every exit, errors included.
    let _cleanup = RemoveOnDrop(dir.clone());
    let run = uuid::Uuid::now_v7().simple().to_string()[20..].to_uppercase();

    let memory = MemoryStore::new();
    fill(&memory, events(EVENTS)).await?;
    let sqlite = SqliteStore::open(dir.join("source.db")).await?;
    fill(&sqlite, events(EVENTS)).await?;
    let log: Vec<RecordedEvent> = memory.read_all(ReadAll::new()).try_collect().await?;

    // Interleaved, twice each, best of two: the machine is shared.
    let (mut raw, mut from_memory, mut from_sqlite) = (0f64, 0f64, 0f64);
    for round in 0..2 {
        raw = raw.max(raw_rate(&log, &client, &format!("RAW{run}{round}")).await?);
        from_memory = from_memory.max(
            relay_rate(
                Arc::new(memory.clone()),
                &client,
                &format!("MEM{run}{round}"),
            )
            .await?,
        );
        from_sqlite = from_sqlite.max(
            relay_rate(
                Arc::new(sqlite.clone()),
                &client,
                &format!("SQL{run}{round}"),
            )
            .await?,
        );
    }
    println!("\n## Throughput: {EVENTS} events, ~300-byte messages, file-backed R1 stream");
    println!("raw async-nats publish (pipelined 500) {raw:>10.0} events/s");
    println!(
        "relay from MemoryStore                 {from_memory:>10.0} events/s  ({:.0}% of raw)",
        100.0 * from_memory / raw
    );
    println!(
        "relay from SqliteStore                 {from_sqlite:>10.0} events/s  ({:.0}% of raw)",
        100.0 * from_sqlite / raw
    );

    let latency_store = SqliteStore::open(dir.join("latency.db")).await?;
    let samples = latencies(latency_store, &client).await?;
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    println!(
        "\n## Latency: append (SQLite) -> relay -> JetStream -> consumer subscription, {LATENCY_SAMPLES} events one at a time"
    );
    println!(
        "p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
        at(0.50).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        samples[samples.len() - 1].as_secs_f64() * 1e3
    );
    println!("\nload average after: {}", load_average());
    Ok(())
}

struct RemoveOnDrop(std::path::PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
