//! The shop example: shopping carts as event-sourced aggregates, and two read models that a
//! projection keeps in the same SQLite file, exactly once.
//!
//! ```sh
//! cargo run -p examples --example shop              # data in target/es-examples/shop.db
//! cargo run -p examples --example shop -- --db my.db
//! ```
//!
//! Every run fills a few carts (adding, removing and changing quantities), places and pays some
//! orders (with a rejected payment of the wrong amount and a rejected order of an empty cart), then
//! queries the read models: the open carts and the paid orders. The read models live in tables of
//! the event file; the projection commits its writes and its checkpoint in one transaction, so a
//! second run continues where the first stopped and counts nothing twice.

use es_core::prelude::*;
use es_core::{Projection, ProjectionRunner, RunnerState};
use es_sqlite::{SqliteStore, SqliteTx};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

// ---- events ---------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "cart.item_added")]
struct ItemAdded {
    sku: String,
    quantity: u32,
    unit_price: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "cart.item_removed")]
struct ItemRemoved {
    sku: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "cart.quantity_changed")]
struct QuantityChanged {
    sku: String,
    quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "order.placed")]
struct OrderPlaced {
    customer: String,
    total: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "order.paid")]
struct OrderPaid {
    amount: i64,
    payment_ref: String,
}

#[derive(Debug, Clone, PartialEq, DomainEvent)]
enum CartEvent {
    ItemAdded(ItemAdded),
    ItemRemoved(ItemRemoved),
    QuantityChanged(QuantityChanged),
    OrderPlaced(OrderPlaced),
    OrderPaid(OrderPaid),
}

// ---- the aggregate ----------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Default, PartialEq)]
enum Stage {
    #[default]
    Shopping,
    Placed,
    Paid,
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "cart", events = CartEvent)]
struct Cart {
    stage: Stage,
    lines: BTreeMap<String, Line>,
    total_due: i64,
}

#[derive(Debug, Clone, Copy)]
struct Line {
    quantity: u32,
    unit_price: i64,
}

impl Cart {
    fn total(&self) -> i64 {
        self.lines
            .values()
            .map(|l| i64::from(l.quantity) * l.unit_price)
            .sum()
    }
}

#[event_handler]
impl Cart {
    fn item_added(&mut self, e: &ItemAdded) {
        let line = self.lines.entry(e.sku.clone()).or_insert(Line {
            quantity: 0,
            unit_price: e.unit_price,
        });
        line.quantity += e.quantity;
    }
    fn item_removed(&mut self, e: &ItemRemoved) {
        self.lines.remove(&e.sku);
    }
    fn quantity_changed(&mut self, e: &QuantityChanged) {
        if let Some(line) = self.lines.get_mut(&e.sku) {
            line.quantity = e.quantity;
        }
    }
    fn order_placed(&mut self, e: &OrderPlaced) {
        self.stage = Stage::Placed;
        self.total_due = e.total;
    }
    fn order_paid(&mut self, _: &OrderPaid) {
        self.stage = Stage::Paid;
    }
}

// ---- commands ---------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct AddItem {
    sku: String,
    quantity: u32,
    unit_price: i64,
}
#[derive(Debug, Clone)]
struct RemoveItem {
    sku: String,
}
#[derive(Debug, Clone)]
struct ChangeQuantity {
    sku: String,
    quantity: u32,
}
#[derive(Debug, Clone)]
struct PlaceOrder {
    customer: String,
}
#[derive(Debug, Clone)]
struct PayOrder {
    amount: i64,
    payment_ref: String,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum CartError {
    #[error("the order is already placed; the cart cannot change")]
    NotShopping,
    #[error("a quantity must be at least 1")]
    ZeroQuantity,
    #[error("{0} is not in the cart")]
    NotInCart(String),
    #[error("an empty cart cannot be ordered")]
    Empty,
    #[error("the order is not placed yet")]
    NotPlaced,
    #[error("the order is already paid")]
    AlreadyPaid,
    #[error("paid {paid}, but {due} is due")]
    WrongAmount { paid: i64, due: i64 },
}

#[command_handler]
impl Cart {
    fn add_item(&self, cmd: AddItem) -> Result<ItemAdded, CartError> {
        self.ensure_shopping()?;
        if cmd.quantity == 0 {
            return Err(CartError::ZeroQuantity);
        }
        Ok(ItemAdded {
            sku: cmd.sku,
            quantity: cmd.quantity,
            unit_price: cmd.unit_price,
        })
    }

    fn remove_item(&self, cmd: RemoveItem) -> Result<ItemRemoved, CartError> {
        self.ensure_shopping()?;
        self.ensure_in_cart(&cmd.sku)?;
        Ok(ItemRemoved { sku: cmd.sku })
    }

