use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize, DomainEvent)]
#[event(name = "account.deposited")]
pub struct Deposited(pub i64);

fn main() {}
