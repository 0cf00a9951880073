//! The broker failing under load: a nats-server restarted (SIGKILL, then started again on the
//! same storage) while writers append, and a 3-node JetStream cluster (R3 stream) whose stream
//! leader is SIGKILLed during the relay's run. Relay and consumer resume by themselves; the
//! stream ends with every event exactly once, and the read model equals the fold of the log.

mod common;

use common::faults::{self, Rng};
use common::totals::{self, Totals};
use common::{NatsCluster, NatsServer, connect, stream_messages};
use es_core::CheckpointStore;
use es_core::prelude::*;
use es_nats::{JetStreamLog, JetStreamLogConfig, Relay, RelayConfig, RelayHandle};
use es_sqlite::SqliteStore;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn relay_config(stream: &str, replicas: usize) -> RelayConfig {
    let mut config = RelayConfig::new(stream, stream.to_lowercase())
        .batch_size(100)
        .replicas(replicas);
    config.backoff_max = Duration::from_millis(300);
    config.timeout = Duration::from_secs(2);
    config
}

async fn checkpoint(db: &SqliteStore) -> u64 {
    db.load_checkpoint("totals")
        .await
        .unwrap()
        .map_or(0, |c| c.position.0)
}

/// Waits for the relay to publish the whole log and the consumer to handle the whole stream,
/// then checks both. Returns (events, duplicates, lost).
async fn settle_and_check(
    client: &async_nats::Client,
    stream: &str,
    source: &Arc<dyn EventStore>,
    relay: RelayHandle,
    consumer: es_core::ProjectionHandle,
    db: &SqliteStore,
) -> (usize, usize, usize) {
    let log = faults::log(&**source).await;
    let head = source.head_position().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        let status = relay.status();
        if status.checkpoint.position >= head || Instant::now() > deadline {
            break status;
        }
        if std::env::var("ES_NATS_DEBUG").is_ok() {
            eprintln!("{status:?}\n{:?}", consumer.status());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        status.checkpoint.position >= head,
        "relay stuck: {status:?}"
    );
    while checkpoint(db).await < status.stream_sequence && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    relay.stop().await.unwrap();
    consumer.stop().await.unwrap();
    let messages = stream_messages(client, stream).await;
    let counts = faults::assert_exactly_once(&messages, &log);
    assert_eq!(checkpoint(db).await, status.stream_sequence);
    assert_eq!(Totals::read(db).await, totals::fold(&log));
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nats_server_restarted_under_load() {
    let mut server = NatsServer::start();
    let client = connect(&[server.url()]).await;
    let dir = common::temp_dir("restart");
    let source = faults::open_store(&format!("sqlite:{}", dir.join("source.db").display())).await;
    let db = SqliteStore::open(dir.join("reports.db")).await.unwrap();
    Totals::create(&db).await;
    let relay = Relay::new(source.clone(), client.clone(), relay_config("RESTART", 1)).spawn();
    relay.wait_for(|s| s.caught_up).await;
    let log = JetStreamLog::new(client.clone(), JetStreamLogConfig::new("RESTART", "totals"));
    let consumer = ProjectionRunner::new(
        log,
        db.clone(),
        Totals {
            delay: Duration::ZERO,
        },
    )
    .batch_size(50)
    .spawn();

    let writing = tokio::spawn(faults::write(
        source.clone(),
        3,
        3000,
        Duration::from_millis(25),
    ));
    let mut rng = Rng::seeded();
    let mut restarts = 0;
    while restarts < 3 || !writing.is_finished() {
        if std::env::var("ES_NATS_DEBUG").is_ok() {
            eprintln!(
                "restart {restarts}: {:?}\n{:?}",
                relay.status(),
                consumer.status()
            );
        }
        tokio::time::sleep(Duration::from_millis(rng.range(300, 900))).await;
        server.kill();
        tokio::time::sleep(Duration::from_millis(rng.range(100, 600))).await;
        server.restart();
        restarts += 1;
    }
    writing.await.unwrap();
    let (events, duplicates, lost) =
        settle_and_check(&client, "RESTART", &source, relay, consumer, &db).await;
    eprintln!(
        "nats-server SIGKILLed and restarted {restarts} times under load: {events} events, \
         {duplicates} duplicates, {lost} lost; read model = fold of the log"
    );
    db.close().await;
    common::remove_dir(&dir);
}

/// The name of the server that leads a stream.
async fn leader(client: &async_nats::Client, stream: &str) -> Option<String> {
    // A short timeout: a request that reaches the dead leader must not hide the election time.
    let js = async_nats::jetstream::ContextBuilder::new()
        .timeout(Duration::from_millis(500))
        .build(client.clone());
    let mut stream = js.get_stream(stream).await.ok()?;
    let info = stream.info().await.ok()?;
    info.cluster.as_ref()?.leader.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_survives_the_stream_leader_sigkilled() {
    let mut cluster = NatsCluster::start(3);
    let client = connect(&cluster.urls()).await;
    let dir = common::temp_dir("cluster");
    let source = faults::open_store(&format!("sqlite:{}", dir.join("source.db").display())).await;
    let db = SqliteStore::open(dir.join("reports.db")).await.unwrap();
    Totals::create(&db).await;

    // The cluster needs a moment to elect its meta leader before the stream can be created.
    let relay = Relay::new(source.clone(), client.clone(), relay_config("CLUSTER", 3)).spawn();
    let status = relay.wait_for(|s| s.caught_up).await;
    assert!(status.caught_up, "{status:?}");
    let log = JetStreamLog::new(client.clone(), JetStreamLogConfig::new("CLUSTER", "totals"));
    let consumer = ProjectionRunner::new(
        log,
        db.clone(),
        Totals {
            delay: Duration::ZERO,
        },
    )
    .batch_size(50)
    .spawn();

    let writing = tokio::spawn(faults::write(
        source.clone(),
        3,
        3000,
        Duration::from_millis(25),
    ));
    tokio::time::sleep(Duration::from_millis(800)).await;
    let old = leader(&client, "CLUSTER").await.expect("a stream leader");
    let published_before = relay.status().published;
    let index: usize = old.trim_start_matches('n').parse().unwrap();
    cluster.nodes[index].kill();
    let killed_at = Instant::now();
    // A new leader is elected among the two others.
    let new = loop {
        if let Some(new) = leader(&client, "CLUSTER").await
            && new != old
        {
            break new;
        }
        assert!(
            killed_at.elapsed() < Duration::from_secs(30),
            "no new leader"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let elected = killed_at.elapsed();
    writing.await.unwrap();
    let (events, duplicates, lost) =
        settle_and_check(&client, "CLUSTER", &source, relay, consumer, &db).await;
    eprintln!(
        "3-node cluster, R3 stream: leader {old} SIGKILLed after {published_before} events, \
         {new} elected in {elected:?}; {events} events, {duplicates} duplicates, {lost} lost; \
         read model = fold of the log"
    );
    let _ = Rng::seeded;
    db.close().await;
    common::remove_dir(&dir);
}
