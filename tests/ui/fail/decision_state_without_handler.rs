use es_core::dcb::tag;
use es_core::decision::Decision;
use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "user.registered")]
pub struct Registered {
    #[tag("username")]
    pub name: String,
}

/// Forgot `#[event_handler]`: the state reads nothing.
#[derive(Default)]
pub struct Name {
    taken: bool,
}

impl Name {
    #[allow(dead_code)]
    fn registered(&mut self, _: &Registered) {
        self.taken = true;
    }
}

pub struct Register {
    name: String,
}

impl Decision for Register {
    type States = (Name,);
    type Event = Registered;
    type Error = String;
    fn tags(&self) -> (Vec<String>,) {
        (vec![tag("username", &self.name)],)
    }
    fn stream(&self, _: &Registered) -> String {
        format!("user-{}", self.name)
    }
    fn decide(&self, (name,): &(Name,)) -> Result<Vec<Registered>, String> {
        if name.taken {
            return Err("taken".into());
        }
        Ok(vec![Registered { name: self.name.clone() }])
    }
}

fn main() {}
