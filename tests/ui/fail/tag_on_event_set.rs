use es_core::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, DomainEvent)]
#[event(name = "course.defined")]
pub struct CourseDefined {
    pub course: String,
}

#[derive(Debug, Clone, DomainEvent)]
pub enum CourseEvent {
    #[tag("course")]
    Defined(CourseDefined),
}

fn main() {}
