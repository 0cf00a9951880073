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
    async fn deposited(&mut self, e: &Deposited, tx: &mut Tx) {
        tx.log.push(format!("+{}", e.amount));
        self.total += e.amount;
    }
}

fn main() {}
