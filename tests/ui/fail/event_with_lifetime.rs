use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "note.added")]
pub struct NoteAdded<'a> {
    pub text: &'a str,
}

fn main() {}
