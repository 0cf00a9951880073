//! The shop as three services, each its own process with its own SQLite file, talking only
//! through NATS JetStream: `orders` (orders; confirms or cancels them on the inventory's answer),
//! `inventory` (reserves stock when an order is placed) and `mailer` (one confirmation mail per
//! paid order).
//!
//! ```sh
//! cargo run -p examples --example nats-shop          # runs the scripted scenario (needs nats-server on PATH, or NATS_URL)
//! cargo run -p examples --example nats-shop -- chaos  # 30 orders while services are SIGKILLed and restarted
//! cargo run -p examples --example nats-shop -- orders --nats URL --run ID --dir DIR   # one service alone
//! ```
//!
//! Each service appends only to its own store; a `Relay` publishes its log to its JetStream stream;
//! the others consume it with `JetStreamLog` projections: the inventory's reservation is a process
//! manager executing idempotent commands (command id derived from the `order.placed` event), the
//! orders' confirmation likewise, and the mailer's outbox is a read model in its own SQLite file,
//! written exactly once with the JetStream sequence as its checkpoint. Commands and queries reach
//! the services as NATS requests on `<run>.<service>`.

mod domain;

use domain::*;
use es_core::prelude::*;
use es_core::{AtLeastOnce, HandlerError};
use es_nats::async_nats;
use es_nats::{Causation, JetStreamLog, JetStreamLogConfig, Relay, RelayConfig};
use es_sqlite::{SqliteStore, SqliteTx};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const SKUS: [(&str, u32); 2] = [("mug", 5), ("tea", 1)];
/// The stock of the chaos run: more mugs than orders, fewer teas.
const CHAOS_SKUS: [(&str, u32); 2] = [("mug", 100), ("tea", 4)];

/// Where one service runs: the NATS server, the run's id (stream and subject names), its files.
struct Setup {
    nats: String,
    run: String,
    dir: PathBuf,
    /// The chaos run's stock.
    chaos: bool,
}

impl Setup {
    fn from_args(args: &[String]) -> Result<Self, BoxError> {
        let value = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
                .cloned()
                .ok_or_else(|| format!("missing {flag}"))
        };
        Ok(Self {
            nats: value("--nats")?,
            run: value("--run")?,
            dir: PathBuf::from(value("--dir")?),
            chaos: args.iter().any(|a| a == "--chaos"),
        })
    }
    fn stream(&self, service: &str) -> String {
        format!("{}_{}", service.to_uppercase(), self.run.to_uppercase())
    }
    fn relay(&self, service: &str) -> RelayConfig {
        RelayConfig::new(self.stream(service), format!("{}.{service}", self.run))
    }
    fn log(&self, client: &async_nats::Client, service: &str, consumer: &str) -> JetStreamLog {
        JetStreamLog::new(
            client.clone(),
            JetStreamLogConfig::new(self.stream(service), consumer),
        )
    }
    fn subject(&self, service: &str) -> String {
        format!("{}.requests.{service}", self.run)
    }
    async fn store(&self, service: &str) -> Result<SqliteStore, BoxError> {
        Ok(SqliteStore::open(self.dir.join(format!("{service}.db"))).await?)
    }
}

/// Answers the requests on `subject` with `answer` until the process ends.
async fn serve<F, Fut>(
    client: &async_nats::Client,
    subject: String,
    answer: F,
) -> Result<(), BoxError>
where
    F: Fn(Value) -> Fut,
    Fut: std::future::Future<Output = Result<Value, String>>,
{
    let mut requests = client.subscribe(subject).await?;
    while let Some(request) = futures::StreamExt::next(&mut requests).await {
        let body: Value = serde_json::from_slice(&request.payload).unwrap_or(Value::Null);
        let reply = match body["op"].as_str() {
            Some("ping") => json!({ "ok": true }),
            _ => match answer(body).await {
                Ok(value) => json!({ "ok": value }),
                Err(error) => json!({ "error": error }),
            },
        };
        if let Some(to) = request.reply {
            client
                .publish(to, serde_json::to_vec(&reply)?.into())
                .await?;
        }
    }
    Ok(())
}

// ---- the orders service -------------------------------------------------------------------------

/// Confirms or cancels an order on the inventory's answer.
struct OrderSaga {
    orders: Repository<Order, SqliteStore>,
}

