use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Address {
    pub street: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "user.moved")]
pub struct Moved {
    pub user_id: String,
    #[personal(subject = user_id)]
    pub address: Address,
}

fn main() {}
