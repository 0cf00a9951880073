use es_core::prelude::*;
use serde::{Deserialize, Serialize};

fn step(v: serde_json::Value) -> Result<serde_json::Value, String> {
    Ok(v)
}

#[derive(Debug, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited", version = 4, upcast(from = 1, with = step), upcast(from = 3, with = step))]
pub struct Deposited {
    pub amount: i64,
}

fn main() {}
