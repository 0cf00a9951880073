//! Personal data on every store: fields marked `#[personal]` are stored encrypted; after
//! `forget(subject)` the subject's plaintext is nowhere in the database (every row of every table
//! scanned as text) and every read path yields the fields as erased, other subjects untouched; a
//! wrong key is a typed decode error that a parking projection parks; upcasters work before and
//! after forgetting; forgetting races appends without leaving a readable event behind.

use es_core::personal::{ForgetRequest, Personal, Protected};
use es_core::prelude::*;
use es_core::{
    AtLeastOnce, MemoryStore, NewEvent, Projection, ProjectionRunner, RecordedEvent, RunnerState,
    SnapshotStore, StoreError,
};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// Version 2 added `phone` (a `Personal<String>`); version 1 events are upcast on read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "user.registered", version = 2, upcast(from = 1, with = v1_to_v2))]
struct Registered {
    user_id: String,
    #[personal(subject = user_id)]
    email: String,
    #[personal(subject = user_id)]
    phone: Personal<String>,
    plan: String,
}

fn v1_to_v2(mut v1: serde_json::Value) -> Result<serde_json::Value, String> {
    let obj = v1.as_object_mut().ok_or("not an object")?;
    obj.insert("phone".into(), serde_json::Value::Null);
    Ok(v1)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "user.email_changed")]
struct EmailChanged {
    user_id: String,
    #[personal(subject = user_id)]
    email: String,
}

#[derive(Debug, Clone, PartialEq, DomainEvent)]
enum UserEvent {
    Registered(Registered),
    EmailChanged(EmailChanged),
}

#[derive(Debug, Default, Clone, Serialize, Deserialize, Aggregate)]
#[aggregate(name = "user", events = UserEvent, snapshot_every = 2)]
struct User {
    email: String,
    changes: u32,
}

#[event_handler]
impl User {
    fn registered(&mut self, e: &Registered) {
        self.email.clone_from(&e.email);
    }
    fn changed(&mut self, e: &EmailChanged) {
        self.email.clone_from(&e.email);
        self.changes += 1;
    }
}

#[derive(Clone)]
struct Register(String, String);
#[derive(Clone)]
struct Change(String, String);

#[command_handler]
impl User {
    fn register(&self, cmd: Register) -> Result<Registered, std::convert::Infallible> {
        Ok(Registered {
            user_id: cmd.0,
            email: cmd.1,
            phone: Personal::Value("+1 555 0100".into()),
            plan: "pro".into(),
        })
    }
    fn change(&self, cmd: Change) -> Result<EmailChanged, std::convert::Infallible> {
        Ok(EmailChanged {
            user_id: cmd.0,
            email: cmd.1,
        })
    }
}

/// A read model of e-mail addresses, kept in memory.
#[derive(Clone, Default)]
struct Emails(Arc<Mutex<Vec<(String, String)>>>);

#[event_handler]
impl Emails {
    fn registered(&mut self, e: &Registered) {
        self.0
            .lock()
            .unwrap()
            .push((e.user_id.clone(), e.email.clone()));
    }
    fn changed(&mut self, e: &EmailChanged) {
        self.0
            .lock()
            .unwrap()
            .push((e.user_id.clone(), e.email.clone()));
    }
}

#[es_core::async_trait]
impl Projection<()> for Emails {
    fn name(&self) -> &str {
        "emails"
    }
    async fn on_reset(&mut self, _: &mut ()) -> Result<(), es_core::HandlerError> {
        self.0.lock().unwrap().clear();
        Ok(())
    }
}

trait TestStore:
    EventStore + SnapshotStore + es_core::personal::KeyStore + Clone + Send + Sync + 'static
{
}
impl<T: EventStore + SnapshotStore + es_core::personal::KeyStore + Clone + Send + Sync + 'static>
    TestStore for T
{
}

/// Every row of every table of the store, as text.
type Dump = Box<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = String> + Send>>>;

fn marker() -> String {
    format!("marker-{}@example.com", uuid::Uuid::now_v7().simple())
}

async fn emails_by_projection<S: TestStore>(
    store: &Protected<S, S>,
    rebuild: bool,
) -> Vec<(String, String)> {
    let emails = Emails::default();
    let mut runner = ProjectionRunner::new(
        store.clone(),
        AtLeastOnce(MemoryStore::new()),
        emails.clone(),
    );
    if rebuild {
        runner.rebuild().await.unwrap();
    }
    let head = store.head_checkpoint().await.unwrap();
    runner
        .run_until(async {
            loop {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                if emails.0.lock().unwrap().len() >= 3 {
                    break;
                }
            }
        })
        .await
        .unwrap();
    let _ = head;
    let mut seen = emails.0.lock().unwrap().clone();
    seen.sort();
    seen
}

