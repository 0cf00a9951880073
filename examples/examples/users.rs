//! The users example: users that register and update their profile, an audit listing of who
//! changed what and when (from the metadata stored with every event), and an in-process
//! subscriber that "sends" a welcome mail for each registration.
//!
//! ```sh
//! cargo run -p examples --example users              # data in target/es-examples/users.db
//! cargo run -p examples --example users -- --db my.db
//! ```
//!
//! E-mail addresses are personal data: encrypted per user; at the end Ada is forgotten, and her
//! state and the audit listing rebuilt from the log show her address erased.
//!
//! User names are unique across users: claiming one is a decision across streams (dynamic
//! consistency boundary) over the name's tag, enforced even when eight users race for one name.
//!
//! Commands run with metadata: the actor (who), a correlation id that ties together the events of
//! one request, and a free `reason` key (why). The audit projection writes one row per event into a
//! table of the same SQLite file, exactly once; the listing at the end is a query of that table.

use es_core::dcb::tag;
use es_core::decision::{Decision, Decisions};
use es_core::personal::{ForgetRequest, Protected};
use es_core::prelude::*;
use es_core::{Projection, ProjectionRunner, RunnerState, SubscriptionBuilder};
use es_sqlite::{SqliteStore, SqliteTx};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The e-mail address is personal data of the user: stored encrypted with the user's key, erased
/// on every read once the user is forgotten.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "user.registered")]
struct UserRegistered {
    #[serde(default)]
    user_id: String,
    #[personal(subject = user_id)]
    email: String,
    display_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "user.updated")]
struct UserUpdated {
    #[serde(default)]
    user_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[personal(subject = user_id)]
    email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    display_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, DomainEvent)]
enum UserEvent {
    Registered(UserRegistered),
    Updated(UserUpdated),
}

#[derive(Debug, Default, Aggregate)]
#[aggregate(name = "user", events = UserEvent)]
struct User {
    registered: bool,
    email: String,
    display_name: String,
}

#[event_handler]
impl User {
    fn registered(&mut self, e: &UserRegistered) {
        self.registered = true;
        self.email = e.email.clone();
        self.display_name = e.display_name.clone();
    }
    fn updated(&mut self, e: &UserUpdated) {
        if let Some(email) = &e.email {
            self.email = email.clone();
        }
        if let Some(name) = &e.display_name {
            self.display_name = name.clone();
        }
    }
}

#[derive(Debug, Clone)]
struct Register {
    user_id: String,
    email: String,
    display_name: String,
}
#[derive(Debug, Clone)]
struct Update {
    user_id: String,
    email: Option<String>,
    display_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
enum UserError {
    #[error("the user is already registered")]
    AlreadyRegistered,
    #[error("no such user")]
    NotRegistered,
    #[error("{0:?} is not an email address")]
    BadEmail(String),
}

fn check_email(email: &str) -> Result<(), UserError> {
    match email.split_once('@') {
        Some((user, domain)) if !user.is_empty() && domain.contains('.') => Ok(()),
        _ => Err(UserError::BadEmail(email.to_owned())),
    }
}

#[command_handler]
impl User {
    fn register(&self, cmd: Register) -> Result<UserRegistered, UserError> {
        if self.registered {
            return Err(UserError::AlreadyRegistered);
        }
        check_email(&cmd.email)?;
        Ok(UserRegistered {
            user_id: cmd.user_id,
            email: cmd.email,
            display_name: cmd.display_name,
        })
    }

    /// Records only what changes; an update that changes nothing records nothing.
    fn update(&self, cmd: Update) -> Result<Option<UserUpdated>, UserError> {
        if !self.registered {
            return Err(UserError::NotRegistered);
        }
        let email = cmd.email.filter(|e| *e != self.email);
        if let Some(e) = &email {
            check_email(e)?;
        }
        let display_name = cmd.display_name.filter(|n| *n != self.display_name);
        Ok(
            (email.is_some() || display_name.is_some()).then_some(UserUpdated {
                user_id: cmd.user_id,
                email,
                display_name,
            }),
        )
    }
}

// ---- unique user names, across users (a dynamic consistency boundary) --------------------------

/// A user name taken by a user. Tagged with the name, so a decision can read exactly the claims
/// of one name, whichever user's stream they are in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
#[event(name = "user.name_claimed")]
struct NameClaimed {
    #[tag("username")]
    username: String,
    user: String,
}

/// Who holds a name: built from its claims.
#[derive(Debug, Default)]
struct Name {
    holder: Option<String>,
}

#[event_handler]
impl Name {
    fn claimed(&mut self, e: &NameClaimed) {
        self.holder.get_or_insert_with(|| e.user.clone());
    }
}

struct ClaimName {
    username: String,
    user: String,
}

impl Decision for ClaimName {
    type States = (Name,);
    type Event = NameClaimed;
    type Error = String;

    fn tags(&self) -> (Vec<String>,) {
        (vec![tag("username", &self.username)],)
    }

    fn stream(&self, _: &NameClaimed) -> String {
        format!("username-{}", self.username)
    }

