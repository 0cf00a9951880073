use es_core::prelude::*;

#[event_set]
#[derive(Debug, Clone, PartialEq)]
pub enum AccountEvent {
    #[event(name = "account.deposited")]
    Deposited { amount: i64 },
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "account", events = AccountEvent)]
pub struct Account {
    balance: i64,
}

#[event_handler]
impl Account {
    fn deposited(&mut self, e: &Deposited) {
        self.balance += e.amount;
    }
}

#[command_handler]
impl Account {
    #[command("Deposit")]
    pub fn deposit(&self, amount: i64) -> Result<Deposited, std::convert::Infallible> {
        Ok(Deposited { amount })
    }
}

fn main() {}
