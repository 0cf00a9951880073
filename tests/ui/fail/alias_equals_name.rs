use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited", aliases = ["credit", "account.deposited"])]
pub struct Deposited {
    pub amount: i64,
}

fn main() {}
