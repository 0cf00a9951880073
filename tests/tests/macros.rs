//! The code the macros generate, exercised at runtime: names, versions, aliases, upcast chains
//! (`with` and `via`), event sets decoding by stable names, apply dispatch, read-model handlers
//! (sync and async, with metadata and a context), `event_types()`, and command handlers.
#![deny(warnings)]

use es_core::prelude::*;
use es_core::{
    Apply, DecodeErrorKind, MemoryStore, NewEvent, RecordedEvent, testing::AggregateTest,
};
use futures::TryStreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

// ---- events ---------------------------------------------------------------------------------

/// Version 1 stored `{"name": ..}`; version 2 `{"owner": .., "currency": ..}`; today `tier` too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(
    name = "shop.opened",
    version = 3,
    aliases = ["store.opened"],
    upcast(from = 1, with = opened_v1_to_v2),
    upcast(from = 2, via = OpenedV2)
)]
struct Opened {
    owner: String,
    currency: String,
    tier: String,
}

fn opened_v1_to_v2(v1: serde_json::Value) -> Result<serde_json::Value, String> {
    let name = v1
        .get("name")
        .and_then(|n| n.as_str())
        .ok_or("a v1 shop.opened has a string `name`")?;
    Ok(serde_json::json!({ "owner": name, "currency": "EUR" }))
}

/// The shape of version 2.
#[derive(Deserialize)]
struct OpenedV2 {
    owner: String,
    currency: String,
}

impl From<OpenedV2> for Opened {
    fn from(v2: OpenedV2) -> Self {
        Opened {
            owner: v2.owner,
            currency: v2.currency,
            tier: "basic".into(),
        }
    }
}

/// Name defaults to the type name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
struct Sold {
    item: String,
    cents: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "shop.refunded")]
struct Refunded {
    cents: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "shop.audited")]
struct Audited {}

#[derive(Debug, Clone, PartialEq, DomainEvent)]
enum ShopEvent {
    Opened(Opened),
    Sold(Sold),
    Refunded(Refunded),
    Audited(Audited),
}

/// A second set sharing an event with the first: the stored form does not depend on the set.
#[derive(Debug, Clone, PartialEq, DomainEvent)]
enum MoneyEvent {
    Sold(Sold),
    Refunded(Refunded),
}

// ---- the aggregate --------------------------------------------------------------------------

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize, Aggregate)]
#[aggregate(name = "shop", events = ShopEvent, snapshot_every = 3, snapshot_version = 2, ignore(Audited))]
struct Shop {
    owner: Option<String>,
    tier: String,
    revenue: i64,
    sales: u32,
}

#[event_handler]
impl Shop {
    fn opened(&mut self, e: &Opened) {
        self.owner = Some(e.owner.clone());
        self.tier.clone_from(&e.tier);
    }
    fn sold(&mut self, e: &Sold) {
        self.revenue += e.cents;
        self.sales += 1;
    }
    fn r#refunded(&mut self, e: &Refunded) {
        self.revenue -= e.cents;
    }
}

#[derive(Debug, Clone)]
struct Open(String);
#[derive(Debug, Clone)]
struct Sell(Vec<(String, i64)>);
#[derive(Debug, Clone)]
struct Refund(i64);
#[derive(Debug, Clone)]
struct Audit;
#[derive(Debug, Clone)]
struct Noop;

#[derive(Debug, PartialEq, thiserror::Error)]
enum ShopError {
    #[error("the shop is not open")]
    NotOpen,
    #[error("the price service is down")]
    PriceServiceDown,
}

async fn price_service(cents: i64) -> Result<i64, ShopError> {
    tokio::task::yield_now().await;
    if cents < 0 {
        Err(ShopError::PriceServiceDown)
    } else {
        Ok(cents)
    }
}

#[command_handler]
impl Shop {
    /// One event.
    fn open(&self, cmd: Open) -> Result<Opened, ShopError> {
        Ok(Opened {
            owner: cmd.0,
            currency: "EUR".into(),
            tier: "gold".into(),
        })
    }

    /// Several events, async (calls a "service").
    async fn sell(&self, cmd: Sell) -> Result<Vec<Sold>, ShopError> {
        if self.owner.is_none() {
            return Err(ShopError::NotOpen);
        }
        let mut sold = Vec::new();
        for (item, cents) in cmd.0 {
            sold.push(Sold {
                item,
                cents: price_service(cents).await?,
            });
        }
        Ok(sold)
    }