    fn change_quantity(&self, cmd: ChangeQuantity) -> Result<CartEvent, CartError> {
        self.ensure_shopping()?;
        self.ensure_in_cart(&cmd.sku)?;
        // Changing to zero removes the line.
        Ok(if cmd.quantity == 0 {
            ItemRemoved { sku: cmd.sku }.into()
        } else {
            QuantityChanged {
                sku: cmd.sku,
                quantity: cmd.quantity,
            }
            .into()
        })
    }

    fn place_order(&self, cmd: PlaceOrder) -> Result<OrderPlaced, CartError> {
        self.ensure_shopping()?;
        if self.lines.is_empty() {
            return Err(CartError::Empty);
        }
        Ok(OrderPlaced {
            customer: cmd.customer,
            total: self.total(),
        })
    }

    fn pay_order(&self, cmd: PayOrder) -> Result<OrderPaid, CartError> {
        match self.stage {
            Stage::Shopping => return Err(CartError::NotPlaced),
            Stage::Paid => return Err(CartError::AlreadyPaid),
            Stage::Placed => {}
        }
        if cmd.amount != self.total_due {
            return Err(CartError::WrongAmount {
                paid: cmd.amount,
                due: self.total_due,
            });
        }
        Ok(OrderPaid {
            amount: cmd.amount,
            payment_ref: cmd.payment_ref,
        })
    }
}

impl Cart {
    fn ensure_shopping(&self) -> Result<(), CartError> {
        if self.stage == Stage::Shopping {
            Ok(())
        } else {
            Err(CartError::NotShopping)
        }
    }
    fn ensure_in_cart(&self, sku: &str) -> Result<(), CartError> {
        if self.lines.contains_key(sku) {
            Ok(())
        } else {
            Err(CartError::NotInCart(sku.to_owned()))
        }
    }
}

// ---- the read models --------------------------------------------------------------------------

/// Open carts (items and value per cart) and paid orders, as tables in the event file.
struct ShopViews;

impl ShopViews {
    async fn create_tables(store: &SqliteStore) -> Result<(), sqlx::Error> {
        for ddl in [
            "CREATE TABLE IF NOT EXISTS open_carts (
                 cart TEXT NOT NULL, sku TEXT NOT NULL, quantity INTEGER NOT NULL,
                 unit_price INTEGER NOT NULL, PRIMARY KEY (cart, sku))",
            "CREATE TABLE IF NOT EXISTS paid_orders (
                 cart TEXT PRIMARY KEY, customer TEXT NOT NULL, total INTEGER NOT NULL,
                 payment_ref TEXT NOT NULL, paid_at TEXT NOT NULL)",
            "CREATE TABLE IF NOT EXISTS placed_orders (
                 cart TEXT PRIMARY KEY, customer TEXT NOT NULL)",
        ] {
            sqlx::query(ddl).execute(store.pool()).await?;
        }
        Ok(())
    }
}

#[event_handler]
impl ShopViews {
    async fn item_added(
        &mut self,
        e: &ItemAdded,
        meta: &EventMeta,
        tx: &mut SqliteTx<'_>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO open_carts (cart, sku, quantity, unit_price) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (cart, sku) DO UPDATE SET quantity = quantity + excluded.quantity",
        )
        .bind(meta.stream_id.as_str())
        .bind(&e.sku)
        .bind(e.quantity)
        .bind(e.unit_price)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    async fn item_removed(
        &mut self,
        e: &ItemRemoved,
        meta: &EventMeta,
        tx: &mut SqliteTx<'_>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM open_carts WHERE cart = ?1 AND sku = ?2")
            .bind(meta.stream_id.as_str())
            .bind(&e.sku)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn quantity_changed(
        &mut self,
        e: &QuantityChanged,
        meta: &EventMeta,
        tx: &mut SqliteTx<'_>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE open_carts SET quantity = ?3 WHERE cart = ?1 AND sku = ?2")
            .bind(meta.stream_id.as_str())
            .bind(&e.sku)
            .bind(e.quantity)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// A placed order is no longer an open cart.
    async fn order_placed(
        &mut self,
        e: &OrderPlaced,
        meta: &EventMeta,
        tx: &mut SqliteTx<'_>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM open_carts WHERE cart = ?1")
            .bind(meta.stream_id.as_str())
            .execute(&mut **tx)
            .await?;
        sqlx::query("INSERT INTO placed_orders (cart, customer) VALUES (?1, ?2)")
            .bind(meta.stream_id.as_str())
            .bind(&e.customer)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    async fn order_paid(
        &mut self,
        e: &OrderPaid,
        meta: &EventMeta,
        tx: &mut SqliteTx<'_>,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO paid_orders (cart, customer, total, payment_ref, paid_at)
             SELECT cart, customer, ?2, ?3, ?4 FROM placed_orders WHERE cart = ?1",
        )
        .bind(meta.stream_id.as_str())
        .bind(e.amount)
        .bind(&e.payment_ref)
        .bind(meta.recorded_at.to_rfc3339())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

impl<'c> Projection<SqliteTx<'c>> for ShopViews {
    fn name(&self) -> &str {
        "shop-views"
    }
}

// ---- the application ------------------------------------------------------------------------

fn db_path() -> Result<PathBuf, String> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None, _) => Ok(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/es-examples/shop.db"
        ))),
        (Some("--db"), Some(path)) => Ok(PathBuf::from(path)),
        _ => Err("usage: shop [--db PATH]".into()),
    }
}

