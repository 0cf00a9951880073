use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "course.defined")]
pub struct CourseDefined {
    #[tag(course)]
    pub course: String,
    #[tag("")]
    pub room: String,
    #[tag("a:b")]
    pub building: String,
    #[tag = "teacher"]
    pub teacher: String,
    #[tag]
    #[tag("again")]
    pub campus: String,
}

fn main() {}
