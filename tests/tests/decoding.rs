//! Decoding what older code stored, on every adapter.
//!
//! The stored events here are written as raw rows (raw SQL `INSERT`s into `es_events` for SQLite
//! and PostgreSQL, raw `NewEvent`s for the in-memory store), never through today's Rust types: they are what a
//! version of the application from two schema changes ago wrote. They must load through the
//! 2-step upcast chain (`with` then `via`) and the alias into today's types; an unknown name, a
//! too new version or an undecodable payload must fail with an error naming stream, version,
//! position and type.
//!
//! Adding an adapter is one `impl RawRows` (fresh store, raw inserts, clean-up) and one entry in
//! the `adapters` list of `on_every_adapter!`.
#![deny(warnings)]

use es_core::prelude::*;
use es_core::{DecodeError, DecodeErrorKind, MemoryStore, NewEvent, RepositoryError};
use es_sqlite::SqliteStore;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

// ---- today's code ---------------------------------------------------------------------------

/// v1: `{"holder": "Ann"}`. v2: `{"owner": "Ann", "currency": "EUR"}` (renamed field, currency
/// added). v3 (today): also `limit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(
    name = "account.opened",
    version = 3,
    upcast(from = 1, with = opened_v1_to_v2),
    upcast(from = 2, via = OpenedV2)
)]
struct Opened {
    owner: String,
    currency: String,
    limit: i64,
}

fn opened_v1_to_v2(mut v1: serde_json::Value) -> Result<serde_json::Value, String> {
    let object = v1
        .as_object_mut()
        .ok_or("a v1 account.opened is a JSON object")?;
    let holder = object
        .remove("holder")
        .ok_or("a v1 account.opened has a `holder`")?;
    object.insert("owner".into(), holder);
    object.insert("currency".into(), "EUR".into());
    Ok(v1)
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
            limit: 0,
        }
    }
}

/// Stored as `credit` by the old code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited", aliases = ["credit"])]
struct Deposited {
    amount: i64,
}

#[derive(Debug, Clone, PartialEq, DomainEvent)]
enum AccountEvent {
    Opened(Opened),
    Deposited(Deposited),
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "account", events = AccountEvent)]
struct Account {
    owner: String,
    currency: String,
    limit: i64,
    balance: i64,
}

#[event_handler]
impl Account {
    fn opened(&mut self, e: &Opened) {
        self.owner.clone_from(&e.owner);
        self.currency.clone_from(&e.currency);
        self.limit = e.limit;
    }
    fn deposited(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
}

// ---- raw rows, per adapter ------------------------------------------------------------------

/// One stored event exactly as older code wrote it: stream, version, type name, schema version
/// and the payload's JSON text.
struct RawRow {
    stream: &'static str,
    version: i64,
    event_type: &'static str,
    schema_version: i64,
    payload: &'static str,
}

const fn row(
    stream: &'static str,
    version: i64,
    event_type: &'static str,
    schema_version: i64,
    payload: &'static str,
) -> RawRow {
    RawRow {
        stream,
        version,
        event_type,
        schema_version,
        payload,
    }
}

/// What removes a fresh store afterwards (files, schemas).
type Cleanup = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// A store an adapter test can fill with raw rows, bypassing every Rust event type.
///
/// One impl per adapter; PostgreSQL: `fresh` creates a uniquely named schema from
/// `DATABASE_URL` (and a clean-up that drops it), `insert_raw` runs raw `INSERT`s.
trait RawRows: EventStore + SnapshotStore + Clone + Send + Sync + 'static {
    /// A new, empty store of this adapter, and what removes it.
    async fn fresh() -> (Self, Cleanup);
    /// Stores the rows in order (they get positions in that order).
    async fn insert_raw(&self, rows: &[RawRow]);
}

impl RawRows for MemoryStore {
    async fn fresh() -> (Self, Cleanup) {
        (MemoryStore::new(), Box::pin(async {}))
    }

    async fn insert_raw(&self, rows: &[RawRow]) {
        for r in rows {
            let payload: serde_json::Value = serde_json::from_str(r.payload).unwrap();
            let stream = StreamId::new(r.stream).unwrap();
            let expected = ExpectedVersion::Exact(Version(u64::try_from(r.version - 1).unwrap()));
            let event = NewEvent::raw(
                r.event_type,
                u32::try_from(r.schema_version).unwrap(),
                payload,
            );
            self.append(&stream, expected, vec![event]).await.unwrap();
        }
    }
}

impl RawRows for SqliteStore {
    async fn fresh() -> (Self, Cleanup) {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("es-decoding-tests")
            .join(format!("{}.db", uuid::Uuid::now_v7()));
        let store = SqliteStore::open(&path).await.unwrap();
        let closing = store.clone();
        let cleanup = Box::pin(async move {
            closing.close().await;
            for path in [
                path.with_extension("db-wal"),
                path.with_extension("db-shm"),
                path,
            ] {
                let _ = std::fs::remove_file(path);
            }
        });
        (store, cleanup)
    }