impl OrderSaga {
    async fn react<C: Clone + Send>(
        &self,
        order: &str,
        meta: &EventMeta,
        reaction: &str,
        command: C,
    ) -> Result<(), HandlerError>
    where
        Order: Handle<C, Error = OrderError>,
    {
        let cause = Causation::of(meta);
        match self
            .orders
            .execute_idempotent_with(order, cause.command_id(reaction), command, cause.metadata())
            .await
        {
            Ok(_) | Err(es_core::ExecuteError::Rejected(_)) => Ok(()),
            Err(error) => Err(HandlerError::failed(error.to_string())),
        }
    }
}

#[event_handler]
impl OrderSaga {
    async fn reserved(&mut self, e: &StockReserved, meta: &EventMeta) -> Result<(), HandlerError> {
        self.react(&e.order, meta, "confirm", ConfirmOrder).await
    }
    async fn failed(
        &mut self,
        e: &ReservationFailed,
        meta: &EventMeta,
    ) -> Result<(), HandlerError> {
        let reason = format!("{} wanted, {} in stock", e.wanted, e.available);
        self.react(&e.order, meta, "cancel", CancelOrder { reason })
            .await
    }
}

impl es_core::Projection for OrderSaga {
    fn name(&self) -> &str {
        "order-saga"
    }
}

async fn orders_service(setup: Setup) -> Result<(), BoxError> {
    let client = async_nats::connect(&setup.nats).await?;
    let store = setup.store("orders").await?;
    let orders = Repository::<Order, _>::new(store.clone());
    let _relay = Relay::new(store.clone(), client.clone(), setup.relay("orders")).spawn();
    let saga = OrderSaga {
        orders: orders.clone(),
    };
    let _saga = ProjectionRunner::new(
        setup.log(&client, "inventory", "order-saga"),
        AtLeastOnce(store.clone()),
        saga,
    )
    .spawn();
    serve(&client, setup.subject("orders"), |body| {
        let (orders, store) = (orders.clone(), store.clone());
        async move {
            let id = body["id"].as_str().unwrap_or_default().to_owned();
            let err = |e: &dyn std::fmt::Display| e.to_string();
            match body["op"].as_str() {
                Some("place") => {
                    let command: PlaceOrder =
                        serde_json::from_value(body["order"].clone()).map_err(|e| err(&e))?;
                    let meta = Metadata::new()
                        .with_actor(command.customer.clone())
                        .with_correlation_id(uuid::Uuid::now_v7());
                    orders
                        .execute_with(&id, command, meta)
                        .await
                        .map_err(|e| err(&e))?;
                    Ok(json!("placed"))
                }
                Some("pay") => {
                    let amount = body["amount"].as_i64().unwrap_or_default();
                    orders
                        .execute(&id, PayOrder { amount })
                        .await
                        .map_err(|e| err(&e))?;
                    Ok(json!("paid"))
                }
                Some("status") => Ok(json!(orders.load(&id).await.map_err(|e| err(&e))?.status)),
                Some("status_as_of") => {
                    let at = serde_json::from_value(body["at"].clone()).map_err(|e| err(&e))?;
                    Ok(json!(
                        orders
                            .load_as_of(&id, at)
                            .await
                            .map_err(|e| err(&e))?
                            .status
                    ))
                }
                Some("between") => {
                    let from = serde_json::from_value(body["from"].clone()).map_err(|e| err(&e))?;
                    let until =
                        serde_json::from_value(body["until"].clone()).map_err(|e| err(&e))?;
                    let events: Vec<es_core::RecordedEvent> = store
                        .read_all(ReadAll::new().recorded_between(from, until))
                        .try_collect()
                        .await
                        .map_err(|e| err(&e))?;
                    Ok(json!(
                        events
                            .iter()
                            .map(|e| format!("{} {}", e.meta.stream_id, e.meta.event_type))
                            .collect::<Vec<_>>()
                    ))
                }
                _ => Err(format!("unknown request {body}")),
            }
        }
    })
    .await
}

// ---- the inventory service ----------------------------------------------------------------------

/// Reserves stock for every order placed.
struct Reserver {
    stock: Repository<Stock, SqliteStore>,
}

