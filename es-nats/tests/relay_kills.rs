//! The relay as a real process, SIGKILLed at random moments (12+ times) while writers append to
//! SQLite and to PostgreSQL: the JetStream stream ends with every event exactly once, in log order.
//!
//! The relay runs in a child process: this test binary, re-invoked to run only `child_relay`.

mod common;

use common::faults::{self, Rng};
use common::{NatsServer, connect, stream_messages};
use es_nats::{Relay, RelayConfig};
use std::time::{Duration, Instant};

const STREAM: &str = "KILLS";
const KILLS: u32 = 12;

fn relay_config() -> RelayConfig {
    let mut config = RelayConfig::new(STREAM, "kills").batch_size(100);
    config.poll_min = Duration::from_millis(5);
    config.poll_max = Duration::from_millis(50);
    config.backoff_max = Duration::from_millis(200);
    config
}

/// The child: a relay of the store in `ES_NATS_CHILD_RELAY`, until killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn child_relay() {
    let Ok(spec) = std::env::var("ES_NATS_CHILD_RELAY") else {
        return; // run by the parent tests only
    };
    let client = connect(&[std::env::var("ES_NATS_CHILD_URL").unwrap()]).await;
    let never = std::future::pending::<()>();
    match spec.split_once(':') {
        Some(("pg", schema)) => {
            // One active relay across processes: the store's advisory-lock lease, woken by NOTIFY.
            let store = faults::pg_store(schema).await;
            let listen = store.listen().await.unwrap();
            Relay::new(store.clone(), client, relay_config())
                .lease(store, Duration::from_millis(100))
                .wake_up(listen)
                .run_until(never)
                .await
                .unwrap();
        }
        _ => {
            let store = faults::open_store(&spec).await;
            Relay::new(store, client, relay_config())
                .run_until(never)
                .await
                .unwrap();
        }
    }
}

async fn relay_killed_repeatedly(spec: &str, writers: u64, total: u64) {
    let server = NatsServer::start();
    let client = connect(&[server.url()]).await;
    let store = faults::open_store(spec).await;
    let env = [
        ("ES_NATS_CHILD_RELAY", spec.to_owned()),
        ("ES_NATS_CHILD_URL", server.url()),
    ];
    let writing = tokio::spawn(faults::write(
        store.clone(),
        writers,
        total,
        Duration::from_millis(20),
    ));
    let mut rng = Rng::seeded();
    let (mut kills, mut kills_with_progress) = (0u32, 0u32);
    let mut published = 0usize;
    while kills < KILLS || !writing.is_finished() {
        let mut child = faults::spawn_child("child_relay", &env);
        tokio::time::sleep(Duration::from_millis(rng.range(80, 600))).await;
        faults::kill(&mut child);
        kills += 1;
        let now = stream_len(&client).await;
        if now > published {
            kills_with_progress += 1;
        }
        published = now;
    }
    writing.await.unwrap();
    let log = faults::log(&*store).await;

    // A last relay finishes the job.
    let mut child = faults::spawn_child("child_relay", &env);
    let deadline = Instant::now() + Duration::from_secs(120);
    while stream_len(&client).await < log.len() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await; // anything extra would show up now
    faults::kill(&mut child);

    let messages = stream_messages(&client, STREAM).await;
    let (events, duplicates, lost) = faults::assert_exactly_once(&messages, &log);
    eprintln!(
        "relay SIGKILLed {kills} times ({kills_with_progress} after publishing more), store {}: \
         {events} events in the stream, {duplicates} duplicates, {lost} lost",
        spec.split(':').next().unwrap()
    );
    assert!(kills >= KILLS);
}

async fn stream_len(client: &async_nats::Client) -> usize {
    let js = async_nats::jetstream::new(client.clone());
    match js.get_stream(STREAM).await {
        Ok(mut stream) => stream
            .info()
            .await
            .map(|i| i.state.messages as usize)
            .unwrap_or(0),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_sigkilled_while_writers_append_to_sqlite() {
    let dir = common::temp_dir("relay-kills");
    let spec = format!("sqlite:{}", dir.join("source.db").display());
    relay_killed_repeatedly(&spec, 3, 3000).await;
    common::remove_dir(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_sigkilled_while_writers_append_to_postgres() {
    let schema = format!("es_nats_{}", uuid::Uuid::now_v7().simple());
    let spec = format!("pg:{schema}");
    relay_killed_repeatedly(&spec, 4, 3000).await;
    faults::drop_pg_schema(&schema).await;
}
