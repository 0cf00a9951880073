use es_core::prelude::*;
use serde::{Deserialize, Serialize};

fn v2_to_v3(v: serde_json::Value) -> Result<serde_json::Value, String> {
    Ok(v)
}

#[derive(Debug, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited", version = 2, upcast(from = 2, with = v2_to_v3))]
pub struct Deposited {
    pub amount: i64,
}

fn main() {}
