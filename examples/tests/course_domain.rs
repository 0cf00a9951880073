//! Given/when/then tests of the course example's domain (examples/examples/course/domain.rs).

#[allow(dead_code)]
#[path = "../examples/course/domain.rs"]
mod domain;

use domain::*;
use es_core::testing::DecisionTest;

fn defined(course: &str, capacity: u32) -> CourseDefined {
    CourseDefined {
        course: course.into(),
        capacity,
    }
}

fn subscribed(course: &str, student: &str) -> StudentSubscribed {
    StudentSubscribed {
        course: course.into(),
        student: student.into(),
    }
}

fn subscribe(course: &str, student: &str) -> Subscribe {
    Subscribe {
        course: course.into(),
        student: student.into(),
    }
}

#[test]
fn a_student_subscribes_to_a_course_with_room() {
    DecisionTest::new()
        .given(defined("c1", 2))
        .given(subscribed("c1", "s1"))
        .when(subscribe("c1", "s2"))
        .then([subscribed("c1", "s2")]);
}

#[test]
fn a_full_course_refuses() {
    DecisionTest::new()
        .given(defined("c1", 1))
        .given(subscribed("c1", "s1"))
        .when(subscribe("c1", "s2"))
        .then_error(CourseError::Full("c1".into()));
}

#[test]
fn other_courses_do_not_count_against_the_capacity() {
    DecisionTest::new()
        .given(defined("c1", 1))
        .given(defined("c2", 5))
        .given(subscribed("c2", "s1"))
        .when(subscribe("c1", "s2"))
        .then([subscribed("c1", "s2")]);
}

#[test]
fn a_student_takes_at_most_three_courses() {
    DecisionTest::new()
        .given(defined("c4", 5))
        .given(subscribed("c1", "s1"))
        .given(subscribed("c2", "s1"))
        .given(subscribed("c3", "s1"))
        .when(subscribe("c4", "s1"))
        .then_error(CourseError::TooManyCourses("s1".into()));
}

#[test]
fn an_unknown_course_refuses_and_a_course_is_defined_once() {
    DecisionTest::new()
        .when(subscribe("c9", "s1"))
        .then_error(CourseError::NoSuchCourse("c9".into()));
    DecisionTest::new()
        .given(defined("c1", 1))
        .when(DefineCourse {
            course: "c1".into(),
            capacity: 3,
        })
        .then_error(CourseError::AlreadyDefined("c1".into()));
}
