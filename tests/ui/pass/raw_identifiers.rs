//! `r#raw` identifiers for types, variants, methods and parameters.
#![deny(warnings)]
#![allow(non_camel_case_types)]

use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
pub struct r#match {
    pub r#type: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "r.loop")]
pub struct r#loop {}

#[derive(Debug, Clone, DomainEvent)]
pub enum r#enum {
    r#match(r#match),
    r#loop(r#loop),
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(events = r#enum)]
pub struct r#struct {
    pub r#type: String,
}

#[event_handler]
impl r#struct {
    fn r#match(&mut self, r#ref: &r#match) {
        self.r#type.clone_from(&r#ref.r#type);
    }
    fn r#loop(&mut self, _: &r#loop) {}
}

pub struct r#impl(pub String);

#[command_handler]
impl r#struct {
    fn r#fn(&self, r#in: r#impl) -> Result<r#match, std::convert::Infallible> {
        Ok(r#match { r#type: r#in.0 })
    }
}

fn main() {
    assert_eq!(<r#match as Event>::NAME, "match");
    assert_eq!(<r#struct as Aggregate>::NAME, "struct");
}
