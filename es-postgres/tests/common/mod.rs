//! Test databases: each test gets its own uniquely named schema on the server in `DATABASE_URL`,
//! dropped at the end, and dropped too when the test fails (see [`register`]).
#![allow(dead_code)]

use es_postgres::{PgStore, PgStoreBuilder};
use sqlx::{AssertSqlSafe, Connection};
use std::sync::{Mutex, Once};
use std::thread::ThreadId;

/// Schemas created by running tests, with the thread of the test that created them.
static CREATED: Mutex<Vec<(ThreadId, String)>> = Mutex::new(Vec::new());

/// Records a schema this thread's test created, so that a failing test (a panic on its thread)
/// drops it instead of leaving it behind. [`drop_store`] forgets it again.
pub fn register(schema: &str) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            drop_schemas_of_this_thread();
        }));
    });
    let mut created = CREATED.lock().unwrap_or_else(|e| e.into_inner());
    created.push((std::thread::current().id(), schema.to_owned()));
}

/// Forgets a schema dropped by the test itself.
pub fn forget(schema: &str) {
    let mut created = CREATED.lock().unwrap_or_else(|e| e.into_inner());
    created.retain(|(_, s)| s != schema);
}

fn drop_schemas_of_this_thread() {
    let me = std::thread::current().id();
    let mine: Vec<String> = {
        let mut created = CREATED.lock().unwrap_or_else(|e| e.into_inner());
        let (mine, rest) = created.drain(..).partition(|(t, _)| *t == me);
        *created = rest;
        mine.into_iter().map(|(_, s)| s).collect()
    };
    let Ok(url) = std::env::var("DATABASE_URL") else {
        return;
    };
    if mine.is_empty() {
        return;
    }
    // A fresh thread and runtime: the panicking thread may be inside a runtime already.
    let _ = std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            let Ok(mut conn) = sqlx::PgConnection::connect(&url).await else {
                return;
            };
            let _ = sqlx::query("SET lock_timeout = '10s'")
                .execute(&mut conn)
                .await;
            for schema in mine {
                let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
                let _ = sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await;
            }
            let _ = conn.close().await;
        });
    })
    .join();
}

/// The server to test against. Missing is a failure, never a silent pass.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "DATABASE_URL is not set: these tests need PostgreSQL. Run `bash scripts/test`, \
             which starts a server and sets it (or set DATABASE_URL yourself)."
        )
    })
}

/// A fresh, unique schema name.
pub fn unique_schema() -> String {
    format!("es_t_{}", uuid::Uuid::now_v7().simple())
}

/// A store in a fresh schema.
pub async fn store() -> PgStore {
    store_with(PgStore::builder()).await
}

/// How long a test store's `read_all` waits for older transactions anywhere on the server (the
/// horizon is cluster-wide). The default 2 s can pass on a loaded machine while another test's
/// transaction is open; a test reading "everything appended so far" must not get a prefix.
pub const HORIZON_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// A store in a fresh schema, from a builder (its schema is replaced).
pub async fn store_with(builder: PgStoreBuilder) -> PgStore {
    let schema = unique_schema();
    register(&schema);
    builder
        .schema(schema)
        .max_connections(16)
        .horizon_wait(HORIZON_WAIT)
        .connect(&database_url())
        .await
        .expect("connect and migrate a fresh schema")
}

/// Drops the store's schema and closes its pool.
pub async fn drop_store(store: PgStore) {
    let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", store.schema().quoted());
    sqlx::query(AssertSqlSafe(sql))
        .execute(store.pool())
        .await
        .expect("drop the test schema");
    forget(store.schema().as_str());
    store.close().await;
}

/// Makes every insert into the store's events linger up to 4 ms before its commit (a statement
/// trigger), so concurrent transactions commit out of position order all the time.
pub async fn widen_commit_window(store: &PgStore) {
    let s = store.schema().quoted();
    for sql in [
        format!(
            "CREATE FUNCTION {s}.linger() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN PERFORM pg_sleep(random() * 0.004); RETURN NULL; END $$"
        ),
        format!(
            "CREATE TRIGGER linger AFTER INSERT ON {s}.es_events
             FOR EACH STATEMENT EXECUTE FUNCTION {s}.linger()"
        ),
    ] {
        sqlx::query(AssertSqlSafe(sql))
            .execute(store.pool())
            .await
            .unwrap();
    }
}
