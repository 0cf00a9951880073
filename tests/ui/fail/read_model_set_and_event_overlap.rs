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

#[derive(Default)]
pub struct Audit {
    seen: usize,
}

#[event_handler]
impl Audit {
    async fn any(&mut self, _: &AccountEvent) {
        self.seen += 1;
    }
    async fn deposited(&mut self, _: &Deposited) {
        self.seen += 10;
    }
}

fn main() {}