    fn decide(&self, (name,): &(Name,)) -> Result<Vec<NameClaimed>, String> {
        match &name.holder {
            Some(holder) => Err(format!("the name {} is taken by {holder}", self.username)),
            None => Ok(vec![NameClaimed {
                username: self.username.clone(),
                user: self.user.clone(),
            }]),
        }
    }
}

// ---- the audit read model -----------------------------------------------------------------------

/// One row per change: when, which user, who did it, why, and what changed.
struct Audit;

/// A row of the listing: recorded at, user, actor, reason, change.
type AuditRow = (String, String, Option<String>, Option<String>, String);

impl Audit {
    async fn create_table(store: &SqliteStore) -> Result<(), sqlx::Error> {
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS user_audit (
                 position INTEGER PRIMARY KEY, recorded_at TEXT NOT NULL, user_id TEXT NOT NULL,
                 actor TEXT, reason TEXT, correlation TEXT, change TEXT NOT NULL)",
        )
        .execute(store.pool())
        .await?;
        Ok(())
    }

    async fn record(
        meta: &EventMeta,
        change: String,
        tx: &mut SqliteTx<'_>,
    ) -> Result<(), sqlx::Error> {
        let m = &meta.metadata;
        sqlx::query(
            "INSERT INTO user_audit (position, recorded_at, user_id, actor, reason, correlation, change)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )
        .bind(meta.position.0 as i64)
        .bind(meta.recorded_at.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
        .bind(meta.stream_id.as_str())
        .bind(m.actor.as_deref())
        .bind(m.get("reason").and_then(|r| r.as_str()))
        .bind(m.correlation_id.map(|id| id.to_string()))
        .bind(change)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

#[event_handler]
impl Audit {
    async fn registered(
        &mut self,
        e: &UserRegistered,
        meta: &EventMeta,
        tx: &mut SqliteTx<'_>,
    ) -> Result<(), sqlx::Error> {
        let change = format!("registered as {:?} <{}>", e.display_name, e.email);
        Audit::record(meta, change, tx).await
    }

    async fn updated(
        &mut self,
        e: &UserUpdated,
        meta: &EventMeta,
        tx: &mut SqliteTx<'_>,
    ) -> Result<(), sqlx::Error> {
        let mut changes = Vec::new();
        if let Some(email) = &e.email {
            changes.push(format!("email -> <{email}>"));
        }
        if let Some(name) = &e.display_name {
            changes.push(format!("name -> {name:?}"));
        }
        Audit::record(meta, changes.join(", "), tx).await
    }
}

#[es_core::async_trait]
impl<'c> Projection<SqliteTx<'c>> for Audit {
    fn name(&self) -> &str {
        "user-audit"
    }

    async fn on_reset(&mut self, tx: &mut SqliteTx<'c>) -> Result<(), es_core::HandlerError> {
        sqlx::query("DELETE FROM user_audit")
            .execute(&mut **tx)
            .await
            .map_err(es_core::HandlerError::failed)?;
        Ok(())
    }
}

// ---- the application ------------------------------------------------------------------------

fn db_path() -> Result<PathBuf, String> {
    let mut args = std::env::args().skip(1);
    match (args.next().as_deref(), args.next()) {
        (None, _) => Ok(PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../target/es-examples/users.db"
        ))),
        (Some("--db"), Some(path)) => Ok(PathBuf::from(path)),
        _ => Err("usage: users [--db PATH]".into()),
    }
}

/// The metadata of one request: who, why, and a correlation id shared by its events.
fn request(actor: &str, reason: &str) -> Metadata {
    Metadata::new()
        .with_actor(actor)
        .with_correlation_id(uuid::Uuid::now_v7())
        .with("reason", reason)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let path = db_path()?;
    let store = SqliteStore::open(&path).await?;
    let shown = path.canonicalize().unwrap_or(path);
    println!("users: events and audit listing in {}", shown.display());
    Audit::create_table(&store).await?;
    // Personal data (the e-mail addresses) is encrypted per user, with keys in the same file.
    let protected = Protected::new(store.clone(), store.clone());
    let audit = ProjectionRunner::new(protected.clone(), store.clone(), Audit).spawn();

    // Publish/subscribe inside the application: a mailer hears of new registrations only.
    let mut registrations = SubscriptionBuilder::new(protected.clone())
        .from_now()
        .await?
        .subscribe::<UserRegistered>();
    // This run registers two users; the mailer stops after their mails.
    let mailer = tokio::spawn(async move {
        let mut sent = Vec::new();
        while sent.len() < 2 {
            let Some(event) = registrations.next().await else {
                break;
            };
            match event {
                Ok(e) => {
                    println!("  [mailer] welcome mail to {}", e.event.email);
                    sent.push(e.event.email);
                }
                Err(error) => eprintln!("  [mailer] cannot decode an event: {error}"),
            }
        }
        sent
    });

    let users = Repository::<User, _>::new(protected.clone());
    // New ids on every run, so a second run adds to the first one's listing.
    let run = uuid::Uuid::now_v7().simple().to_string();
    let run = &run[run.len() - 6..];
    let (ada, grace) = (format!("ada-{run}"), format!("grace-{run}"));

    let register = |user_id: &str, email: &str, name: &str| Register {
        user_id: user_id.into(),
        email: email.into(),
        display_name: name.into(),
    };
    users
        .execute_with(
            &ada,
            register(&ada, "ada@example.com", "Ada"),
            request("ada", "sign-up"),
        )
        .await?;
    users
        .execute_with(
            &grace,
            register(&grace, "grace@example.org", "Grace H."),
            request("grace", "sign-up"),
        )
        .await?;
    users
        .execute_with(
            &ada,
            Update {
                user_id: ada.clone(),
                email: None,
                display_name: Some("Ada Lovelace".into()),
            },
            request("ada", "profile edit"),
        )
        .await?;
    users
        .execute_with(
            &grace,
            Update {
                user_id: grace.clone(),
                email: Some("grace@navy.example.mil".into()),
                display_name: Some("Grace Hopper".into()),
            },
            request("support-7", "ticket #4711: new address"),
        )
        .await?;
    // Changes nothing, so records nothing.
    users
        .execute_with(
            &grace,
            Update {
                user_id: grace.clone(),
                email: None,
                display_name: Some("Grace Hopper".into()),
            },
            request("grace", "profile edit"),
        )
        .await?;
    match users
        .execute_with(
            &ada,
            Update {
                user_id: ada.clone(),
                email: Some("not-an-address".into()),
                display_name: None,
            },
            request("ada", "profile edit"),
        )
        .await
    {
        Err(ExecuteError::Rejected(e)) => println!("ada's update rejected: {e}"),
        other => return Err(format!("a bad email must be rejected, got {other:?}").into()),
    }

    // User names are unique across users: a claim reads the name's claims and is stored only if
    // none appeared meanwhile. Eight users race for one name; exactly one gets it.
    let names = Decisions::new(store.clone()).with_max_retries(100);
    let claim = |username: &str, user: &str| ClaimName {
        username: username.into(),
        user: user.into(),
    };
    let lovelace = format!("lovelace-{run}");
    names.execute(claim(&lovelace, &ada)).await?;
    match names.execute(claim(&lovelace, &grace)).await {
        Err(e) if e.rejection().is_some() => {
            println!(
                "{grace} cannot take the user name: {}",
                e.rejection().map_or("", |r| r.as_str())
            )
        }
        other => return Err(format!("a taken name must be refused, got {other:?}").into()),
    }
    let contested = format!("hopper-{run}");
    let mut racers = Vec::new();
    for n in 0..8 {
        let (names, claim) = (names.clone(), claim(&contested, &format!("racer-{n}")));
        racers.push(tokio::spawn(
            async move { names.execute(claim).await.is_ok() },
        ));
    }
    let mut winners = 0;
    for racer in racers {
        winners += usize::from(racer.await?);
    }
    println!("8 users raced for the user name {contested}: {winners} got it");

    let head = store.head_position().await?;
    audit
        .wait_for(|s| s.state == RunnerState::Live && s.checkpoint.position >= head)
        .await;
    audit.stop().await?;

    let grace_now = users.load(&grace).await?;
    println!(
        "\n{grace}: {} <{}>",
        grace_now.display_name, grace_now.email
    );

    print_audit(&store, "audit listing (newest last)").await?;

    let mailed = mailer.await?;
    println!("\nwelcome mails sent this run: {}", mailed.join(", "));

    // Ada asks to be forgotten: her key is deleted (recorded with who asked and why). The events
    // stay; her address reads as erased everywhere, and the audit rebuilt from the log has none.
    let ada_before = users.load(&ada).await?;
    println!(
        "\n{ada} before forgetting: {} <{}>",
        ada_before.display_name, ada_before.email
    );
    protected
        .forget(
            &ada,
            &ForgetRequest::new("dpo@example.com", "erasure request #12"),
        )
        .await?;
    let ada_after = users.load(&ada).await?;
    println!(
        "{ada} after forgetting: {} <{}>",
        ada_after.display_name, ada_after.email
    );
    let mut rebuilt = ProjectionRunner::new(protected.clone(), store.clone(), Audit);
    rebuilt.rebuild().await?;
    let handle = rebuilt.spawn();
    let head = store.head_position().await?;
    handle
        .wait_for(|s| s.state == RunnerState::Live && s.checkpoint.position >= head)
        .await;
    handle.stop().await?;
    print_audit(&store, "audit listing rebuilt after forgetting").await?;
    Ok(())
}

async fn print_audit(store: &SqliteStore, title: &str) -> Result<(), sqlx::Error> {
    println!("\n{title}:");
    println!(
        "  {:<23}  {:<18}  {:<9}  {:<26}  change",
        "recorded at (UTC)", "user", "by", "why"
    );
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT recorded_at, user_id, actor, reason, change FROM user_audit ORDER BY position",
    )
    .fetch_all(store.pool())
    .await?;
    for (at, user, actor, reason, change) in &rows {
        println!(
            "  {at:<23}  {user:<18}  {:<9}  {:<26}  {change}",
            actor.as_deref().unwrap_or("-"),
            reason.as_deref().unwrap_or("-"),
        );
    }
    Ok(())
}
