//! Runs the example programs (built by `cargo test` next to this test) twice on a fresh SQLite
//! file each, and checks that the second run continues from the first one's data.

use std::path::{Path, PathBuf};
use std::process::Command;

/// `target/<profile>/examples/<name>`: this test runs from `target/<profile>/deps/`.
fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps");
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is not built: run the examples' tests with `cargo test -p examples`",
        path.display()
    );
    path
}

/// Runs an example on `db` (always the embedded SQLite store) and returns its output.
fn run(name: &str, db: &Path) -> String {
    let output = Command::new(example(name))
        .arg("--db")
        .arg(db)
        .env_remove("DATABASE_URL")
        .output()
        .expect("start the example");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "example {name} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

fn fresh_db(name: &str) -> (PathBuf, PathBuf) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "es-example-{name}-{}",
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir).expect("create a temporary directory");
    (dir.join(format!("{name}.db")), dir)
}

#[test]
fn bank_runs_twice_and_continues() {
    let (db, dir) = fresh_db("bank");
    let first = run("bank", &db);
    assert!(first.contains("opened account alice for Alice"), "{first}");
    assert!(
        first.contains("bob's withdrawal of 80 was rejected"),
        "{first}"
    );
    assert!(first.contains("account-alice      70"), "{first}");

    let second = run("bank", &db);
    assert!(second.contains("account alice is already open"), "{second}");
    // 70 + 100 - 30; bob had 50 + 50 and could withdraw 80 this time.
    assert!(second.contains("alice     140 EUR"), "{second}");
    assert!(second.contains("account-alice     140"), "{second}");
    assert!(second.contains("account-bob        20"), "{second}");
    std::fs::remove_dir_all(dir).expect("remove the temporary directory");
}

#[test]
fn shop_runs_twice_and_its_read_models_accumulate() {
    let (db, dir) = fresh_db("shop");
    let first = run("shop", &db);
    assert!(first.contains("revenue: 3750"), "{first}");
    assert!(
        first.contains("order rejected: an empty cart cannot be ordered"),
        "{first}"
    );
    assert!(first.contains("payment of 100 rejected"), "{first}");
    let second = run("shop", &db);
    assert!(second.contains("revenue: 7500"), "{second}");
    assert_eq!(second.matches(" 7 items ").count(), 2, "{second}");
    std::fs::remove_dir_all(dir).expect("remove the temporary directory");
}

#[test]
fn users_audit_lists_who_changed_what() {
    let (db, dir) = fresh_db("users");
    let first = run("users", &db);
    assert!(first.contains("support-7"), "{first}");
    assert!(first.contains("ticket #4711: new address"), "{first}");
    assert!(
        first.contains("welcome mails sent this run: ada@example.com, grace@example.org"),
        "{first}"
    );
    let second = run("users", &db);
    // Four changes per run (the no-op update records nothing, the bad email is rejected).
    assert_eq!(second.matches(" sign-up ").count(), 4, "{second}");
    assert_eq!(
        second.matches("name -> \"Ada Lovelace\"").count(),
        2,
        "{second}"
    );
    std::fs::remove_dir_all(dir).expect("remove the temporary directory");
}

/// The three-process shop over NATS JetStream: starts its own nats-server (or uses NATS_URL).
#[test]
fn nats_shop_runs_three_services_and_every_paid_order_gets_one_reservation_and_one_mail() {
    let output = Command::new(example("nats-shop"))
        .env_remove("DATABASE_URL")
        .output()
        .expect("start the example");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "nats-shop failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    for line in [
        "order 1: confirmed",
        "order 2: cancelled",
        "order 4: cancelled",
        "mailer: order-1 -> Dear ada, we received 2500 for order-1.",
        "events recorded since the payments began: 2",
        "order 1 replayed to before its payment: \"Confirmed\"; now: \"Paid\"",
        "outcome: every paid order has exactly one reservation and one mail",
    ] {
        assert!(stdout.contains(line), "missing `{line}` in:\n{stdout}");
    }
}

/// The same three services while one of them is SIGKILLed and restarted 12 times.
#[test]
fn nats_shop_under_kills_still_gives_every_paid_order_one_reservation_and_one_mail() {
    let output = Command::new(example("nats-shop"))
        .arg("chaos")
        .env_remove("DATABASE_URL")
        .output()
        .expect("start the example");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "nats-shop chaos failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("12 SIGKILLs"), "{stdout}");
    assert!(
        stdout.contains("24 orders paid, 24 reservations, 24 mails; outcome: every paid order has exactly one reservation and one mail"),
        "{stdout}"
    );
}
