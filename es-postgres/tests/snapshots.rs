//! Snapshots on PostgreSQL: with `SNAPSHOT_EVERY = 100`, 2,000 deposits of 1 executed one by one
//! load as exactly 2,000 from a snapshot and from a full replay, and every command saw that state.

mod common;

use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
struct Deposited {
    amount: i64,
}

#[derive(Debug, Clone, PartialEq, DomainEvent)]
enum AccountEvent {
    Deposited(Deposited),
}

/// A deposit that also states the balance it expects to find, so every command proves it saw
/// exactly the state of all earlier events (no event lost, none applied twice).
#[derive(Debug, Clone)]
struct Deposit {
    amount: i64,
    balance_before: i64,
}

#[derive(Debug, PartialEq)]
struct WrongState {
    expected: i64,
    found: i64,
}

/// The account with snapshots every 100 events. `replayed` counts events applied since the state
/// was created or restored; it is not part of the snapshot.
#[derive(Debug, Default, Serialize, Deserialize, Aggregate)]
#[aggregate(name = "account", events = AccountEvent, snapshot_every = 100)]
struct Account {
    balance: i64,
    #[serde(skip)]
    replayed: u64,
}

#[event_handler]
impl Account {
    fn deposited(&mut self, event: &Deposited) {
        self.balance += event.amount;
        self.replayed += 1;
    }
}

#[command_handler]
impl Account {
    fn deposit(&self, cmd: Deposit) -> Result<Deposited, WrongState> {
        if self.balance != cmd.balance_before {
            return Err(WrongState {
                expected: cmd.balance_before,
                found: self.balance,
            });
        }
        Ok(Deposited { amount: cmd.amount })
    }
}

/// The same stream without snapshots: always a full replay.
#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "account", events = AccountEvent)]
struct ReplayedAccount {
    balance: i64,
    replayed: u64,
}

#[event_handler]
impl ReplayedAccount {
    fn deposited(&mut self, event: &Deposited) {
        self.balance += event.amount;
        self.replayed += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_deposits_load_the_same_from_a_snapshot_and_from_a_replay() {
    let store = common::store().await;
    let accounts = Repository::<Account, _>::new(store.clone());
    for i in 0..2_000 {
        let done = accounts
            .execute(
                "acc-1",
                Deposit {
                    amount: 1,
                    balance_before: i,
                },
            )
            .await
            .unwrap_or_else(|e| panic!("deposit {i}: {e:?}"));
        assert_eq!(done.version, Version(i as u64 + 1));
    }

    let stream = StreamId::for_aggregate("account", "acc-1").unwrap();
    let snapshot = store
        .load_snapshot(&stream)
        .await
        .unwrap()
        .expect("a snapshot was taken");
    assert_eq!(snapshot.version, Version(2_000));
    assert_eq!(snapshot.state["balance"], 2_000);

    let from_snapshot = accounts.load_versioned("acc-1").await.unwrap();
    assert_eq!(from_snapshot.state.balance, 2_000);
    assert_eq!(from_snapshot.version, Version(2_000));
    assert_eq!(
        from_snapshot.state.replayed, 0,
        "the load must start from the snapshot at 2,000 and apply nothing again"
    );

    let replayed = Repository::<ReplayedAccount, _>::new(store.clone())
        .load_versioned("acc-1")
        .await
        .unwrap();
    assert_eq!(replayed.state.balance, 2_000);
    assert_eq!(replayed.state.replayed, 2_000);

    // One more deposit: the command sees 2,000 through the snapshot, and the next load folds
    // exactly one event on top of it.
    accounts
        .execute(
            "acc-1",
            Deposit {
                amount: 1,
                balance_before: 2_000,
            },
        )
        .await
        .unwrap();
    let after = accounts.load("acc-1").await.unwrap();
    assert_eq!((after.balance, after.replayed), (2_001, 1));

    // A command built on a stale view is rejected by the state, not double-applied.
    let stale = accounts
        .execute(
            "acc-1",
            Deposit {
                amount: 1,
                balance_before: 2_000,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        stale.rejection(),
        Some(&WrongState {
            expected: 2_000,
            found: 2_001
        })
    );

    // Point-in-time loads agree with the replay.
    assert_eq!(
        accounts
            .load_at("acc-1", Version(1_950))
            .await
            .unwrap()
            .balance,
        1_950
    );
    common::drop_store(store).await;
}
