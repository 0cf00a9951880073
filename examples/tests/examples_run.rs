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
    assert!(
        first.contains("transferred 10 from alice to bob"),
        "{first}"
    );
    assert!(
        first.contains("transfer of 1000 from bob to alice refused, neither side stored"),
        "{first}"
    );
    // alice 100 - 30 - 10, bob 50 + 10.
    assert!(first.contains("account-alice      60"), "{first}");
    assert!(first.contains("account-bob        60"), "{first}");

    let second = run("bank", &db);
    assert!(second.contains("account alice is already open"), "{second}");
    // alice 60 + 100 - 30 - 10; bob had 60 + 50 and could withdraw 80 this time, then got 10.
    assert!(second.contains("alice     120 EUR"), "{second}");
    assert!(second.contains("account-alice     120"), "{second}");
    assert!(second.contains("account-bob        40"), "{second}");
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
    assert!(
        first.contains("cannot take the user name: the name lovelace-"),
        "{first}"
    );
    assert!(first.contains(": 1 got it"), "{first}");
    // Forgetting Ada: her state and the rebuilt audit have no address; Grace keeps hers.
    assert!(
        first.contains(" before forgetting: Ada Lovelace <ada@example.com>"),
        "{first}"
    );
    assert!(
        first.contains(" after forgetting: Ada Lovelace <>"),
        "{first}"
    );
    let rebuilt = first
        .split("audit listing rebuilt after forgetting")
        .nth(1)
        .expect("a rebuilt listing");
    assert!(rebuilt.contains("registered as \"Ada\" <>"), "{rebuilt}");
    assert!(!rebuilt.contains("ada@example.com"), "{rebuilt}");
    assert!(rebuilt.contains("<grace@example.org>"), "{rebuilt}");
    let second = run("users", &db);
    assert!(second.contains(": 1 got it"), "{second}");
    // Four changes per run (the no-op update records nothing, the bad email is rejected).
    let listing = second
        .split("welcome mails sent this run")
        .next()
        .expect("the listing");
    assert_eq!(listing.matches(" sign-up ").count(), 4, "{second}");
    assert_eq!(
        listing.matches("name -> \"Ada Lovelace\"").count(),
        2,
        "{second}"
    );
    // The first run's Ada stays forgotten: only this run's Ada has an address in the listing.
    assert_eq!(listing.matches("<ada@example.com>").count(), 1, "{second}");
    std::fs::remove_dir_all(dir).expect("remove the temporary directory");
}

#[test]
fn course_admits_exactly_the_capacity_under_a_race() {
    let (db, dir) = fresh_db("course");
    let first = run("course", &db);
    assert!(
        first.contains("32 students raced for rust-1: 10 admitted, 22 refused"),
        "{first}"
    );
    assert!(
        first.contains("ada-1 refused for rust-1-extra4: ada-1 already takes 3 courses"),
        "{first}"
    );
    let second = run("course", &db);
    assert!(
        second.contains("32 students raced for rust-2: 10 admitted, 22 refused"),
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