fn add(sku: &str, quantity: u32, unit_price: i64) -> AddItem {
    AddItem {
        sku: sku.into(),
        quantity,
        unit_price,
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let path = db_path()?;
    let store = SqliteStore::open(&path).await?;
    let shown = path.canonicalize().unwrap_or(path);
    println!("shop: events and read models in {}", shown.display());
    ShopViews::create_tables(&store).await?;
    let views = ProjectionRunner::new(store.clone(), store.clone(), ShopViews).spawn();
    let carts = Repository::<Cart, _>::new(store.clone());

    // Cart ids are new on every run, so a second run adds to the first one's data.
    let run = uuid::Uuid::now_v7().simple().to_string();
    let run = &run[run.len() - 6..];
    let (paid, open, empty) = (
        format!("{run}-ada"),
        format!("{run}-grace"),
        format!("{run}-alan"),
    );

    carts.execute(&paid, add("coffee-beans", 2, 1250)).await?;
    carts.execute(&paid, add("mug", 1, 900)).await?;
    carts
        .execute(
            &paid,
            ChangeQuantity {
                sku: "coffee-beans".into(),
                quantity: 3,
            },
        )
        .await?;
    carts
        .execute(&paid, RemoveItem { sku: "mug".into() })
        .await?;
    carts
        .execute(
            &paid,
            PlaceOrder {
                customer: "Ada".into(),
            },
        )
        .await?;
    let cart = carts.load(&paid).await?;
    match carts
        .execute(
            &paid,
            PayOrder {
                amount: 100,
                payment_ref: "card-1".into(),
            },
        )
        .await
    {
        Err(ExecuteError::Rejected(e)) => println!("cart {paid}: payment of 100 rejected: {e}"),
        other => return Err(format!("a wrong amount must be rejected, got {other:?}").into()),
    }
    carts
        .execute(
            &paid,
            PayOrder {
                amount: cart.total_due,
                payment_ref: "card-2".into(),
            },
        )
        .await?;
    println!("cart {paid}: ordered and paid {}", cart.total_due);

    carts.execute(&open, add("notebook", 3, 400)).await?;
    carts.execute(&open, add("pen", 10, 120)).await?;
    carts
        .execute(
            &open,
            ChangeQuantity {
                sku: "pen".into(),
                quantity: 0,
            },
        )
        .await?;
    carts.execute(&open, add("pencil", 4, 80)).await?;
    println!("cart {open}: still shopping");

    match carts
        .execute(
            &empty,
            PlaceOrder {
                customer: "Alan".into(),
            },
        )
        .await
    {
        Err(ExecuteError::Rejected(e)) => println!("cart {empty}: order rejected: {e}"),
        other => return Err(format!("an empty cart must not be ordered, got {other:?}").into()),
    }

    // The projection follows the log live; wait until it has everything, then query.
    let head = store.head_position().await?;
    let status = views
        .wait_for(|s| s.state == RunnerState::Live && s.checkpoint.position >= head)
        .await;
    views.stop().await?;
    println!(
        "\nread models at position {} ({} events projected this run)",
        status.checkpoint.position, status.processed
    );

    println!("\nopen carts:");
    let open_carts: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT cart, sum(quantity), sum(quantity * unit_price) FROM open_carts
         GROUP BY cart ORDER BY cart",
    )
    .fetch_all(store.pool())
    .await?;
    for (cart, items, value) in &open_carts {
        println!("  {cart:<14} {items:>3} items  {value:>7}");
    }

    println!("\npaid orders:");
    let paid_orders: Vec<(String, String, i64, String, String)> = sqlx::query_as(
        "SELECT cart, customer, total, payment_ref, paid_at FROM paid_orders ORDER BY paid_at",
    )
    .fetch_all(store.pool())
    .await?;
    for (cart, customer, total, payment, at) in &paid_orders {
        println!("  {cart:<14} {customer:<8} {total:>7}  {payment:<8} {at}");
    }
    let revenue: i64 = paid_orders.iter().map(|o| o.2).sum();
    println!("  revenue: {revenue}");
    Ok(())
}