    /// A set value.
    fn refund(&self, cmd: Refund) -> Result<ShopEvent, ShopError> {
        Ok(ShopEvent::Refunded(Refunded { cents: cmd.0 }))
    }

    /// An ignored event: stored, not applied.
    fn audit(&self, _: Audit) -> Result<Vec<ShopEvent>, std::convert::Infallible> {
        Ok(vec![Audited {}.into()])
    }

    /// No events.
    fn noop(&self, _: Noop) -> Result<(), std::convert::Infallible> {
        Ok(())
    }
}

// ---- a read model ---------------------------------------------------------------------------

/// Handles events from two sets, sync and async, with metadata and a context.
#[derive(Debug, Default)]
struct Ledger {
    lines: Vec<String>,
}

/// The context of the ledger: what a transaction would be for a database read model.
#[derive(Debug, Default)]
struct Journal<'a> {
    tag: &'a str,
    written: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("refunds above 1000 need approval")]
struct NeedsApproval;

#[event_handler]
impl Ledger {
    fn opened(&mut self, e: &Opened, meta: &EventMeta) {
        self.lines.push(format!(
            "{} opened by {} (v{})",
            meta.stream_id, e.owner, meta.schema_version
        ));
    }

    async fn sold(&mut self, e: &Sold, journal: &mut Journal<'_>, meta: &EventMeta) {
        tokio::task::yield_now().await;
        journal
            .written
            .push(format!("{}:{}@{}", journal.tag, e.item, meta.position));
        self.lines.push(format!("sold {} for {}", e.item, e.cents));
    }

    async fn refunded(&mut self, e: &Refunded) -> Result<(), NeedsApproval> {
        if e.cents > 1000 {
            return Err(NeedsApproval);
        }
        self.lines.push(format!("refunded {}", e.cents));
        Ok(())
    }
}

/// A read model over a whole set, with a plain `fn(&mut self, &E)`: also an `Apply` impl.
#[derive(Debug, Default)]
struct MoneyCount {
    events: usize,
}

#[event_handler]
impl MoneyCount {
    fn money(&mut self, _: &MoneyEvent) {
        self.events += 1;
    }
}

// ---- generics -------------------------------------------------------------------------------

/// A generic event and aggregate: bounds as the traits need them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "generic.added")]
struct Added<T> {
    item: T,
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "bag", events = Added<T>)]
struct Bag<T: Clone + Default + Send + Sync + Serialize + DeserializeOwned + 'static> {
    items: Vec<T>,
}

#[event_handler]
impl<T> Bag<T>
where
    T: Clone + Default + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    fn added(&mut self, e: &Added<T>) {
        self.items.push(e.item.clone());
    }
}

#[derive(Debug, Clone)]
struct Put<T>(T);

#[command_handler]
impl<T> Bag<T>
where
    T: Clone + Default + Send + Sync + Serialize + DeserializeOwned + 'static,
{
    fn put(&self, cmd: Put<T>) -> Result<Added<T>, std::convert::Infallible> {
        Ok(Added { item: cmd.0 })
    }
}

// ---- tests ----------------------------------------------------------------------------------

fn recorded(event_type: &str, schema_version: u32, payload: serde_json::Value) -> RecordedEvent {
    RecordedEvent {
        meta: EventMeta {
            event_id: es_core::EventId::new(),
            stream_id: StreamId::new("shop-1").unwrap(),
            version: Version(1),
            position: Position(7),
            commit: 7,
            event_type: event_type.into(),
            schema_version,
            recorded_at: chrono::Utc::now(),
            metadata: Metadata::default(),
            tags: Vec::new(),
        },
        payload,
    }
}

#[test]
fn event_constants_come_from_the_attribute() {
    assert_eq!(<Opened as Event>::NAME, "shop.opened");
    assert_eq!(<Opened as Event>::VERSION, 3);
    assert_eq!(<Opened as Event>::ALIASES, ["store.opened"]);
    assert_eq!(<Sold as Event>::NAME, "Sold");
    assert_eq!(<Sold as Event>::VERSION, 1);
    assert!(<Sold as Event>::ALIASES.is_empty());
    assert_eq!(<Added<i32> as Event>::NAME, "generic.added");
}

