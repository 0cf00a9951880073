use es_core::prelude::*;

#[event_set]
#[derive(Debug, Clone)]
pub enum AccountEvent {
    #[event(name = "account.deposited")]
    Deposited { amount: i64 },
    #[event(name = "account.deposited")]
    Credited { amount: i64 },
}

fn main() {}
