//! Idempotent commands against a real PostgreSQL through a TCP proxy that cuts every connection
//! at random moments: a cut while an append is in flight commits it on the server and loses the
//! reply, so the caller gets an error for a command that was stored. Every failed command is
//! retried with its command id until it succeeds; at the end the log (read directly, not through
//! the proxy) holds every command exactly once.

mod common;

use es_core::{
    Aggregate, Event, EventId, EventStore, Handle, ReadAll, RecordedEvent, Repository, StreamId,
};
use es_postgres::PgStore;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

const CLIENTS: usize = 6;
const COMMANDS_PER_CLIENT: usize = 50;
const ACCOUNTS: usize = 10;
/// The cutter stops by itself after this long (or when the clients are done).
const CUT_FOR: Duration = Duration::from_secs(20);
/// Every command must have succeeded by then, or the test fails.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Deposited {
    amount: i64,
}

impl Event for Deposited {
    const NAME: &'static str = "proxy.deposited";
}

#[derive(Default)]
struct Account {
    balance: i64,
}

impl Aggregate for Account {
    const NAME: &'static str = "account";
    type Event = Deposited;
    fn apply(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
}

#[derive(Clone)]
struct Deposit(i64);

impl Handle<Deposit> for Account {
    type Error = std::convert::Infallible;
    async fn handle(&self, cmd: Deposit) -> Result<Vec<Deposited>, Self::Error> {
        Ok(vec![Deposited { amount: cmd.0 }])
    }
}

/// A small xorshift generator (the test needs no statistical quality, only variety).
struct Rng(u64);

impl Rng {
    fn seeded() -> Self {
        // The low bits of a UUID v7 are random.
        Self(uuid::Uuid::now_v7().as_u128() as u64 | 1)
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low + 1)
    }
}

/// A TCP proxy on 127.0.0.1 to `target` whose connections are all dropped on every cut.
struct Proxy {
    addr: SocketAddr,
    cut: watch::Sender<u64>,
    connections: Arc<AtomicUsize>,
    cut_connections: Arc<AtomicUsize>,
    accept: tokio::task::JoinHandle<()>,
}

impl Proxy {
    async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let (cut, cut_rx) = watch::channel(0u64);
        let connections = Arc::new(AtomicUsize::new(0));
        let cut_connections = Arc::new(AtomicUsize::new(0));
        let accept = {
            let (connections, cut_connections) = (connections.clone(), cut_connections.clone());
            tokio::spawn(async move {
                while let Ok((mut client, _)) = listener.accept().await {
                    let mut cut = cut_rx.clone();
                    cut.borrow_and_update();
                    connections.fetch_add(1, Ordering::SeqCst);
                    let cut_connections = cut_connections.clone();
                    tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(target).await else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.changed() => {
                                cut_connections.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                        // Dropping both sockets cuts the connection, whatever was in flight.
                    });
                }
            })
        };
        Self {
            addr,
            cut,
            connections,
            cut_connections,
            accept,
        }
    }

    /// Drops every live connection every 50-200 ms until `stop` is set or `CUT_FOR` passed.
    fn cut_at_random(&self, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<usize> {
        let cut = self.cut.clone();
        tokio::spawn(async move {
            let mut rng = Rng::seeded();
            let end = Instant::now() + CUT_FOR;
            let mut cuts = 0;
            while !stop.load(Ordering::SeqCst) && Instant::now() < end {
                tokio::time::sleep(Duration::from_millis(rng.between(50, 200))).await;
                cut.send_modify(|n| *n += 1);
                cuts += 1;
            }
            cuts
        })
    }
}

/// What one client saw.
#[derive(Default, Debug)]
struct Seen {
    /// `(command id, account, amount)` of every command it sent.
    commands: Vec<(uuid::Uuid, String, i64)>,
    /// Calls that returned an error.
    failed_calls: usize,
    /// Commands with at least one failed call.
    failed_commands: usize,
    /// Failed commands whose retry reported them already applied: stored despite the error.
    stored_despite_error: usize,
    /// Commands reported already applied without a failed call before (must be none).
    applied_without_failure: usize,
    /// The first few errors, for the log.
    sample_errors: Vec<String>,
}