#[test]
fn events_encode_with_name_version_and_payload() {
    let e = NewEvent::from_event(
        &Sold {
            item: "tea".into(),
            cents: 250,
        },
        Metadata::default(),
    )
    .unwrap();
    assert_eq!((e.event_type.as_str(), e.schema_version), ("Sold", 1));
    assert_eq!(
        e.payload,
        serde_json::json!({ "item": "tea", "cents": 250 })
    );
    // Through a set: the very same stored form.
    let via_set = NewEvent::from_event(
        &ShopEvent::Sold(Sold {
            item: "tea".into(),
            cents: 250,
        }),
        Metadata::default(),
    )
    .unwrap();
    assert_eq!(
        (via_set.event_type, via_set.schema_version, via_set.payload),
        (e.event_type, e.schema_version, e.payload)
    );
    let opened = ShopEvent::from(Opened {
        owner: "o".into(),
        currency: "EUR".into(),
        tier: "t".into(),
    });
    assert_eq!(
        (opened.event_type(), opened.schema_version()),
        ("shop.opened", 3)
    );
}

#[test]
fn upcast_chain_runs_with_then_via() {
    let expected = Opened {
        owner: "Ann".into(),
        currency: "EUR".into(),
        tier: "basic".into(),
    };
    // v1 -> with -> v2 -> via -> v3
    let v1 = Opened::from_payload("shop.opened", 1, serde_json::json!({ "name": "Ann" })).unwrap();
    assert_eq!(v1, expected);
    // v2 -> via -> v3
    let v2 = Opened::from_payload(
        "shop.opened",
        2,
        serde_json::json!({ "owner": "Ann", "currency": "EUR" }),
    )
    .unwrap();
    assert_eq!(v2, expected);
    // The one-step function is what the macro generates.
    let (version, _) = Opened::upcast(1, serde_json::json!({ "name": "Ann" })).unwrap();
    assert_eq!(version, 2);
    assert!(matches!(
        Opened::upcast(7, serde_json::json!({})),
        Err(DecodeErrorKind::MissingUpcast { from: 7 })
    ));
}

#[test]
fn failing_upcast_steps_report_the_step() {
    let with = Opened::from_payload("shop.opened", 1, serde_json::json!({ "nom": "Ann" }));
    match with {
        Err(DecodeErrorKind::Upcast { from: 1, message }) => {
            assert!(message.contains("string `name`"), "{message}")
        }
        other => panic!("expected an upcast error from 1, got {other:?}"),
    }
    let via = Opened::from_payload("shop.opened", 2, serde_json::json!({ "owner": 5 }));
    assert!(
        matches!(via, Err(DecodeErrorKind::Upcast { from: 2, .. })),
        "{via:?}"
    );
}

#[test]
fn aliases_decode_as_the_current_type() {
    assert!(Opened::handles("store.opened"));
    let e =
        ShopEvent::from_payload("store.opened", 1, serde_json::json!({ "name": "Bo" })).unwrap();
    assert_eq!(
        e,
        ShopEvent::Opened(Opened {
            owner: "Bo".into(),
            currency: "EUR".into(),
            tier: "basic".into()
        })
    );
    // It is written back under its current name.
    assert_eq!(e.event_type(), "shop.opened");
}

#[test]
fn sets_decode_by_stable_names_not_serde_tags() {
    assert_eq!(
        ShopEvent::event_types(),
        [
            "shop.opened",
            "store.opened",
            "Sold",
            "shop.refunded",
            "shop.audited"
        ]
    );
    assert_eq!(MoneyEvent::event_types(), ["Sold", "shop.refunded"]);
    let payload = serde_json::json!({ "cents": 5 });
    assert_eq!(
        MoneyEvent::from_payload("shop.refunded", 1, payload.clone()).unwrap(),
        MoneyEvent::Refunded(Refunded { cents: 5 })
    );
    assert_eq!(
        ShopEvent::from_payload("shop.refunded", 1, payload.clone()).unwrap(),
        ShopEvent::Refunded(Refunded { cents: 5 })
    );
    // The variant name is not a stored name.
    assert!(matches!(
        ShopEvent::from_payload("Refunded", 1, payload.clone()),
        Err(DecodeErrorKind::UnknownType {
            target: "ShopEvent"
        })
    ));
    assert!(matches!(
        MoneyEvent::from_payload("shop.opened", 1, payload.clone()),
        Err(DecodeErrorKind::UnknownType { .. })
    ));
    assert!(matches!(
        ShopEvent::from_payload("shop.refunded", 2, payload),
        Err(DecodeErrorKind::TooNew {
            found: 2,
            supported: 1
        })
    ));
    assert!(matches!(
        ShopEvent::from_payload("shop.refunded", 1, serde_json::json!({ "cents": "x" })),
        Err(DecodeErrorKind::Payload(_))
    ));
}

