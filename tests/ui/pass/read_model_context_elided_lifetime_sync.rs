//! A read model's context type with its lifetime elided (`tx: &mut Tx` for `struct Tx<'c>`) in
//! plain methods: the handler runs for every `Tx<'c>`. (An `async fn` cannot elide it: rustc's
//! own E0726, see `ui/fail/read_model_context_elided_lifetime.rs`.)
use es_core::prelude::*;
use es_core::{EventId, Metadata, Position, RecordedEvent, StreamId, Version};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
pub struct Deposited {
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.withdrawn")]
pub struct Withdrawn {
    pub amount: i64,
}

#[derive(Debug, Clone, DomainEvent)]
pub enum AccountEvent {
    Deposited(Deposited),
    Withdrawn(Withdrawn),
}

/// Stands in for `sqlx::Transaction<'c, Postgres>`.
pub struct Tx<'c> {
    pub log: &'c mut Vec<String>,
}

#[derive(Default)]
pub struct Report {
    total: i64,
}

#[event_handler]
impl Report {
    fn deposited(&mut self, e: &Deposited, tx: &mut Tx) {
        tx.log.push(format!("+{}", e.amount));
        self.total += e.amount;
    }

    fn withdrawn(&mut self, e: &Withdrawn, meta: &EventMeta, tx: &mut Tx) -> Result<(), std::io::Error> {
        tx.log.push(format!("-{} at {}", e.amount, meta.position.0));
        self.total -= e.amount;
        Ok(())
    }
}

fn recorded(event_type: &str, amount: i64) -> RecordedEvent {
    RecordedEvent {
        meta: EventMeta {
            event_id: EventId::new(),
            stream_id: StreamId::new("account-1").unwrap(),
            version: Version(1),
            position: Position(7),
            commit: 7,
            event_type: event_type.into(),
            schema_version: 1,
            recorded_at: chrono::Utc::now(),
            metadata: Metadata::default(),
            tags: Vec::new(),
        },
        payload: serde_json::json!({ "amount": amount }),
    }
}

fn main() {
    let mut log = Vec::new();
    let mut report = Report::default();
    futures::executor::block_on(async {
        let mut tx = Tx { log: &mut log };
        for event in [recorded("account.deposited", 5), recorded("account.withdrawn", 2)] {
            report.handle(&event, &mut tx).await.unwrap();
        }
    });
    assert_eq!(report.total, 3);
    assert_eq!(log, ["+5", "-2 at 7"]);
    assert_eq!(
        EventHandler::<Tx<'_>>::event_types(&report),
        ["account.deposited", "account.withdrawn"]
    );
}