async fn forgetting_erases_every_read_path<S: TestStore>(store: S, dump: Dump) {
    let protected = Protected::new(store.clone(), store.clone());
    let users = Repository::<User, _>::new(protected.clone());
    let (ada, ada_new, bob) = (marker(), marker(), marker());
    users
        .execute("ada", Register("ada".into(), ada.clone()))
        .await
        .unwrap();
    users
        .execute("bob", Register("bob".into(), bob.clone()))
        .await
        .unwrap();
    let before = chrono::Utc::now();
    users
        .execute("ada", Change("ada".into(), ada_new.clone()))
        .await
        .unwrap();
    // Encrypted at rest: events are; the snapshot of ada (every 2 events) holds her address.
    let text = dump().await;
    assert!(
        !text.contains(&ada),
        "the first address is stored encrypted"
    );
    assert!(!text.contains(&bob));
    // Read through the protected store: plaintext.
    assert_eq!(users.load("ada").await.unwrap().email, ada_new);
    assert_eq!(emails_by_projection(&protected, false).await.len(), 3);
    assert_eq!(
        protected.streams_of("ada").await.unwrap(),
        [StreamId::new("user-ada").unwrap()]
    );

    let forgot = protected
        .forget("ada", &ForgetRequest::new("dpo@example.com", "request #12"))
        .await
        .unwrap();
    assert!(forgot);

    // Nowhere in the database, in any table.
    let text = dump().await;
    for plain in [&ada, &ada_new] {
        assert!(!text.contains(plain.as_str()), "{plain} is still stored");
    }
    // Every read path: erased, never an error; bob untouched.
    assert_eq!(users.load("ada").await.unwrap().email, "");
    assert_eq!(users.load_at("ada", Version(1)).await.unwrap().email, "");
    assert_eq!(users.load_as_of("ada", before).await.unwrap().email, "");
    assert_eq!(users.load("bob").await.unwrap().email, bob);
    for e in users.history("ada").await.unwrap() {
        match e.event {
            UserEvent::Registered(r) => {
                assert_eq!(
                    (r.email.as_str(), &r.phone, r.plan.as_str()),
                    ("", &Personal::Erased, "pro")
                )
            }
            UserEvent::EmailChanged(c) => assert_eq!(c.email, ""),
        }
    }
    let log: Vec<RecordedEvent> = protected
        .read_all(ReadAll::new())
        .try_collect()
        .await
        .unwrap();
    let decoded: Vec<UserEvent> = log
        .iter()
        .map(|e| e.decode::<UserEvent>().unwrap().event)
        .collect();
    assert_eq!(decoded.len(), 3);
    let rebuilt = emails_by_projection(&protected, true).await;
    assert_eq!(
        rebuilt,
        [
            ("ada".to_owned(), String::new()),
            ("ada".to_owned(), String::new()),
            ("bob".to_owned(), bob.clone())
        ]
    );
    let mut subscription =
        es_core::SubscriptionBuilder::new(protected.clone()).subscribe::<Registered>();
    let first = subscription.next().await.unwrap().unwrap();
    assert_eq!(
        (first.event.user_id.as_str(), first.event.email.as_str()),
        ("ada", "")
    );
    drop(subscription);
    // Read around the protected store: no plaintext either.
    let raw: Vec<RecordedEvent> = store.read_all(ReadAll::new()).try_collect().await.unwrap();
    assert_eq!(raw[0].decode::<Registered>().unwrap().event.email, "");

    // The subject can come back: a new key, readable.
    users
        .execute("ada", Change("ada".into(), "again@example.com".into()))
        .await
        .unwrap();
    assert_eq!(users.load("ada").await.unwrap().email, "again@example.com");
}

