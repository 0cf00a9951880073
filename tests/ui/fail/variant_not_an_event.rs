use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deposited {
    pub amount: i64,
}

#[derive(Debug, Clone, DomainEvent)]
pub enum AccountEvent {
    Deposited(Deposited),
}

fn main() {}
