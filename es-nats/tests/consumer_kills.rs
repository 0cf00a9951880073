//! A consumer process SIGKILLed mid-batch repeatedly (12+ times) while the relay publishes: its
//! read model, in its own SQLite file, ends equal to the fold of the source log, nothing counted
//! twice and nothing missed.

mod common;

use common::faults::{self, Rng};
use common::totals::{self, Totals};
use common::{NatsServer, connect};
use es_core::CheckpointStore;
use es_core::prelude::*;
use es_nats::{JetStreamLog, JetStreamLogConfig, Relay, RelayConfig};
use es_sqlite::SqliteStore;
use std::time::{Duration, Instant};

const STREAM: &str = "CONSUMED";
const KILLS: u32 = 12;

/// The child: the read model's runner on the JetStream stream, until killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_consumer() {
    let Ok(path) = std::env::var("ES_NATS_CHILD_CONSUMER") else {
        return; // run by the parent test only
    };
    let client = connect(&[std::env::var("ES_NATS_CHILD_URL").unwrap()]).await;
    let db = SqliteStore::open(path).await.unwrap();
    Totals::create(&db).await;
    let log = JetStreamLog::new(client, JetStreamLogConfig::new(STREAM, "totals"));
    let totals = Totals {
        delay: Duration::from_millis(1),
    };
    ProjectionRunner::new(log, db, totals)
        .batch_size(50)
        .run()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_sigkilled_mid_batch_keeps_an_exact_read_model() {
    let server = NatsServer::start();
    let client = connect(&[server.url()]).await;
    let dir = common::temp_dir("consumer-kills");
    let source = faults::open_store(&format!("sqlite:{}", dir.join("source.db").display())).await;
    let relay = Relay::new(
        source.clone(),
        client.clone(),
        RelayConfig::new(STREAM, "consumed"),
    )
    .spawn();
    let reports = dir.join("reports.db");
    let env = [
        ("ES_NATS_CHILD_CONSUMER", reports.display().to_string()),
        ("ES_NATS_CHILD_URL", server.url()),
    ];
    let db = SqliteStore::open(&reports).await.unwrap();
    Totals::create(&db).await;

    let writing = tokio::spawn(faults::write(
        source.clone(),
        3,
        3000,
        Duration::from_millis(20),
    ));
    let mut rng = Rng::seeded();
    let (mut kills, mut kills_with_progress, mut last) = (0u32, 0u32, 0u64);
    while kills < KILLS || !writing.is_finished() {
        let mut child = faults::spawn_child("child_consumer", &env);
        tokio::time::sleep(Duration::from_millis(rng.range(100, 700))).await;
        faults::kill(&mut child);
        kills += 1;
        let now = checkpoint(&db).await;
        if now > last {
            kills_with_progress += 1;
        }
        last = now;
    }
    writing.await.unwrap();
    let log = faults::log(&*source).await;
    let head = source.head_position().await.unwrap();
    let status = relay.wait_for(|s| s.checkpoint.position >= head).await;
    let sequence = status.stream_sequence;

    let mut child = faults::spawn_child("child_consumer", &env);
    let deadline = Instant::now() + Duration::from_secs(120);
    while checkpoint(&db).await < sequence && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    faults::kill(&mut child);
    relay.stop().await.unwrap();

    let rows = Totals::read(&db).await;
    let expected = totals::fold(&log);
    let counted: i64 = rows.iter().map(|r| r.1).sum();
    let doubled = counted - log.len() as i64;
    assert_eq!(checkpoint(&db).await, sequence);
    assert_eq!(rows, expected);
    eprintln!(
        "consumer SIGKILLed {kills} times ({kills_with_progress} after committing more): \
         {} events, read model = fold of the log, {doubled} counted twice, 0 missed",
        log.len()
    );
    db.close().await;
    common::remove_dir(&dir);
}

async fn checkpoint(db: &SqliteStore) -> u64 {
    db.load_checkpoint("totals")
        .await
        .unwrap()
        .map_or(0, |c| c.position.0)
}