#[event_handler]
impl Reserver {
    async fn placed(&mut self, e: &OrderPlaced, meta: &EventMeta) -> Result<(), HandlerError> {
        let cause = Causation::of(meta);
        let order = meta
            .stream_id
            .as_str()
            .trim_start_matches("order-")
            .to_owned();
        let command = Reserve {
            order,
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
            .map_err(|e| HandlerError::failed(e.to_string()))?;
        Ok(())
    }
}

impl es_core::Projection for Reserver {
    fn name(&self) -> &str {
        "reserver"
    }
}

async fn inventory_service(setup: Setup) -> Result<(), BoxError> {
    let client = async_nats::connect(&setup.nats).await?;
    let store = setup.store("inventory").await?;
    let stock = Repository::<Stock, _>::new(store.clone());
    for (sku, quantity) in if setup.chaos { CHAOS_SKUS } else { SKUS } {
        // Idempotent: a restarted service does not restock again.
        let command_id = uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_OID,
            format!("initial-stock/{sku}").as_bytes(),
        );
        stock
            .execute_idempotent(sku, command_id, Restock { quantity })
            .await?;
    }
    let _relay = Relay::new(store.clone(), client.clone(), setup.relay("inventory")).spawn();
    let reserver = Reserver {
        stock: stock.clone(),
    };
    let _reserver = ProjectionRunner::new(
        setup.log(&client, "orders", "reserver"),
        AtLeastOnce(store.clone()),
        reserver,
    )
    .spawn();
    serve(&client, setup.subject("inventory"), |body| {
        let stock = stock.clone();
        async move {
            let sku = body["sku"].as_str().unwrap_or_default().to_owned();
            match body["op"].as_str() {
                Some("stock") => {
                    let s = stock.load(&sku).await.map_err(|e| e.to_string())?;
                    Ok(json!({ "available": s.available, "reserved": s.reserved }))
                }
                Some("reservations") => {
                    let history = stock.history(&sku).await.map_err(|e| e.to_string())?;
                    Ok(json!(
                        history
                            .iter()
                            .filter_map(|e| match &e.event {
                                StockEvent::StockReserved(r) => Some(r.order.clone()),
                                _ => None,
                            })
                            .collect::<Vec<_>>()
                    ))
                }
                _ => Err(format!("unknown request {body}")),
            }
        }
    })
    .await
}

// ---- the mailer service -------------------------------------------------------------------------

/// The mail outbox: one row per paid order, written exactly once with the checkpoint.
struct Mailer;

