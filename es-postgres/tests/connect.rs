//! Connecting to a server that is not there, silent, or refuses the credentials or the database
//! fails fast, with the cause and the server's `host:port` in the error, never the password.

mod common;

use es_postgres::{ConnectCause, ConnectError, PgStore};
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The default connect timeout is 5 s; anything under this is "fast" on a loaded machine.
const LOOSE_BOUND: Duration = Duration::from_secs(10);

/// A port on 127.0.0.1 on which nothing listens (as for a stopped server).
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    drop(listener);
    port
}

/// A server that accepts TCP connections and never answers; its port.
async fn silent_server() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    port
}

fn expect_connect_error(result: Result<PgStore, ConnectError>) -> ConnectError {
    match result {
        Ok(store) => panic!("connecting should have failed, got {store:?}"),
        Err(error) => error,
    }
}

/// The test server's address and role, with another role, password or database.
fn url_with(user: &str, password: Option<&str>, database: &str) -> String {
    let options =
        PgConnectOptions::from_str(&common::database_url()).expect("DATABASE_URL is a valid URL");
    let password = password.map(|p| format!(":{p}")).unwrap_or_default();
    format!(
        "postgres://{user}{password}@{}:{}/{database}",
        options.get_host(),
        options.get_port()
    )
}

fn server_of_test_db() -> String {
    let options =
        PgConnectOptions::from_str(&common::database_url()).expect("DATABASE_URL is a valid URL");
    format!("{}:{}", options.get_host(), options.get_port())
}