    async fn insert_raw(&self, rows: &[RawRow]) {
        for r in rows {
            sqlx::query(
                "INSERT INTO es_events (event_id, stream_id, version, event_type, schema_version, payload, metadata, recorded_at) \
                 VALUES (?, ?, ?, ?, ?, ?, '{}', ?)",
            )
            .bind(uuid::Uuid::now_v7().to_string())
            .bind(r.stream)
            .bind(r.version)
            .bind(r.event_type)
            .bind(r.schema_version)
            .bind(r.payload)
            .bind(chrono::Utc::now().timestamp_micros())
            .execute(self.pool())
            .await
            .unwrap();
        }
    }
}

impl RawRows for es_postgres::PgStore {
    async fn fresh() -> (Self, Cleanup) {
        let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
            panic!(
                "DATABASE_URL is not set: these tests need PostgreSQL. Run `bash scripts/test`, \
                 which starts a server and sets it (or set DATABASE_URL yourself)."
            )
        });
        let store = es_postgres::PgStore::builder()
            .schema(format!("es_t_{}", uuid::Uuid::now_v7().simple()))
            .connect(&url)
            .await
            .expect("connect and migrate a fresh schema");
        let dropping = store.clone();
        let cleanup = Box::pin(async move {
            let sql = format!("DROP SCHEMA {} CASCADE", dropping.schema().quoted());
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .execute(dropping.pool())
                .await
                .expect("drop the test schema");
            dropping.close().await;
        });
        (store, cleanup)
    }

    async fn insert_raw(&self, rows: &[RawRow]) {
        let sql = format!(
            "INSERT INTO {}.es_events (event_id, stream_id, version, event_type, schema_version, payload) \
             VALUES ($1, $2, $3, $4, $5, $6::jsonb)",
            self.schema().quoted()
        );
        for r in rows {
            sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(uuid::Uuid::now_v7())
                .bind(r.stream)
                .bind(r.version)
                .bind(r.event_type)
                .bind(i32::try_from(r.schema_version).unwrap())
                .bind(r.payload)
                .execute(self.pool())
                .await
                .unwrap();
        }
    }
}

/// Runs each check on a fresh store of every adapter listed (`module: StoreType`).
macro_rules! on_every_adapter {
    (adapters: [$($adapter:ident: $store:ty),* $(,)?], checks: $checks:tt $(,)?) => {
        $(on_every_adapter!(@adapter $adapter, $store, $checks);)*
    };
    (@adapter $adapter:ident, $store:ty, [$($name:ident),* $(,)?]) => {
        mod $adapter {
            use super::RawRows;
            $(
                #[tokio::test]
                async fn $name() {
                    let (store, cleanup) = <$store as RawRows>::fresh().await;
                    super::$name(store).await;
                    cleanup.await;
                }
            )*
        }
    };
}

on_every_adapter!(
    adapters: [
        memory: es_core::MemoryStore,
        sqlite: es_sqlite::SqliteStore,
        postgres: es_postgres::PgStore,
    ],
    checks: [
        v1_events_load_through_a_two_step_chain,
        unknown_type_is_an_error_naming_where_it_is,
        too_new_version_is_an_error_naming_where_it_is,
        undecodable_payload_is_an_error_naming_where_it_is,
    ],
);

// ---- the checks -----------------------------------------------------------------------------

