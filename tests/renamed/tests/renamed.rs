//! The macros work in a crate that renamed `es-core` (here to `my_es`).

use es_tests_renamed::{Credited, Credits, Pay, Wallet, WalletEvent};
use futures::TryStreamExt;
use my_es::prelude::*;
use my_es::{MemoryStore, NewEvent};

#[tokio::test]
async fn generated_code_runs_under_the_renamed_crate() {
    let store = MemoryStore::new();
    let stream = StreamId::for_aggregate("wallet", "w").unwrap();
    store
        .append(
            &stream,
            ExpectedVersion::NoStream,
            vec![NewEvent::raw(
                "wallet.credited",
                1,
                serde_json::json!({ "cents": 40 }),
            )],
        )
        .await
        .unwrap();
    let wallets = Repository::<Wallet, _>::new(store.clone());
    assert_eq!(wallets.load("w").await.unwrap().balance, 40);
    wallets.execute("w", Pay(15)).await.unwrap();
    assert_eq!(wallets.load("w").await.unwrap().balance, 25);
    let rejected = wallets.execute("w", Pay(100)).await.unwrap_err();
    assert_eq!(
        rejected.rejection().map(String::as_str),
        Some("balance 25 is less than 100")
    );
    assert_eq!(
        WalletEvent::event_types(),
        ["wallet.credited", "wallet.debited"]
    );

    let mut credits = Credits::default();
    assert_eq!(
        EventHandler::<()>::event_types(&credits),
        [<Credited as Event>::NAME]
    );
    let all: Vec<_> = store.read_all(ReadAll::new()).try_collect().await.unwrap();
    for event in &all {
        credits.handle(event, &mut ()).await.unwrap();
    }
    assert_eq!((all.len(), credits.count), (2, 1));
}

#[tokio::test]
async fn compact_forms_run_under_the_renamed_crate() {
    use es_tests_renamed::{Fed, Feed, Piggy};
    let store = MemoryStore::new();
    let stream = StreamId::for_aggregate("piggy", "p").unwrap();
    store
        .append(
            &stream,
            ExpectedVersion::NoStream,
            vec![NewEvent::raw(
                "piggy.fed",
                1,
                serde_json::json!({ "coin": 20 }),
            )],
        )
        .await
        .unwrap();
    let piggies = Repository::<Piggy, _>::new(store);
    piggies.execute("p", Feed { cents: 5 }).await.unwrap();
    assert_eq!(piggies.load("p").await.unwrap().cents, 25);
    assert_eq!(<Fed as Event>::VERSION, 2);
}