#[event_handler]
impl Mailer {
    async fn placed(
        &mut self,
        e: &OrderPlaced,
        meta: &EventMeta,
        tx: &mut SqliteTx<'_>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT OR REPLACE INTO customers (order_id, customer) VALUES (?1, ?2)")
            .bind(meta.stream_id.as_str())
            .bind(&e.customer)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
    async fn paid(
        &mut self,
        e: &OrderPaid,
        meta: &EventMeta,
        tx: &mut SqliteTx<'_>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO outbox (order_id, mail) SELECT ?1, 'Dear ' || customer || ', we received ' || ?2 || ' for ' || ?1 || '.'
             FROM customers WHERE order_id = ?1",
        )
        .bind(meta.stream_id.as_str())
        .bind(e.amount)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

impl<'c> es_core::Projection<SqliteTx<'c>> for Mailer {
    fn name(&self) -> &str {
        "mailer"
    }
}

async fn mailer_service(setup: Setup) -> Result<(), BoxError> {
    let client = async_nats::connect(&setup.nats).await?;
    let db = setup.store("mailer").await?;
    for ddl in [
        "CREATE TABLE IF NOT EXISTS customers (order_id TEXT PRIMARY KEY, customer TEXT NOT NULL)",
        // The primary key makes a second mail for an order impossible, not merely unlikely.
        "CREATE TABLE IF NOT EXISTS outbox (order_id TEXT PRIMARY KEY, mail TEXT NOT NULL)",
    ] {
        sqlx::query(ddl).execute(db.pool()).await?;
    }
    let _mailer =
        ProjectionRunner::new(setup.log(&client, "orders", "mailer"), db.clone(), Mailer).spawn();
    serve(&client, setup.subject("mailer"), |_body| {
        let db = db.clone();
        async move {
            let mails: Vec<(String, String)> =
                sqlx::query_as("SELECT order_id, mail FROM outbox ORDER BY order_id")
                    .fetch_all(db.pool())
                    .await
                    .map_err(|e| e.to_string())?;
            Ok(json!(mails))
        }
    })
    .await
}

// ---- the scenario -------------------------------------------------------------------------------

struct Services {
    client: async_nats::Client,
    setup: Setup,
}

impl Services {
    async fn ask(&self, service: &str, body: Value) -> Result<Value, BoxError> {
        let reply = self
            .client
            .request(
                self.setup.subject(service),
                serde_json::to_vec(&body)?.into(),
            )
            .await?;
        let reply: Value = serde_json::from_slice(&reply.payload)?;
        match reply.get("ok") {
            Some(value) => Ok(value.clone()),
            None => Err(reply["error"].as_str().unwrap_or("error").to_owned().into()),
        }
    }

    async fn wait_ready(&self, service: &str) -> Result<(), BoxError> {
        for _ in 0..300 {
            if self.ask(service, json!({ "op": "ping" })).await.is_ok() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(format!("the {service} service did not start").into())
    }

    /// Waits until `check` holds for the answer to `body`.
    async fn wait_until(
        &self,
        service: &str,
        body: Value,
        check: impl Fn(&Value) -> bool,
    ) -> Result<Value, BoxError> {
        for _ in 0..300 {
            let value = self.ask(service, body.clone()).await?;
            if check(&value) {
                return Ok(value);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(format!("timed out waiting for {service} {body}").into())
    }
}

/// A nats-server for the run, unless NATS_URL names one.
fn nats_server(dir: &Path) -> Result<(String, Option<std::process::Child>), BoxError> {
    if let Ok(url) = std::env::var("NATS_URL") {
        return Ok((url, None));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let child = std::process::Command::new("nats-server")
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir.join("jetstream"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start nats-server ({e}): install it (apt-get install nats-server) or set NATS_URL"))?;
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok((format!("nats://127.0.0.1:{port}"), Some(child)))
}

/// The three service processes of a run.
struct Fleet {
    nats: String,
    run: String,
    dir: PathBuf,
    chaos: bool,
    children: Vec<(&'static str, std::process::Child)>,
}

impl Fleet {
    fn spawn(&self, service: &'static str) -> Result<std::process::Child, BoxError> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join(format!("{service}.log")))?;
        Ok(std::process::Command::new(std::env::current_exe()?)
            .args([service, "--nats", &self.nats, "--run", &self.run, "--dir"])
            .arg(&self.dir)
            .args(self.chaos.then_some("--chaos"))
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?)
    }

    fn start(nats: String, dir: PathBuf, chaos: bool) -> Result<Self, BoxError> {
        let run = uuid::Uuid::now_v7().simple().to_string()[20..].to_owned();
        let mut fleet = Self {
            nats,
            run,
            dir,
            chaos,
            children: Vec::new(),
        };
        for service in ["orders", "inventory", "mailer"] {
            let child = fleet.spawn(service)?;
            fleet.children.push((service, child));
        }
        Ok(fleet)
    }

    /// SIGKILLs service `index` and starts it again.
    fn kill_and_restart(&mut self, index: usize) -> Result<&'static str, BoxError> {
        let service = self.children[index].0;
        let _ = self.children[index].1.kill();
        let _ = self.children[index].1.wait();
        self.children[index].1 = self.spawn(service)?;
        Ok(service)
    }

    fn setup(&self) -> Setup {
        Setup {
            nats: self.nats.clone(),
            run: self.run.clone(),
            dir: self.dir.clone(),
            chaos: self.chaos,
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn run_scenario(chaos: bool) -> Result<(), BoxError> {
    let name = if chaos {
        "nats-shop-chaos"
    } else {
        "nats-shop"
    };
    let dir = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/es-examples"
    ))
    .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let (nats, mut server) = nats_server(&dir)?;
    println!(
        "{name}: three services on {nats}, files in {}",
        dir.canonicalize()?.display()
    );
    let mut fleet = Fleet::start(nats.clone(), dir, chaos)?;
    let services = Services {
        client: async_nats::connect(&nats).await?,
        setup: fleet.setup(),
    };
    let outcome = if chaos {
        chaos_scenario(&services, &mut fleet).await
    } else {
        scenario(&services).await
    };
    drop(fleet);
    if let Some(server) = server.as_mut() {
        let _ = server.kill();
        let _ = server.wait();
    }
    outcome
}

/// Like a client would: retries a request until it is answered (the service may be restarting);
/// `done` says which errors mean it was done already.
async fn insist(
    s: &Services,
    service: &str,
    body: Value,
    done: impl Fn(&str) -> bool,
) -> Result<(), BoxError> {
    for _ in 0..600 {
        match s.ask(service, body.clone()).await {
            Ok(_) => return Ok(()),
            Err(error) if done(&error.to_string()) => return Ok(()),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    Err(format!("{service} never answered {body}").into())
}

/// Many orders while a service process is SIGKILLed (and restarted) every few hundred
/// milliseconds: every paid order still gets exactly one reservation and one mail.
async fn chaos_scenario(s: &Services, fleet: &mut Fleet) -> Result<(), BoxError> {
    const ORDERS: usize = 30;
    const KILLS: usize = 12;
    for service in ["orders", "inventory", "mailer"] {
        s.wait_ready(service).await?;
    }
    let placing = async {
        for i in 0..ORDERS {
            let (sku, quantity) = if i % 3 == 0 { ("tea", 1) } else { ("mug", 1) };
            let order = json!({ "customer": format!("customer-{i}"), "sku": sku, "quantity": quantity, "total": 100 });
            insist(
                s,
                "orders",
                json!({ "op": "place", "id": i.to_string(), "order": order }),
                |e| e.contains("exists already"),
            )
            .await?;
            // Spread over the kills, so that services die while events are in flight.
            tokio::time::sleep(Duration::from_millis(120)).await;
        }
        Ok::<_, BoxError>(())
    };
    let killing = async {
        let mut killed = Vec::new();
        for k in 0..KILLS {
            tokio::time::sleep(Duration::from_millis(150 + (k as u64 * 137) % 400)).await;
            killed.push(fleet.kill_and_restart(k % 3)?);
        }
        Ok::<_, BoxError>(killed)
    };
    let (placed, killed) = tokio::join!(placing, killing);
    placed?;
    let killed = killed?;
    println!(
        "{} SIGKILLs while placing {ORDERS} orders: {}",
        killed.len(),
        killed.join(", ")
    );
    let mut paid = Vec::new();
    for i in 0..ORDERS {
        let id = i.to_string();
        let status = s
            .wait_until("orders", json!({ "op": "status", "id": id }), |v| {
                v == "Confirmed" || v == "Cancelled"
            })
            .await?;
        if status == "Confirmed" {
            insist(
                s,
                "orders",
                json!({ "op": "pay", "id": id, "amount": 100 }),
                |e| e.contains("Paid"),
            )
            .await?;
            paid.push(format!("order-{id}"));
        }
    }
    let mails = s
        .wait_until("mailer", json!({ "op": "mails" }), |v| {
            v.as_array().is_some_and(|m| m.len() >= paid.len())
        })
        .await?;
    let mut reservations = Vec::new();
    for sku in ["mug", "tea"] {
        let orders = s
            .ask("inventory", json!({ "op": "reservations", "sku": sku }))
            .await?;
        reservations.extend(
            orders
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|o| o.as_str())
                .map(|o| format!("order-{o}")),
        );
    }
    let mut ok = mails.as_array().map_or(0, Vec::len) == paid.len();
    for order in &paid {
        let r = reservations.iter().filter(|o| *o == order).count();
        let m = mails
            .as_array()
            .into_iter()
            .flatten()
            .filter(|mail| mail[0] == order.as_str())
            .count();
        ok &= r == 1 && m == 1;
    }
    ok &= reservations.len()
        == reservations
            .iter()
            .collect::<std::collections::HashSet<_>>()
            .len();
    println!(
        "{} orders paid, {} reservations, {} mails; outcome: {}",
        paid.len(),
        reservations.len(),
        mails.as_array().map_or(0, Vec::len),
        if ok {
            "every paid order has exactly one reservation and one mail"
        } else {
            "MISMATCH"
        }
    );
    if ok {
        Ok(())
    } else {
        Err("the outcome does not match".into())
    }
}

async fn scenario(s: &Services) -> Result<(), BoxError> {
    for service in ["orders", "inventory", "mailer"] {
        s.wait_ready(service).await?;
    }
    println!("stock: mug 5, tea 1");
    let orders = [
        ("1", "ada", "mug", 2, 2500),
        ("2", "grace", "tea", 3, 900),
        ("3", "alan", "mug", 2, 2500),
        ("4", "linus", "mug", 2, 2500),
    ];
    for (id, customer, sku, quantity, total) in orders {
        let order =
            json!({ "customer": customer, "sku": sku, "quantity": quantity, "total": total });
        s.ask("orders", json!({ "op": "place", "id": id, "order": order }))
            .await?;
        println!("order {id}: {customer} places {quantity} x {sku} for {total}");
    }
    for (id, ..) in orders {
        let status = s
            .wait_until("orders", json!({ "op": "status", "id": id }), |v| {
                v == "Confirmed" || v == "Cancelled"
            })
            .await?;
        println!(
            "order {id}: {}",
            status.as_str().unwrap_or_default().to_lowercase()
        );
    }
    let before_payment = chrono::Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    match s
        .ask("orders", json!({ "op": "pay", "id": "3", "amount": 25 }))
        .await
    {
        Err(error) => println!("order 3: payment of 25 rejected: {error}"),
        Ok(_) => return Err("a wrong amount was accepted".into()),
    }
    for id in ["1", "3"] {
        s.ask("orders", json!({ "op": "pay", "id": id, "amount": 2500 }))
            .await?;
        println!("order {id}: paid 2500");
    }
    if s.ask("orders", json!({ "op": "pay", "id": "4", "amount": 2500 }))
        .await
        .is_err()
    {
        println!("order 4: payment refused (cancelled)");
    }
    let mails = s
        .wait_until("mailer", json!({ "op": "mails" }), |v| {
            v.as_array().is_some_and(|m| m.len() >= 2)
        })
        .await?;
    for mail in mails.as_array().into_iter().flatten() {
        println!(
            "mailer: {} -> {}",
            mail[0].as_str().unwrap_or_default(),
            mail[1].as_str().unwrap_or_default()
        );
    }

    // A time-range query and a replay to an earlier time, on the orders service's log.
    let now = chrono::Utc::now();
    let between = s
        .ask(
            "orders",
            json!({ "op": "between", "from": before_payment, "until": now }),
        )
        .await?;
    println!(
        "events recorded since the payments began: {}",
        between.as_array().map_or(0, Vec::len)
    );
    for line in between.as_array().into_iter().flatten() {
        println!("  {}", line.as_str().unwrap_or_default());
    }
    let then = s
        .ask(
            "orders",
            json!({ "op": "status_as_of", "id": "1", "at": before_payment }),
        )
        .await?;
    let current = s
        .ask("orders", json!({ "op": "status", "id": "1" }))
        .await?;
    println!("order 1 replayed to before its payment: {then}; now: {current}");

    // The outcome: every paid order has exactly one reservation and one mail.
    let reserved = s
        .ask("inventory", json!({ "op": "reservations", "sku": "mug" }))
        .await?;
    let stock = s
        .ask("inventory", json!({ "op": "stock", "sku": "mug" }))
        .await?;
    println!("inventory: mug reserved for orders {reserved}, stock {stock}");
    let mut ok = true;
    for id in ["1", "3"] {
        let reservations = reserved
            .as_array()
            .into_iter()
            .flatten()
            .filter(|o| *o == id)
            .count();
        let sent = mails
            .as_array()
            .into_iter()
            .flatten()
            .filter(|m| m[0] == format!("order-{id}"))
            .count();
        ok &= reservations == 1 && sent == 1;
        println!("order {id}: {reservations} reservation(s), {sent} mail(s)");
    }
    ok &= mails.as_array().map_or(0, Vec::len) == 2;
    println!(
        "outcome: {}",
        if ok {
            "every paid order has exactly one reservation and one mail"
        } else {
            "MISMATCH"
        }
    );
    if ok {
        Ok(())
    } else {
        Err("the outcome does not match".into())
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        None | Some("run") => run_scenario(false).await,
        Some("chaos") => run_scenario(true).await,
        Some("orders") => orders_service(Setup::from_args(&args)?).await,
        Some("inventory") => inventory_service(Setup::from_args(&args)?).await,
        Some("mailer") => mailer_service(Setup::from_args(&args)?).await,
        Some(other) => {
            Err(format!("unknown service {other}: run, orders, inventory or mailer").into())
        }
    }
}
