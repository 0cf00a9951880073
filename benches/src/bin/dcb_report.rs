//! Dynamic consistency boundaries: what a condition costs.
//!
//! ```text
//! cargo run --release -p es-bench --bin dcb-report                       # SQLite only
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/es_test cargo run --release -p es-bench --bin dcb-report
//! ```
//!
//! For 1, 8 and 32 writers (tasks, each with its own connection on PostgreSQL): single-event
//! appends per second without a condition (`append`, `ExpectedVersion::Any`) against the same
//! appends with a condition (`append_streams` failing if any event has the event's own unique tag:
//! a uniqueness claim, lock + indexed check + insert), in the same run. Then the cost of a decision
//! command over two states (`Decisions::execute` of a course subscription: read the course's and the
//! student's events, decide, append with the condition) against `Repository::execute` of a command
//! on an aggregate with as many events. Each store works in a fresh SQLite file or PostgreSQL schema,
//! removed at the end.

use es_core::dcb::{AppendCondition, Query, QueryItem, StreamAppend, tag};
use es_core::decision::{Decision, Decisions};
use es_core::{
    Aggregate, DomainEvent, Event, EventHandler, EventStore, ExpectedVersion, Handle, HandlerError,
    NewEvent, RecordedEvent, Repository, StreamId,
};
use es_postgres::PgStore;
use es_sqlite::SqliteStore;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const WRITERS: [usize; 3] = [1, 8, 32];
const DURATION: Duration = Duration::from_secs(2);
const COMMANDS: usize = 400;
const PER_COURSE: usize = 10;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Subscribed {
    course: String,
    student: String,
}

impl Event for Subscribed {
    const NAME: &'static str = "course.subscribed";
    fn tags(&self) -> Vec<String> {
        vec![tag("course", &self.course), tag("student", &self.student)]
    }
}

/// A decision state counting subscriptions (hand-written: the bench avoids the macros' crates).
#[derive(Default)]
struct Count(usize);

#[async_trait::async_trait]
impl EventHandler<()> for Count {
    fn event_types(&self) -> Vec<&'static str> {
        Subscribed::event_types()
    }
    async fn handle(&mut self, event: &RecordedEvent, _: &mut ()) -> Result<(), HandlerError> {
        event.decode::<Subscribed>()?;
        self.0 += 1;
        Ok(())
    }
}

struct Subscribe {
    course: String,
    student: String,
}

impl Decision for Subscribe {
    type States = (Count, Count);
    type Event = Subscribed;
    type Error = String;
    fn tags(&self) -> (Vec<String>, Vec<String>) {
        (
            vec![tag("course", &self.course)],
            vec![tag("student", &self.student)],
        )
    }
    fn stream(&self, _: &Subscribed) -> String {
        format!("course-{}", self.course)
    }
    fn decide(&self, (course, student): &(Count, Count)) -> Result<Vec<Subscribed>, String> {
        if course.0 >= PER_COURSE || student.0 >= 3 {
            return Err("full".into());
        }
        Ok(vec![Subscribed {
            course: self.course.clone(),
            student: self.student.clone(),
        }])
    }
}

/// The aggregate counterpart: a course as one stream.
#[derive(Default)]
struct Course {
    subscribed: usize,
}

impl Aggregate for Course {
    const NAME: &'static str = "agg";
    type Event = Subscribed;
    fn apply(&mut self, _: &Subscribed) {
        self.subscribed += 1;
    }
}

#[derive(Clone)]
struct Join(String);

impl Handle<Join> for Course {
    type Error = String;
    async fn handle(&self, cmd: Join) -> Result<Vec<Subscribed>, String> {
        if self.subscribed >= PER_COURSE {
            return Err("full".into());
        }
        Ok(vec![Subscribed {
            course: "x".into(),
            student: cmd.0,
        }])
    }
}

fn claim(w: usize, n: usize, run: &str) -> NewEvent {
    NewEvent::raw("bench.claimed", 1, serde_json::json!({ "w": w, "n": n }))
        .with_tags([format!("claim:{run}-{w}-{n}")])
}

