use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited", version = 0)]
pub struct Deposited {
    pub amount: i64,
}

fn main() {}