#[test]
fn apply_dispatch_and_ignored_events() {
    let mut shop = Shop::default();
    for e in [
        ShopEvent::from(Opened {
            owner: "Cy".into(),
            currency: "EUR".into(),
            tier: "gold".into(),
        }),
        Sold {
            item: "a".into(),
            cents: 10,
        }
        .into(),
        Audited {}.into(),
        Refunded { cents: 3 }.into(),
    ] {
        Aggregate::apply(&mut shop, &e);
    }
    assert_eq!(
        shop,
        Shop {
            owner: Some("Cy".into()),
            tier: "gold".into(),
            revenue: 7,
            sales: 1
        }
    );
    assert_eq!(
        (Shop::NAME, Shop::SNAPSHOT_EVERY, Shop::SNAPSHOT_VERSION),
        ("shop", 3, 2)
    );
    let snapshot = shop.to_snapshot().unwrap().unwrap();
    assert_eq!(Shop::from_snapshot(snapshot).unwrap().unwrap(), shop);
}

#[test]
fn command_handlers_through_the_test_kit() {
    AggregateTest::<Shop>::given_nothing()
        .when(Open("Di".into()))
        .then([ShopEvent::Opened(Opened {
            owner: "Di".into(),
            currency: "EUR".into(),
            tier: "gold".into(),
        })]);
    AggregateTest::<Shop>::given_nothing()
        .when(Sell(vec![("x".into(), 1)]))
        .then_error(ShopError::NotOpen);
    AggregateTest::<Shop>::given([Opened {
        owner: "Di".into(),
        currency: "EUR".into(),
        tier: "gold".into(),
    }])
    .when(Sell(vec![("x".into(), 1), ("y".into(), 2)]))
    .then([
        Sold {
            item: "x".into(),
            cents: 1,
        },
        Sold {
            item: "y".into(),
            cents: 2,
        },
    ]);
    AggregateTest::<Shop>::given([Opened {
        owner: "Di".into(),
        currency: "EUR".into(),
        tier: "gold".into(),
    }])
    .when(Sell(vec![("x".into(), -1)]))
    .then_error(ShopError::PriceServiceDown);
    AggregateTest::<Shop>::given_nothing()
        .when(Refund(4))
        .then([Refunded { cents: 4 }]);
    AggregateTest::<Shop>::given_nothing()
        .when(Audit)
        .then([Audited {}]);
    AggregateTest::<Shop>::given_nothing()
        .when(Noop)
        .then_nothing();
}

#[tokio::test]
async fn repository_runs_async_command_handlers_and_snapshots() {
    let shops = Repository::<Shop, _>::new(MemoryStore::new());
    shops.execute("1", Open("Ed".into())).await.unwrap();
    shops
        .execute("1", Sell(vec![("a".into(), 5), ("b".into(), 6)]))
        .await
        .unwrap();
    shops.execute("1", Audit).await.unwrap();
    shops.execute("1", Refund(2)).await.unwrap();
    let shop = shops.load("1").await.unwrap();
    assert_eq!(
        (shop.revenue, shop.sales, shop.tier.as_str()),
        (9, 2, "gold")
    );
    let stream = StreamId::for_aggregate("shop", "1").unwrap();
    let snapshot = shops.store().load_snapshot(&stream).await.unwrap();
    assert_eq!(snapshot.map(|s| s.schema_version), Some(2));
}

