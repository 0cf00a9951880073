use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
pub struct Deposited {
    pub amount: i64,
}

/// Stands in for `sqlx::Transaction<'c, Sqlite>`.
pub struct Tx<'c> {
    pub log: &'c mut Vec<String>,
}

#[derive(Default)]
pub struct Report;

#[event_handler]
impl Report {
    fn deposited(&mut self, e: &Deposited, tx: &mut Tx) {
        tx.log.push(format!("+{}", e.amount));
    }
}

fn run<C: Send, H: EventHandler<C>>(_: H) {}

fn main() {
    // Run where the context is another type than the methods' `&mut Tx`.
    run::<String, _>(Report);
}
