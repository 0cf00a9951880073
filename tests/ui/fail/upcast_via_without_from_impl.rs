use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Deserialize)]
pub struct DepositedV1 {
    pub cents: i64,
}

#[derive(Debug, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited", version = 2, upcast(from = 1, via = DepositedV1))]
pub struct Deposited {
    pub amount: i64,
}

fn main() {}