async fn v1_events_load_through_a_two_step_chain<S: RawRows>(store: S) {
    store
        .insert_raw(&[
            row("account-ann", 1, "account.opened", 1, r#"{"holder":"Ann"}"#),
            row("account-ann", 2, "credit", 1, r#"{"amount":70}"#),
            row(
                "account-bob",
                1,
                "account.opened",
                2,
                r#"{"owner":"Bob","currency":"CHF"}"#,
            ),
            row("account-ann", 3, "account.deposited", 1, r#"{"amount":5}"#),
            row(
                "account-cy",
                1,
                "account.opened",
                3,
                r#"{"owner":"Cy","currency":"USD","limit":9}"#,
            ),
        ])
        .await;
    let accounts = Repository::<Account, _>::new(store.clone());

    let ann = accounts.load("ann").await.unwrap();
    assert_eq!(
        (
            ann.owner.as_str(),
            ann.currency.as_str(),
            ann.limit,
            ann.balance
        ),
        ("Ann", "EUR", 0, 75)
    );
    let bob = accounts.load("bob").await.unwrap();
    assert_eq!((bob.owner.as_str(), bob.currency.as_str()), ("Bob", "CHF"));
    let cy = accounts.load("cy").await.unwrap();
    assert_eq!((cy.currency.as_str(), cy.limit), ("USD", 9));

    // History: today's types, with the stored (pre-upcast) names and versions in the metadata.
    let history = accounts.history("ann").await.unwrap();
    assert_eq!(
        history[0].event,
        AccountEvent::Opened(Opened {
            owner: "Ann".into(),
            currency: "EUR".into(),
            limit: 0
        })
    );
    assert_eq!(
        (
            history[0].meta.event_type.as_str(),
            history[0].meta.schema_version
        ),
        ("account.opened", 1)
    );
    assert_eq!(
        history[1].event,
        AccountEvent::Deposited(Deposited { amount: 70 })
    );
    assert_eq!(history[1].meta.event_type, "credit");

    // Point-in-time loads and the global log go through the same chain.
    assert_eq!(
        accounts.load_at("ann", Version(1)).await.unwrap().owner,
        "Ann"
    );
    let all: Vec<_> = store.read_all(ReadAll::new()).try_collect().await.unwrap();
    let decoded: Vec<AccountEvent> = all
        .into_iter()
        .map(|r| r.into_decoded::<AccountEvent>().unwrap().event)
        .collect();
    assert_eq!(decoded.len(), 5);
    assert_eq!(
        decoded[2],
        AccountEvent::Opened(Opened {
            owner: "Bob".into(),
            currency: "CHF".into(),
            limit: 0
        })
    );
    // Filtering the log by the set's names finds the aliased event too.
    let deposits: Vec<_> = store
        .read_all(ReadAll::new().event_types(Deposited::event_types()))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(deposits.len(), 2);
}

/// Loads `id` and returns the decode error, checking that it names stream, version, position
/// and type, both as fields and in its message.
async fn decode_error<S: RawRows>(store: &S, id: &str) -> DecodeError {
    let error = match Repository::<Account, _>::new(store.clone()).load(id).await {
        Err(RepositoryError::Decode(e)) => e,
        other => panic!("expected a decode error loading `{id}`, got {other:?}"),
    };
    let head = store.head_position().await.unwrap();
    assert_eq!(error.stream.as_str(), format!("account-{id}"));
    assert_eq!(error.version, Version(2));
    assert_eq!(error.position, head, "the bad event is the last one stored");
    let message = error.to_string();
    for part in [
        format!("`{}`", error.event_type),
        format!("stream `account-{id}`"),
        "at version 2".to_owned(),
        format!("position {}", error.position),
    ] {
        assert!(message.contains(&part), "`{message}` does not name {part}");
    }
    error
}

async fn unknown_type_is_an_error_naming_where_it_is<S: RawRows>(store: S) {
    store
        .insert_raw(&[
            row(
                "account-x",
                1,
                "account.opened",
                3,
                r#"{"owner":"X","currency":"EUR","limit":0}"#,
            ),
            row("account-x", 2, "account.frozen", 1, r#"{}"#),
        ])
        .await;
    let error = decode_error(&store, "x").await;
    assert_eq!(error.event_type, "account.frozen");
    assert!(
        matches!(
            error.kind,
            DecodeErrorKind::UnknownType {
                target: "AccountEvent"
            }
        ),
        "{error}"
    );
}

async fn too_new_version_is_an_error_naming_where_it_is<S: RawRows>(store: S) {
    store
        .insert_raw(&[
            row("account-y", 1, "account.deposited", 1, r#"{"amount":1}"#),
            row("account-y", 2, "account.opened", 4, r#"{"owner":"Y"}"#),
        ])
        .await;
    let error = decode_error(&store, "y").await;
    assert_eq!(
        (error.event_type.as_str(), error.schema_version),
        ("account.opened", 4)
    );
    assert!(
        matches!(
            error.kind,
            DecodeErrorKind::TooNew {
                found: 4,
                supported: 3
            }
        ),
        "{error}"
    );
}

async fn undecodable_payload_is_an_error_naming_where_it_is<S: RawRows>(store: S) {
    store
        .insert_raw(&[
            row("account-z", 1, "account.deposited", 1, r#"{"amount":1}"#),
            row("account-z", 2, "credit", 1, r#"{"amount":"lots"}"#),
        ])
        .await;
    let error = decode_error(&store, "z").await;
    assert_eq!(error.event_type, "credit");
    assert!(matches!(error.kind, DecodeErrorKind::Payload(_)), "{error}");

    // A v1 payload the first upcast step cannot read fails in that step.
    let store2 = store.clone();
    store2
        .insert_raw(&[
            row("account-w", 1, "account.deposited", 1, r#"{"amount":1}"#),
            row("account-w", 2, "account.opened", 1, r#"{"name":"W"}"#),
        ])
        .await;
    let error = match Repository::<Account, _>::new(store2).load("w").await {
        Err(RepositoryError::Decode(e)) => e,
        other => panic!("expected a decode error, got {other:?}"),
    };
    assert_eq!(
        (error.stream.as_str(), error.version),
        ("account-w", Version(2))
    );
    match &error.kind {
        DecodeErrorKind::Upcast { from: 1, message } => {
            assert!(message.contains("`holder`"), "{message}")
        }
        other => panic!("expected the v1 step to fail, got {other:?}"),
    }
}
