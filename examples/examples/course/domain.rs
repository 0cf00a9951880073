//! The course domain: events with tags, two decision states, two decisions.

use es_core::dcb::tag;
use es_core::decision::Decision;
use es_core::prelude::*;
use serde::{Deserialize, Serialize};

// ---- events: tags come from the fields marked #[tag] ----------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "course.defined")]
pub struct CourseDefined {
    #[tag("course")]
    pub course: String,
    pub capacity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "course.student_subscribed")]
pub struct StudentSubscribed {
    #[tag("course")]
    pub course: String,
    #[tag("student")]
    pub student: String,
}

// ---- decision states: like aggregates, built from the events their methods take -------------

/// A course: whether it exists, its capacity, how many subscribed.
#[derive(Debug, Default)]
pub struct Course {
    pub capacity: Option<u32>,
    pub subscribed: u32,
}

#[event_handler]
impl Course {
    fn defined(&mut self, e: &CourseDefined) {
        self.capacity = Some(e.capacity);
    }
    fn subscribed(&mut self, _: &StudentSubscribed) {
        self.subscribed += 1;
    }
}

/// A student: how many courses they take.
#[derive(Debug, Default)]
pub struct Student {
    pub courses: u32,
}

#[event_handler]
impl Student {
    fn subscribed(&mut self, _: &StudentSubscribed) {
        self.courses += 1;
    }
}

pub const MAX_COURSES_PER_STUDENT: u32 = 3;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CourseError {
    #[error("course {0} is already defined")]
    AlreadyDefined(String),
    #[error("course {0} does not exist")]
    NoSuchCourse(String),
    #[error("course {0} is full")]
    Full(String),
    #[error("{0} already takes {MAX_COURSES_PER_STUDENT} courses")]
    TooManyCourses(String),
}

// ---- commands: each names its states' tags and decides ---------------------------------------

pub struct DefineCourse {
    pub course: String,
    pub capacity: u32,
}

impl Decision for DefineCourse {
    type States = (Course,);
    type Event = CourseDefined;
    type Error = CourseError;

    fn tags(&self) -> (Vec<String>,) {
        (vec![tag("course", &self.course)],)
    }

    fn stream(&self, _: &CourseDefined) -> String {
        format!("course-{}", self.course)
    }

    fn decide(&self, (course,): &(Course,)) -> Result<Vec<CourseDefined>, CourseError> {
        if course.capacity.is_some() {
            return Err(CourseError::AlreadyDefined(self.course.clone()));
        }
        Ok(vec![CourseDefined {
            course: self.course.clone(),
            capacity: self.capacity,
        }])
    }
}

pub struct Subscribe {
    pub course: String,
    pub student: String,
}

impl Decision for Subscribe {
    type States = (Course, Student);
    type Event = StudentSubscribed;
    type Error = CourseError;

    fn tags(&self) -> (Vec<String>, Vec<String>) {
        (
            vec![tag("course", &self.course)],
            vec![tag("student", &self.student)],
        )
    }

    fn stream(&self, _: &StudentSubscribed) -> String {
        format!("course-{}", self.course)
    }

    fn decide(
        &self,
        (course, student): &(Course, Student),
    ) -> Result<Vec<StudentSubscribed>, CourseError> {
        let Some(capacity) = course.capacity else {
            return Err(CourseError::NoSuchCourse(self.course.clone()));
        };
        if course.subscribed >= capacity {
            return Err(CourseError::Full(self.course.clone()));
        }
        if student.courses >= MAX_COURSES_PER_STUDENT {
            return Err(CourseError::TooManyCourses(self.student.clone()));
        }
        Ok(vec![StudentSubscribed {
            course: self.course.clone(),
            student: self.student.clone(),
        }])
    }
}