async fn a_wrong_key_is_a_typed_error_and_is_parked<S: TestStore>(
    store: S,
    replace_key: impl AsyncFnOnce(),
) {
    let protected = Protected::new(store.clone(), store.clone());
    let users = Repository::<User, _>::new(protected.clone());
    users
        .execute("eve", Register("eve".into(), marker()))
        .await
        .unwrap();
    users
        .execute("joe", Register("joe".into(), marker()))
        .await
        .unwrap();
    replace_key().await;
    let fresh = Protected::new(store.clone(), store.clone());
    let error = Repository::<User, _>::new(fresh.clone())
        .load("eve")
        .await
        .unwrap_err();
    match error {
        es_core::RepositoryError::Store(StoreError::Corrupt(c)) => {
            assert_eq!(
                (c.stream.as_str(), c.version, c.event_type.as_str()),
                ("user-eve", 1, "user.registered")
            );
            assert!(c.position > 0);
            assert!(c.message.contains("does not decrypt"), "{}", c.message);
        }
        other => panic!("expected a corrupt event, got {other:?}"),
    }
    // A parking projection parks it and goes on to joe.
    let emails = Emails::default();
    let mut runner = ProjectionRunner::new(
        fresh.clone(),
        AtLeastOnce(MemoryStore::new()),
        emails.clone(),
    )
    .error_policy(ErrorPolicy::default().retries(0).park());
    let handle_emails = emails.clone();
    runner
        .run_until(async move {
            while handle_emails.0.lock().unwrap().is_empty() {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap();
    assert_eq!(emails.0.lock().unwrap()[0].0, "joe");
    assert_eq!(runner.parked().await.unwrap().len(), 1);
    let _ = RunnerState::Live;
}

async fn upcasters_work_before_and_after_forgetting<S: TestStore>(store: S) {
    let protected = Protected::new(store.clone(), store.clone());
    // A version-1 event as older code wrote it, through the protected store (email encrypted).
    let v1 = NewEvent::raw(
        "user.registered",
        1,
        serde_json::json!({
            "user_id": "old",
            "email": es_core::personal::mark("old", serde_json::json!("old@example.com")),
            "plan": "free",
        }),
    );
    protected
        .append(
            &StreamId::new("user-old").unwrap(),
            ExpectedVersion::NoStream,
            vec![v1],
        )
        .await
        .unwrap();
    let users = Repository::<User, _>::new(protected.clone());
    let history = users.history("old").await.unwrap();
    match &history[0].event {
        UserEvent::Registered(r) => {
            assert_eq!(
                (r.email.as_str(), &r.phone),
                ("old@example.com", &Personal::Erased)
            )
        }
        other => panic!("{other:?}"),
    }
    protected
        .forget("old", &ForgetRequest::new("ops", "test"))
        .await
        .unwrap();
    match &users.history("old").await.unwrap()[0].event {
        UserEvent::Registered(r) => assert_eq!((r.email.as_str(), r.plan.as_str()), ("", "free")),
        other => panic!("{other:?}"),
    }
}

async fn forgetting_races_appends<S: TestStore>(store: S) {
    let protected = Protected::new(store.clone(), store.clone());
    let users = Repository::<User, _>::new(protected.clone()).with_max_retries(1000);
    users
        .execute("kim", Register("kim".into(), marker()))
        .await
        .unwrap();
    let writer = {
        let users = users.clone();
        tokio::spawn(async move {
            for n in 0..30 {
                users
                    .execute("kim", Change("kim".into(), format!("kim-{n}@example.com")))
                    .await
                    .unwrap();
            }
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let forgot_at = protected.head_checkpoint().await.unwrap();
    protected
        .forget("kim", &ForgetRequest::new("ops", "race"))
        .await
        .unwrap();
    let forgotten = protected.head_checkpoint().await.unwrap();
    writer.await.unwrap();
    // Nothing fails to read; whatever was stored before the forgetting began is erased; whatever
    // was appended after it ended is readable (under the subject's new key).
    let log: Vec<RecordedEvent> = protected
        .read_all(ReadAll::new())
        .try_collect()
        .await
        .unwrap();
    for e in &log {
        let event = e.decode::<UserEvent>().unwrap().event;
        let email = match event {
            UserEvent::Registered(r) => r.email,
            UserEvent::EmailChanged(c) => c.email,
        };
        if e.meta.checkpoint() <= forgot_at {
            assert_eq!(email, "", "stored before forgetting: erased");
        }
        if e.meta.checkpoint() > forgotten {
            assert!(!email.is_empty(), "appended after forgetting: readable");
        }
    }
    assert_eq!(log.len(), 31);
}

// ---- on every store ------------------------------------------------------------------------------

fn sqlite_path() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("es-personal-{}", uuid::Uuid::now_v7()))
        .join("app.db")
}

fn sqlite_dump(store: es_sqlite::SqliteStore) -> Dump {
    Box::new(move || {
        let store = store.clone();
        Box::pin(async move {
            let tables: Vec<String> =
                sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
                    .fetch_all(store.pool())
                    .await
                    .unwrap();
            let mut text = String::new();
            for table in tables {
                let columns: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT name FROM pragma_table_info('{table}')"
                )))
                .fetch_all(store.pool())
                .await
                .unwrap();
                let concat = columns
                    .iter()
                    .map(|c| {
                        format!(
                            "coalesce(CASE typeof(\"{c}\") WHEN 'blob' THEN hex(\"{c}\") ELSE CAST(\"{c}\" AS TEXT) END, '')"
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" || ' ' || ");
                let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT {concat} FROM \"{table}\""
                )))
                .fetch_all(store.pool())
                .await
                .unwrap();
                text.push_str(&rows.join("\n"));
            }
            text
        })
    })
}