#[tokio::test]
async fn refused_names_the_cause_and_the_server_at_once() {
    let port = closed_port();
    let url = format!("postgres://postgres:hunter2-secret@127.0.0.1:{port}/db?connect_timeout=3");
    let started = Instant::now();
    let error = expect_connect_error(PgStore::connect(&url).await);
    let elapsed = started.elapsed();
    let message = error.to_string();
    println!("refused after {elapsed:?}: {message}");
    assert_eq!(error.cause(), Some(ConnectCause::Refused), "{message}");
    assert!(
        matches!(error, ConnectError::Connect { ref server, .. } if *server == format!("127.0.0.1:{port}"))
    );
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.contains("connection refused"), "{message}");
    assert!(message.contains("schema `public`"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(elapsed < LOOSE_BOUND, "took {elapsed:?}");
}

#[tokio::test]
async fn a_silent_server_times_out_after_the_default_connect_timeout() {
    let port = silent_server().await;
    let url = format!("postgres://postgres:hunter2-secret@127.0.0.1:{port}/db");
    let started = Instant::now();
    let error = expect_connect_error(PgStore::connect(&url).await);
    let elapsed = started.elapsed();
    let message = error.to_string();
    println!("silent server, default timeout, after {elapsed:?}: {message}");
    assert_eq!(error.cause(), Some(ConnectCause::TimedOut), "{message}");
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(message.contains("timed out"), "{message}");
    assert!(!message.contains("hunter2"), "{message}");
    assert!(
        elapsed >= Duration::from_secs(4),
        "gave up early: {elapsed:?}"
    );
    assert!(elapsed < LOOSE_BOUND, "took {elapsed:?}");
}

#[tokio::test]
async fn the_builder_sets_the_connect_timeout() {
    let port = silent_server().await;
    let url = format!("postgres://postgres@127.0.0.1:{port}/db");
    let started = Instant::now();
    let error = expect_connect_error(
        PgStore::builder()
            .schema("billing")
            .connect_timeout(Duration::from_millis(500))
            .connect(&url)
            .await,
    );
    let elapsed = started.elapsed();
    let message = error.to_string();
    println!("silent server, 500 ms timeout, after {elapsed:?}: {message}");
    assert_eq!(error.cause(), Some(ConnectCause::TimedOut), "{message}");
    assert!(message.contains("schema `billing`"), "{message}");
    assert!(elapsed >= Duration::from_millis(500), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(4), "took {elapsed:?}");
}

#[tokio::test]
async fn a_missing_database_is_named() {
    let url = url_with("postgres", Some("pw-not-shown"), "es_no_such_database");
    let started = Instant::now();
    let error = expect_connect_error(PgStore::connect(&url).await);
    let elapsed = started.elapsed();
    let message = error.to_string();
    println!("no database after {elapsed:?}: {message}");
    assert_eq!(error.cause(), Some(ConnectCause::NoDatabase), "{message}");
    assert!(message.contains(&server_of_test_db()), "{message}");
    assert!(message.contains("es_no_such_database"), "{message}");
    assert!(!message.contains("pw-not-shown"), "{message}");
    assert!(elapsed < LOOSE_BOUND, "took {elapsed:?}");
}

#[tokio::test]
async fn refused_credentials_are_an_authentication_failure() {
    let database = PgConnectOptions::from_str(&common::database_url())
        .expect("DATABASE_URL is a valid URL")
        .get_database()
        .unwrap_or("postgres")
        .to_owned();
    let mut admin = sqlx::PgConnection::connect(&common::database_url())
        .await
        .expect("connect to DATABASE_URL");
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let (nologin, with_password) = (format!("es_nologin_{suffix}"), format!("es_pw_{suffix}"));
    for statement in [
        format!("CREATE ROLE {nologin} NOLOGIN"),
        format!("CREATE ROLE {with_password} LOGIN PASSWORD 'right-password'"),
    ] {
        sqlx::query(AssertSqlSafe(statement))
            .execute(&mut admin)
            .await
            .expect("create a test role");
    }

    // Whatever pg_hba.conf says, a role that may not log in and a role that does not exist are
    // refused (SQLSTATE 28000).
    let unknown = format!("es_no_such_role_{suffix}");
    let mut outcomes = Vec::new();
    for user in [&nologin, &unknown] {
        let url = url_with(user, Some("pw-not-shown"), &database);
        let started = Instant::now();
        let error = expect_connect_error(PgStore::connect(&url).await);
        let message = error.to_string();
        println!("{user} after {:?}: {message}", started.elapsed());
        outcomes.push((error.cause(), message, started.elapsed()));
    }

    // A wrong password is refused only if the server checks passwords for this address: with a
    // `trust` entry in pg_hba.conf any password is accepted, so then there is nothing to assert.
    let url = url_with(&with_password, Some("wrong-password"), &database);
    let wrong = PgStore::builder().migrate(false).connect(&url).await;
    match &wrong {
        Ok(store) => {
            println!("the server trusts this address: a wrong password is not checked");
            store.close().await;
        }
        Err(error) => println!("wrong password: {error}"),
    }

    for statement in [
        format!("DROP ROLE {nologin}"),
        format!("DROP ROLE {with_password}"),
    ] {
        sqlx::query(AssertSqlSafe(statement))
            .execute(&mut admin)
            .await
            .expect("drop a test role");
    }

    for (cause, message, elapsed) in outcomes {
        assert_eq!(cause, Some(ConnectCause::Authentication), "{message}");
        assert!(message.contains(&server_of_test_db()), "{message}");
        assert!(message.contains("authentication failed"), "{message}");
        assert!(!message.contains("pw-not-shown"), "{message}");
        assert!(elapsed < LOOSE_BOUND, "took {elapsed:?}");
    }
    if let Err(error) = wrong {
        let message = error.to_string();
        assert_eq!(
            error.cause(),
            Some(ConnectCause::Authentication),
            "{message}"
        );
        assert!(!message.contains("wrong-password"), "{message}");
    }
}

#[tokio::test]
async fn a_tls_failure_is_named() {
    // `verify-full` fails whether sqlx is built without TLS, the server has TLS off, or its
    // certificate is not trusted for 127.0.0.1 (a self-signed one).
    let url = format!(
        "{}?sslmode=verify-full",
        url_with("postgres", Some("pw-not-shown"), "postgres")
    );
    let started = Instant::now();
    let error = expect_connect_error(PgStore::connect(&url).await);
    let message = error.to_string();
    println!("TLS after {:?}: {message}", started.elapsed());
    assert_eq!(error.cause(), Some(ConnectCause::Tls), "{message}");
    assert!(message.contains(&server_of_test_db()), "{message}");
    assert!(!message.contains("pw-not-shown"), "{message}");
    assert!(started.elapsed() < LOOSE_BOUND);
}
