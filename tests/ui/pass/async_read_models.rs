//! Read models: async methods, `Result` returns, `&EventMeta`, a context with a lifetime, events
//! from several sets.
#![deny(warnings)]

use es_core::prelude::*;
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

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "order.placed")]
pub struct Placed {
    pub total: i64,
}

#[derive(Debug, Clone, DomainEvent)]
pub enum AccountEvent {
    Deposited(Deposited),
    Withdrawn(Withdrawn),
}

#[derive(Debug, Clone, DomainEvent)]
pub enum OrderEvent {
    Placed(Placed),
}

/// Stands in for `sqlx::Transaction<'c, Postgres>`.
pub struct Tx<'c> {
    pub log: &'c mut Vec<String>,
}

#[derive(Default)]
pub struct Report {
    pub total: i64,
}

#[derive(Debug)]
pub struct ReportError;

impl std::fmt::Display for ReportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("report failed")
    }
}

impl std::error::Error for ReportError {}

#[event_handler]
impl Report {
    async fn deposited(&mut self, e: &Deposited, meta: &EventMeta, tx: &mut Tx<'_>) -> Result<(), ReportError> {
        tx.log.push(format!("{} {}", meta.stream_id, e.amount));
        self.total += e.amount;
        Ok(())
    }

    fn placed(&mut self, e: &Placed, tx: &mut Tx<'_>) {
        tx.log.push(format!("order {}", e.total));
    }

    async fn whole_set(&mut self, _: &AccountEvent) {}
}

/// A handler with no context works with any context.
#[derive(Default)]
pub struct Seen(pub usize);

#[event_handler]
impl Seen {
    async fn placed(&mut self, _: &Placed, _: &EventMeta) -> Result<(), std::io::Error> {
        self.0 += 1;
        Ok(())
    }
}

fn assert_handler<C: Send + ?Sized, H: EventHandler<C>>(_: &H) {}

fn main() {
    let report = Report::default();
    assert_handler::<Tx<'static>, _>(&report);
    assert_eq!(
        EventHandler::<Tx<'_>>::event_types(&report),
        ["account.deposited", "order.placed", "account.withdrawn"]
    );
    let seen = Seen::default();
    assert_handler::<(), _>(&seen);
    assert_handler::<String, _>(&seen);
}
