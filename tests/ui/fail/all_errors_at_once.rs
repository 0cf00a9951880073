use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited", version = 0, aliases = ["account.deposited"], colour = "red")]
pub struct Deposited {
    pub amount: i64,
}

fn main() {}