#[tokio::test]
async fn read_model_dispatch_with_meta_context_and_errors() {
    let mut ledger = Ledger::default();
    assert_eq!(
        EventHandler::<Journal<'_>>::event_types(&ledger),
        ["shop.opened", "store.opened", "Sold", "shop.refunded"]
    );
    let mut journal = Journal {
        tag: "j",
        written: Vec::new(),
    };
    ledger
        .handle(
            &recorded("store.opened", 1, serde_json::json!({ "name": "Fa" })),
            &mut journal,
        )
        .await
        .unwrap();
    ledger
        .handle(
            &recorded("Sold", 1, serde_json::json!({ "item": "pen", "cents": 3 })),
            &mut journal,
        )
        .await
        .unwrap();
    ledger
        .handle(
            &recorded("shop.refunded", 1, serde_json::json!({ "cents": 2 })),
            &mut journal,
        )
        .await
        .unwrap();
    // Not handled: ignored.
    ledger
        .handle(
            &recorded("shop.audited", 1, serde_json::json!({})),
            &mut journal,
        )
        .await
        .unwrap();
    assert_eq!(
        ledger.lines,
        ["shop-1 opened by Fa (v1)", "sold pen for 3", "refunded 2"]
    );
    assert_eq!(journal.written, ["j:pen@7"]);

    let failed = ledger
        .handle(
            &recorded("shop.refunded", 1, serde_json::json!({ "cents": 2000 })),
            &mut journal,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(failed, es_core::HandlerError::Failed(_)),
        "{failed}"
    );
    let undecodable = ledger
        .handle(
            &recorded("Sold", 1, serde_json::json!({ "item": 1 })),
            &mut journal,
        )
        .await
        .unwrap_err();
    match undecodable {
        es_core::HandlerError::Decode(e) => {
            assert_eq!(
                (e.stream.as_str(), e.event_type.as_str()),
                ("shop-1", "Sold")
            )
        }
        other => panic!("expected a decode error, got {other}"),
    }
}

#[tokio::test]
async fn read_model_over_a_set_filters_read_all_by_its_event_types() {
    let shops = Repository::<Shop, _>::new(MemoryStore::new());
    shops.execute("1", Open("Gu".into())).await.unwrap();
    shops
        .execute("1", Sell(vec![("a".into(), 5)]))
        .await
        .unwrap();
    shops.execute("1", Refund(1)).await.unwrap();
    shops.execute("1", Audit).await.unwrap();

    let mut count = MoneyCount::default();
    let types = EventHandler::<()>::event_types(&count);
    assert_eq!(types, ["Sold", "shop.refunded"]);
    let events: Vec<_> = shops
        .store()
        .read_all(ReadAll::new().event_types(types))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(events.len(), 2);
    for event in &events {
        count.handle(event, &mut ()).await.unwrap();
    }
    assert_eq!(count.events, 2);
    // The plain method is an `Apply` impl too.
    Apply::<MoneyEvent>::apply(&mut count, &MoneyEvent::Refunded(Refunded { cents: 1 }));
    assert_eq!(count.events, 3);
}

#[tokio::test]
async fn generic_aggregates_work() {
    let bags = Repository::<Bag<String>, _>::new(MemoryStore::new());
    bags.execute("b", Put("x".to_owned())).await.unwrap();
    bags.execute("b", Put("y".to_owned())).await.unwrap();
    assert_eq!(bags.load("b").await.unwrap().items, ["x", "y"]);
}

// ---- first matching handler -----------------------------------------------------------------

/// An event's own handler above its set's handler: the event goes to its own, the set's handler
/// gets the others (the first matching method runs; the reverse order is a compile error).
#[derive(Default)]
struct Refunds {
    lines: Vec<String>,
}

#[event_handler]
impl Refunds {
    async fn refunded(&mut self, e: &Refunded, meta: &EventMeta) {
        self.lines
            .push(format!("refund {} on {}", e.cents, meta.stream_id));
    }

    async fn money(&mut self, e: &MoneyEvent, _: &EventMeta) {
        self.lines.push(format!("money {e:?}"));
    }
}

#[tokio::test]
async fn an_event_handler_above_its_set_handler_takes_that_event() {
    let mut refunds = Refunds::default();
    for event in [
        recorded("shop.refunded", 1, serde_json::json!({ "cents": 2 })),
        recorded("Sold", 1, serde_json::json!({ "item": "pen", "cents": 3 })),
    ] {
        refunds.handle(&event, &mut ()).await.unwrap();
    }
    assert_eq!(
        refunds.lines,
        [
            "refund 2 on shop-1",
            r#"money Sold(Sold { item: "pen", cents: 3 })"#
        ]
    );
    // Both handlers' names, each once.
    assert_eq!(
        EventHandler::<()>::event_types(&refunds),
        ["shop.refunded", "Sold"]
    );
}

/// Through its apply block, an aggregate is also an event handler of its events.
#[tokio::test]
async fn an_aggregate_apply_block_handles_recorded_events() {
    let mut names: Vec<String> = Vec::new();
    let mut money = MoneyCount::default();
    for event in [
        recorded("Sold", 1, serde_json::json!({ "item": "pen", "cents": 3 })),
        recorded("shop.audited", 1, serde_json::json!({})),
    ] {
        money.handle(&event, &mut names).await.unwrap();
    }
    assert_eq!(money.events, 1);
}
