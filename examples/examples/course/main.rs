//! The course subscription example: decisions that span entities, with dynamic consistency
//! boundaries (DCB). A course has a capacity; a student may take at most three courses. Neither is
//! one aggregate's invariant: a subscription reads the course's events *and* the student's, and is
//! stored only if neither changed meanwhile.
//!
//! ```sh
//! cargo run -p examples --example course              # SQLite: target/es-examples/course.db
//! cargo run -p examples --example course -- --db my.db
//! DATABASE_URL=postgres://postgres@127.0.0.1/es_test cargo run -p examples --example course
//! ```
//!
//! Every run defines a new course (capacity 10) and lets 32 students race for it in parallel:
//! exactly 10 get in. Then one student subscribes to three more courses and is refused a fourth,
//! and the course's enrolments are listed by a query over the log by tags.

mod domain;

use domain::{CourseDefined, CourseError, DefineCourse, StudentSubscribed, Subscribe};
use es_core::dcb::{Query, QueryItem, tag};
use es_core::decision::Decisions;
use es_core::prelude::*;
use es_postgres::PgStore;
use es_sqlite::SqliteStore;
use std::path::PathBuf;

// ---- the application -------------------------------------------------------------------------

fn db_path() -> Result<PathBuf, String> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None, _) => Ok(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/es-examples/course.db"
        ))),
        (Some("--db"), Some(path)) => Ok(PathBuf::from(path)),
        _ => Err("usage: course [--db PATH]".into()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match std::env::var("DATABASE_URL") {
        Ok(url) => {
            let store = PgStore::builder()
                .schema("course_example")
                .connect(&url)
                .await?;
            println!("course: events in PostgreSQL, schema course_example");
            run(store).await
        }
        Err(_) => {
            let path = db_path()?;
            let store = SqliteStore::open(&path).await?;
            let shown = path.canonicalize().unwrap_or(path);
            println!("course: events in {}", shown.display());
            run(store).await
        }
    }
}

async fn run<S: EventStore + Clone + 'static>(store: S) -> Result<(), Box<dyn std::error::Error>> {
    let decisions = Decisions::new(store.clone()).with_max_retries(100);
    // One main course per run: count the main courses defined before.
    let defined = Query::item(QueryItem::new().types(["course.defined"]));
    let earlier: Vec<es_core::RecordedEvent> = store
        .read_all(ReadAll::new().matching(defined))
        .try_collect()
        .await?;
    let run_number = 1 + earlier
        .iter()
        .filter_map(|e| e.decode::<CourseDefined>().ok())
        .filter(|e| !e.event.course.contains("-extra"))
        .count();
    let course = format!("rust-{run_number}");
    decisions
        .execute(DefineCourse {
            course: course.clone(),
            capacity: 10,
        })
        .await?;
    println!("defined course {course} with capacity 10");

    // 32 students race for 10 places, in parallel.
    let mut racers = Vec::new();
    for n in 0..32 {
        let (decisions, course) = (decisions.clone(), course.clone());
        racers.push(tokio::spawn(async move {
            let student = format!("s{n:02}");
            decisions.execute(Subscribe { course, student }).await
        }));
    }
    let (mut admitted, mut full, mut retries) = (0, 0, 0);
    for racer in racers {
        match racer.await? {
            Ok(decided) => {
                admitted += 1;
                retries += decided.attempts - 1;
            }
            Err(e) if matches!(e.rejection(), Some(CourseError::Full(_))) => full += 1,
            Err(e) => return Err(e.into()),
        }
    }
    println!(
        "32 students raced for {course}: {admitted} admitted, {full} refused (course full), {retries} decisions retried after a concurrent change"
    );

    // One student takes courses until the limit of three: the fourth is refused.
    let student = format!("ada-{run_number}");
    for extra in 1..=4 {
        let other = format!("{course}-extra{extra}");
        decisions
            .execute(DefineCourse {
                course: other.clone(),
                capacity: 5,
            })
            .await?;
        let subscribe = Subscribe {
            course: other.clone(),
            student: student.clone(),
        };
        match decisions.execute(subscribe).await {
            Ok(_) => println!("{student} subscribed to {other}"),
            Err(e) => match e.rejection() {
                Some(reason) => println!("{student} refused for {other}: {reason}"),
                None => return Err(e.into()),
            },
        }
    }

    // The enrolments of the course, straight from the log by tag.
    let enrolled = Query::item(
        QueryItem::new()
            .types(["course.student_subscribed"])
            .tags([tag("course", &course)]),
    );
    let mut students: Vec<String> = store
        .read_all(ReadAll::new().matching(enrolled))
        .map_ok(|e| e.decode::<StudentSubscribed>().map(|e| e.event.student))
        .try_collect::<Vec<_>>()
        .await?
        .into_iter()
        .collect::<Result<_, _>>()?;
    students.sort();
    println!("enrolled in {course}: {}", students.join(", "));
    Ok(())
}