async fn postgres_store() -> es_postgres::PgStore {
    let url = std::env::var("DATABASE_URL")
        .expect("set DATABASE_URL (bash scripts/test does) to run the PostgreSQL tests");
    es_postgres::PgStore::builder()
        .schema(format!("es_personal_{}", uuid::Uuid::now_v7().simple()))
        .connect(&url)
        .await
        .unwrap()
}

fn postgres_dump(store: es_postgres::PgStore) -> Dump {
    Box::new(move || {
        let store = store.clone();
        Box::pin(async move {
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT quote_ident(table_name) FROM information_schema.tables WHERE table_schema = $1",
            )
            .bind(store.schema().as_str())
            .fetch_all(store.pool())
            .await
            .unwrap();
            let mut text = String::new();
            for table in tables {
                let rows: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT t::text FROM {}.{table} t",
                    store.schema().quoted()
                )))
                .fetch_all(store.pool())
                .await
                .unwrap();
                text.push_str(&rows.join("\n"));
            }
            text
        })
    })
}

async fn drop_postgres(store: es_postgres::PgStore) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA {} CASCADE",
        store.schema().quoted()
    )))
    .execute(store.pool())
    .await
    .unwrap();
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_forgetting_erases_every_read_path() {
    let store = MemoryStore::new();
    let dumped = store.clone();
    let dump: Dump = Box::new(move || {
        let store = dumped.clone();
        Box::pin(async move {
            let log: Vec<RecordedEvent> =
                store.read_all(ReadAll::new()).try_collect().await.unwrap();
            let mut text: String = log.iter().map(|e| e.payload.to_string()).collect();
            for stream in ["user-ada", "user-bob"] {
                if let Some(s) = store
                    .load_snapshot(&StreamId::new(stream).unwrap())
                    .await
                    .unwrap()
                {
                    text.push_str(&s.state.to_string());
                }
            }
            text
        })
    });
    forgetting_erases_every_read_path(store, dump).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_forgetting_erases_every_read_path() {
    let path = sqlite_path();
    let store = es_sqlite::SqliteStore::open(&path).await.unwrap();
    forgetting_erases_every_read_path(store.clone(), sqlite_dump(store.clone())).await;
    store.close().await;
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_forgetting_erases_every_read_path() {
    let store = postgres_store().await;
    forgetting_erases_every_read_path(store.clone(), postgres_dump(store.clone())).await;
    drop_postgres(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_wrong_key_is_a_typed_error_and_is_parked() {
    let path = sqlite_path();
    let store = es_sqlite::SqliteStore::open(&path).await.unwrap();
    let pool = store.pool().clone();
    a_wrong_key_is_a_typed_error_and_is_parked(store.clone(), async move || {
        sqlx::query("UPDATE es_keys SET data_key = randomblob(32) WHERE subject = 'eve'")
            .execute(&pool)
            .await
            .unwrap();
    })
    .await;
    store.close().await;
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_wrong_key_is_a_typed_error_and_is_parked() {
    let store = postgres_store().await;
    let (pool, schema) = (store.pool().clone(), store.schema().quoted());
    a_wrong_key_is_a_typed_error_and_is_parked(store.clone(), async move || {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE {schema}.es_keys SET data_key = decode(md5(random()::text) || md5(random()::text), 'hex') WHERE subject = 'eve'"
        )))
        .execute(&pool)
        .await
        .unwrap();
    })
    .await;
    drop_postgres(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upcasters_work_before_and_after_forgetting_on_every_store() {
    upcasters_work_before_and_after_forgetting(MemoryStore::new()).await;
    let path = sqlite_path();
    let sqlite = es_sqlite::SqliteStore::open(&path).await.unwrap();
    upcasters_work_before_and_after_forgetting(sqlite.clone()).await;
    sqlite.close().await;
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    let pg = postgres_store().await;
    upcasters_work_before_and_after_forgetting(pg.clone()).await;
    drop_postgres(pg).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgetting_races_appends_on_every_store() {
    forgetting_races_appends(MemoryStore::new()).await;
    let path = sqlite_path();
    let sqlite = es_sqlite::SqliteStore::open(&path).await.unwrap();
    forgetting_races_appends(sqlite.clone()).await;
    sqlite.close().await;
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
    let pg = postgres_store().await;
    forgetting_races_appends(pg.clone()).await;
    drop_postgres(pg).await;
}
