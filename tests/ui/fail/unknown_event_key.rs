use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, DomainEvent)]
#[event(nmae = "account.deposited")]
pub struct Deposited {
    pub amount: i64,
}

fn main() {}