/// Single-event appends per second by `writers` tasks for `DURATION`, with or without a condition.
async fn appends<S: EventStore + Clone + 'static>(
    stores: &[S],
    writers: usize,
    conditional: bool,
) -> Result<f64, BoxError> {
    let run = uuid::Uuid::now_v7().simple().to_string();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = stores[w % stores.len()].clone();
        let run = run.clone();
        tasks.push(tokio::spawn(async move {
            let stream = StreamId::new(format!("bench-{run}-{w}"))?;
            let mut n = 0;
            while started.elapsed() < DURATION {
                let event = claim(w, n, &run);
                if conditional {
                    let query = Query::item(QueryItem::new().tags(event.tags.clone()));
                    let append =
                        StreamAppend::new(stream.clone(), ExpectedVersion::Any, vec![event]);
                    store
                        .append_streams(vec![append], Some(AppendCondition::new(query, None)))
                        .await?;
                } else {
                    store
                        .append(&stream, ExpectedVersion::Any, vec![event])
                        .await?;
                }
                n += 1;
            }
            Ok::<usize, BoxError>(n)
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Commands per second: `COMMANDS` decisions over two states, then as many aggregate commands.
async fn commands<S>(store: S) -> Result<(f64, f64), BoxError>
where
    S: EventStore + es_core::SnapshotStore + Clone + 'static,
{
    let run = uuid::Uuid::now_v7().simple().to_string();
    let decisions = Decisions::new(store.clone());
    let started = Instant::now();
    for n in 0..COMMANDS {
        decisions
            .execute(Subscribe {
                course: format!("{run}-{}", n / PER_COURSE),
                student: format!("{run}-{n}"),
            })
            .await
            .map_err(|e| e.to_string())?;
    }
    let decided = COMMANDS as f64 / started.elapsed().as_secs_f64();
    let courses = Repository::<Course, _>::new(store);
    let started = Instant::now();
    for n in 0..COMMANDS {
        courses
            .execute(&format!("{run}-{}", n / PER_COURSE), Join(format!("s{n}")))
            .await
            .map_err(|e| e.to_string())?;
    }
    let executed = COMMANDS as f64 / started.elapsed().as_secs_f64();
    Ok((decided, executed))
}

async fn report<S>(name: &str, stores: Vec<S>) -> Result<(), BoxError>
where
    S: EventStore + es_core::SnapshotStore + Clone + 'static,
{
    println!("\n{name}: single-event appends per second");
    println!("  writers  unconditional  conditional  conditional/unconditional");
    for writers in WRITERS {
        let plain = appends(&stores, writers, false).await?;
        let conditional = appends(&stores, writers, true).await?;
        println!(
            "  {writers:>7}  {plain:>13.0}  {conditional:>11.0}  {:>24.0}%",
            100.0 * conditional / plain
        );
    }
    let (decided, executed) = commands(stores[0].clone()).await?;
    println!(
        "{name}: {COMMANDS} commands, sequential: decision over two states {decided:.0}/s, Repository::execute {executed:.0}/s ({:.0}%)",
        100.0 * decided / executed
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let dir = std::env::temp_dir().join(format!("es-dcb-report-{}", uuid::Uuid::now_v7()));
    let sqlite = SqliteStore::open(dir.join("bench.db")).await?;
    let result = report(
        "SQLite (file, WAL, synchronous = FULL)",
        vec![sqlite.clone()],
    )
    .await;
    sqlite.close().await;
    let _ = std::fs::remove_dir_all(&dir);
    result?;

    if let Ok(url) = std::env::var("DATABASE_URL") {
        let schema = format!("es_dcb_report_{}", uuid::Uuid::now_v7().simple());
        let first = PgStore::builder().schema(&schema).connect(&url).await?;
        // One single-connection store per writer, as separate application processes would have.
        let mut stores = vec![first.clone()];
        for _ in 1..32 {
            stores.push(
                PgStore::builder()
                    .schema(&schema)
                    .migrate(false)
                    .max_connections(1)
                    .connect(&url)
                    .await?,
            );
        }
        let result = report("PostgreSQL (local, synchronous_commit on)", stores.clone()).await;
        for store in &stores[1..] {
            store.close().await;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA {} CASCADE",
            first.schema().quoted()
        )))
        .execute(first.pool())
        .await?;
        first.close().await;
        result?;
    } else {
        println!("\n(set DATABASE_URL to measure PostgreSQL too)");
    }
    Ok(())
}
