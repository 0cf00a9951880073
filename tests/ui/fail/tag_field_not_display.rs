use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "cart.items_added")]
pub struct ItemsAdded {
    #[tag("cart")]
    pub cart: String,
    #[tag]
    pub items: Vec<String>,
}

fn main() {}
