use es_core::prelude::*;
use serde::{Deserialize, Serialize};

fn v2_to_v3(v: serde_json::Value) -> Result<serde_json::Value, String> {
    Ok(v)
}

#[derive(Deserialize)]
pub struct DepositedV1 {
    pub cents: i64,
}

#[derive(Debug, Serialize, Deserialize, DomainEvent)]
#[event(
    name = "account.deposited",
    version = 3,
    upcast(from = 1, via = DepositedV1),
    upcast(from = 2, with = v2_to_v3)
)]
pub struct Deposited {
    pub amount: i64,
}

fn main() {}
