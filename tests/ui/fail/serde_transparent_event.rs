use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[serde(transparent)]
#[event(name = "account.deposited")]
pub struct Deposited {
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[serde(into = "Raw", from = "Raw")]
#[event(name = "account.withdrawn")]
pub struct Withdrawn {
    pub amount: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Raw(i64);

impl From<Raw> for Withdrawn {
    fn from(raw: Raw) -> Self {
        Withdrawn { amount: raw.0 }
    }
}

impl From<Withdrawn> for Raw {
    fn from(w: Withdrawn) -> Self {
        Raw(w.amount)
    }
}

fn main() {}