async fn client(
    accounts: Repository<Account, PgStore>,
    n: usize,
    deadline: Instant,
) -> Result<Seen, String> {
    let mut rng = Rng::seeded();
    let mut seen = Seen::default();
    for i in 0..COMMANDS_PER_CLIENT {
        let account = format!("acc-{}", (n + i) % ACCOUNTS);
        let amount = rng.between(1, 100) as i64;
        let command = uuid::Uuid::now_v7();
        seen.commands.push((command, account.clone(), amount));
        let mut failed = false;
        loop {
            match accounts
                .execute_idempotent(&account, command, Deposit(amount))
                .await
            {
                Ok(done) => {
                    match (done.already_applied, failed) {
                        (true, true) => seen.stored_despite_error += 1,
                        (true, false) => seen.applied_without_failure += 1,
                        _ => {}
                    }
                    break;
                }
                Err(error) => {
                    seen.failed_calls += 1;
                    if !failed {
                        seen.failed_commands += 1;
                        failed = true;
                    }
                    if seen.sample_errors.len() < 3 {
                        seen.sample_errors.push(error.to_string());
                    }
                    if Instant::now() > deadline {
                        return Err(format!(
                            "client {n}: command {i} still failing after {GIVE_UP_AFTER:?}: {error}"
                        ));
                    }
                    tokio::time::sleep(Duration::from_millis(rng.between(5, 30))).await;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.between(0, 20))).await;
    }
    Ok(seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_commands_are_stored_exactly_once_through_a_cutting_proxy() {
    // Migrate directly, then write through the proxy without migrating.
    let direct = common::store().await;
    let url = common::database_url();
    let options = PgConnectOptions::from_str(&url).expect("DATABASE_URL parses");
    let host = options.get_host().to_owned();
    assert!(
        ["127.0.0.1", "localhost", "::1"].contains(&host.as_str()),
        "the proxy test forwards to a loopback server only, not {host}"
    );
    let target = SocketAddr::from(([127, 0, 0, 1], options.get_port()));
    let proxy = Proxy::start(target).await;
    let proxied_pool = PgPoolOptions::new()
        .max_connections(CLIENTS as u32)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .connect_lazy_with(options.host("127.0.0.1").port(proxy.addr.port()));
    let proxied = PgStore::builder()
        .schema(direct.schema().as_str())
        .migrate(false)
        .pool(proxied_pool)
        .await
        .expect("open the store through the proxy");
    let accounts = Repository::<Account, _>::new(proxied.clone());

    let stop = Arc::new(AtomicBool::new(false));
    let cutter = proxy.cut_at_random(stop.clone());
    let started = Instant::now();
    let deadline = started + GIVE_UP_AFTER;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|n| tokio::spawn(client(accounts.clone(), n, deadline)))
        .collect();
    let mut seen = Vec::new();
    let mut failures = Vec::new();
    for handle in clients {
        match handle.await.expect("a client task panicked") {
            Ok(s) => seen.push(s),
            Err(e) => failures.push(e),
        }
    }
    let elapsed = started.elapsed();
    stop.store(true, Ordering::SeqCst);
    let cuts = cutter.await.expect("the cutter");
    proxied.close().await;
    proxy.accept.abort();
    assert!(failures.is_empty(), "{failures:?}");

    // Read the log directly.
    let log: Vec<RecordedEvent> = direct
        .read_all(ReadAll::new())
        .try_collect()
        .await
        .expect("read the log directly");
    let mut stored: HashMap<uuid::Uuid, Vec<&RecordedEvent>> = HashMap::new();
    for event in &log {
        let cause = event.meta.metadata.causation_id.expect("a causation id");
        stored.entry(cause).or_default().push(event);
    }
    let commands: Vec<_> = seen.iter().flat_map(|s| s.commands.iter()).collect();
    let mut duplicates = 0;
    let mut lost = 0;
    let mut expected: HashMap<&str, i64> = HashMap::new();
    for (command, account, amount) in &commands {
        *expected.entry(account.as_str()).or_default() += amount;
        let stream = StreamId::for_aggregate(Account::NAME, account).unwrap();
        match stored.get(command).map(Vec::as_slice) {
            None | Some([]) => lost += 1,
            Some([event]) => {
                assert_eq!(event.meta.stream_id, stream);
                assert_eq!(
                    event.meta.event_id,
                    EventId::for_command(*command, &stream, 0)
                );
                assert_eq!(event.payload["amount"], *amount);
            }
            Some(_) => duplicates += 1,
        }
    }
    let direct_accounts = Repository::<Account, _>::new(direct.clone());
    let mut balances_ok = true;
    for (account, sum) in &expected {
        let balance = direct_accounts.load(account).await.unwrap().balance;
        balances_ok &= balance == *sum;
    }

    let sum = |f: fn(&Seen) -> usize| seen.iter().map(f).sum::<usize>();
    let failed_calls = sum(|s| s.failed_calls);
    let failed_commands = sum(|s| s.failed_commands);
    let stored_despite_error = sum(|s| s.stored_despite_error);
    let applied_without_failure = sum(|s| s.applied_without_failure);
    println!(
        "proxy: {cuts} cuts in {elapsed:.1?}, {} of {} proxied connections cut",
        proxy.cut_connections.load(Ordering::SeqCst),
        proxy.connections.load(Ordering::SeqCst)
    );
    println!(
        "{} commands: {failed_calls} calls failed ({failed_commands} commands); \
         {stored_despite_error} of those commands had in fact been stored (already applied on \
         retry); {} events stored, {duplicates} duplicates, {lost} lost, balances {}",
        commands.len(),
        log.len(),
        if balances_ok { "match" } else { "DIFFER" }
    );
    for error in seen.iter().flat_map(|s| &s.sample_errors).take(3) {
        println!("  e.g. {error}");
    }

    common::drop_store(direct).await;
    assert_eq!(duplicates, 0, "a command was stored twice");
    assert_eq!(lost, 0, "a command was lost");
    assert_eq!(log.len(), commands.len());
    assert!(balances_ok, "balances differ from the sums of the deposits");
    assert_eq!(applied_without_failure, 0);
    assert!(cuts > 0, "the proxy never cut");
    assert!(failed_calls > 0, "no call was cut: the test proved nothing");
}
