use es_core::prelude::*;

#[event_set]
#[derive(Debug, Clone, PartialEq)]
pub enum AccountEvent {
    #[event(name = "account.opened")]
    Opened { owner: String },
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "account", events = AccountEvent)]
pub struct Account {
    open: bool,
}

#[event_handler]
impl Account {
    fn opened(&mut self, _: &Opened) {
        self.open = true;
    }
}

#[command_handler]
impl Account {
    #[command]
    pub fn open(&self, owner: &str) -> Result<Opened, std::convert::Infallible> {
        Ok(Opened { owner: owner.to_owned() })
    }

    #[command(Rename)]
    pub fn rename(&self, (first, last): (String, String)) -> Result<Opened, std::convert::Infallible> {
        Ok(Opened { owner: format!("{first} {last}") })
    }
}

fn main() {}
