use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "user.registered")]
pub struct Registered {
    pub user_id: String,
    #[personal(subject = owner)]
    pub email: String,
    #[personal(subject = name)]
    pub name: String,
    #[personal]
    pub phone: String,
    #[personal(subject = "user_id")]
    pub address: String,
}

fn main() {}
