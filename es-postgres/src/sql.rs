//! The SQL of one store, with its schema name quoted in once at construction.

use crate::row::{EVENT_COLUMNS, REPLAY_COLUMNS};
use crate::schema::SchemaName;
use es_core::ReadAll;
use sqlx::{AssertSqlSafe, SqlStr};
use std::sync::Arc;

/// Statements with the (validated and quoted) schema name filled in. Only the schema name is
/// formatted into SQL; every value is a bind parameter.
#[derive(Debug)]
pub(crate) struct Statements {
    schema: String,
    pub append: Arc<str>,
    pub append_notify: Arc<str>,
    pub stored_ids: Arc<str>,
    pub stream_version: Arc<str>,
    pub stream_state: Arc<str>,
    pub head_position: Arc<str>,
    pub read_stream: Arc<str>,
    pub replay_stream: Arc<str>,
    pub horizon: Arc<str>,
    pub horizon_and_head: Arc<str>,
    pub newest_commit: Arc<str>,
    pub load_snapshot: Arc<str>,
    pub save_snapshot: Arc<str>,
    pub load_checkpoint: Arc<str>,
    pub save_checkpoint: Arc<str>,
    pub delete_checkpoint: Arc<str>,
}

/// `$2` is the expected version (NULL for any). The guard and the insert are one statement, so the
/// whole batch is one round trip and one (implicit) transaction. A concurrent writer that wins the
/// race makes this statement fail on the unique (stream_id, version) key; a wrong expected version
/// makes it insert nothing.
///
/// `$8` holds each event's tags as a JSON array, `$9` the batch's shared advisory lock keys
/// (`locks::append_keys`, ascending; empty inside a transaction that took them already): the
/// `locked` CTE takes them before any row is inserted (and before the transaction has an id), and
/// they are held to the commit, so a conditional append whose query these events match waits for
/// this one, and then sees its events.
///
/// A stream whose last event is its tombstone (`es_core::tombstone`) takes nothing: the statement
/// inserts no row, as for a wrong expected version, and the caller finds out which with
/// `stream_state`.
fn append(s: &str, notify: bool) -> String {
    let deleted = es_core::tombstone::STREAM_DELETED;
    let (notify_cte, notify_from) = if notify {
        (", wake AS (SELECT pg_notify($10, ''))", ", wake")
    } else {
        ("", "")
    };
    format!(
        "WITH locked AS (SELECT count(pg_advisory_xact_lock_shared(k)) AS n FROM unnest($9::bigint[]) AS k),
              last AS (SELECT version, event_type FROM {s}.es_events WHERE stream_id = $1
                       ORDER BY version DESC LIMIT 1),
              cur AS (SELECT coalesce(max(version), 0) AS v,
                             coalesce(bool_or(event_type = '{deleted}'), false) AS deleted
                      FROM last),
              ok AS (SELECT v FROM cur, locked
                     WHERE ($2::bigint IS NULL OR v = $2::bigint) AND NOT deleted){notify_cte}
         INSERT INTO {s}.es_events
                (event_id, stream_id, version, event_type, schema_version, payload, metadata, tags)
         SELECT e.id, $1, ok.v + e.ord, e.t, e.sv, e.p::jsonb, e.m::jsonb,
                ARRAY(SELECT jsonb_array_elements_text(e.g::jsonb))
         FROM ok{notify_from},
              unnest($3::uuid[], $4::text[], $5::int4[], $6::text[], $7::text[], $8::text[])
                  WITH ORDINALITY AS e(id, t, sv, p, m, g, ord)
         ORDER BY e.ord
         RETURNING version, global_position"
    )
}

/// The SQL of a DCB query over `es_events` as a boolean expression, its parameters numbered from
/// `next() + 1`: per item `event_type = ANY($n)` and `tags @> $m` (served by the GIN index), the
/// items OR'd. The caller binds, per item in order, the types (if any) then the tags (if any).
pub(crate) fn query_clause(query: &es_core::dcb::Query, mut next: impl FnMut() -> usize) -> String {
    let items: Vec<String> = query
        .items
        .iter()
        .map(|item| {
            let mut parts = Vec::new();
            if !item.types.is_empty() {
                parts.push(format!("event_type = ANY(${}::text[])", next()));
            }
            if !item.tags.is_empty() {
                // `tags <> '{}'` lets the planner use the partial GIN index of tagged events.
                parts.push(format!("tags <> '{{}}' AND tags @> ${}::text[]", next()));
            }
            if parts.is_empty() {
                "true".to_owned()
            } else {
                format!("({})", parts.join(" AND "))
            }
        })
        .collect();
    if items.is_empty() {
        "false".to_owned()
    } else {
        format!("({})", items.join(" OR "))
    }
}

impl Statements {
    pub(crate) fn new(schema: &SchemaName) -> Self {
        let s = schema.quoted();
        let arc = |sql: String| -> Arc<str> { sql.into() };
        Self {
            append: append(&s, false).into(),
            append_notify: append(&s, true).into(),
            stored_ids: arc(format!(
                "SELECT stream_id, event_id, version, global_position FROM {s}.es_events
                 WHERE event_id = ANY($1::uuid[])"
            )),
            stream_version: arc(format!(
                "SELECT coalesce(max(version), 0) FROM {s}.es_events WHERE stream_id = $1"
            )),
            stream_state: arc(format!(
                "SELECT version, event_type = '{}' FROM {s}.es_events WHERE stream_id = $1
                 ORDER BY version DESC LIMIT 1",
                es_core::tombstone::STREAM_DELETED
            )),
            head_position: arc(format!(
                "SELECT coalesce(max(global_position), 0) FROM {s}.es_events"
            )),
            read_stream: arc(format!(
                "SELECT {EVENT_COLUMNS} FROM {s}.es_events
                 WHERE stream_id = $1 AND version >= $2 ORDER BY version"
            )),
            replay_stream: arc(format!(
                "SELECT {REPLAY_COLUMNS} FROM {s}.es_events
                 WHERE stream_id = $1 AND version >= $2 ORDER BY version"
            )),
            horizon: arc(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint".to_owned(),
            ),
            horizon_and_head: arc(format!(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
                        (SELECT coalesce(max(global_position), 0) FROM {s}.es_events)"
            )),
            newest_commit: arc(format!(
                "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
                        (SELECT e.tx_id::text::bigint AS newest FROM {s}.es_events e
                         ORDER BY e.tx_id DESC, e.global_position DESC LIMIT 1)"
            )),
            load_snapshot: arc(format!(
                "SELECT version, schema_version, state FROM {s}.es_snapshots WHERE stream_id = $1"
            )),
            save_snapshot: arc(format!(
                "INSERT INTO {s}.es_snapshots AS old (stream_id, version, schema_version, state)
                 VALUES ($1, $2, $3, $4::jsonb)
                 ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version,
                     schema_version = excluded.schema_version, state = excluded.state,
                     taken_at = now()
                 WHERE excluded.version > old.version"
            )),
            load_checkpoint: arc(format!(
                "SELECT commit_key, position FROM {s}.es_checkpoints WHERE name = $1"
            )),
            save_checkpoint: arc(format!(
                "INSERT INTO {s}.es_checkpoints AS old (name, commit_key, position) VALUES ($1, $2, $3)
                 ON CONFLICT (name) DO UPDATE SET commit_key = excluded.commit_key,
                     position = excluded.position, updated_at = now()"
            )),
            delete_checkpoint: arc(format!("DELETE FROM {s}.es_checkpoints WHERE name = $1")),
            schema: s,
        }
    }

    /// A page of the streams with an id prefix: `$1` prefix, `$2` its end (or NULL), `$3` after
    /// (or NULL), `$4` limit; byte order, from `es_events_by_stream_bytes`.
    pub(crate) fn list_streams(&self) -> String {
        let s = &self.schema;
        format!(
            "SELECT stream_id COLLATE \"C\" AS id, max(version) FROM {s}.es_events
             WHERE stream_id COLLATE \"C\" >= $1
               AND ($2::text IS NULL OR stream_id COLLATE \"C\" < $2::text COLLATE \"C\")
               AND ($3::text IS NULL OR stream_id COLLATE \"C\" > $3::text COLLATE \"C\")
             GROUP BY 1 ORDER BY 1 LIMIT $4"
        )
    }

    /// The check of an append condition: a stored event after `($1, $2)` that matches `query`.
    pub(crate) fn condition(&self, query: &es_core::dcb::Query) -> String {
        let s = &self.schema;
        let mut n = 2;
        let clause = query_clause(query, || {
            n += 1;
            n
        });
        // Materialized: planned for all its rows, so PostgreSQL takes the tag index; planned for
        // `LIMIT 1` alone it expects an early hit and scans the whole table when there is none
        // (the usual case: a condition that holds).
        format!(
            "WITH m AS MATERIALIZED (
                 SELECT stream_id, version, tx_id, global_position, event_type FROM {s}.es_events
                 WHERE (tx_id, global_position) > ($1::text::xid8, $2::bigint) AND {clause})
             SELECT * FROM m LIMIT 1"
        )
    }

    /// The page query of `read_all`: after `($1, $2)` in log order, below the horizon of running
    /// transactions, with the optional filters as further parameters.
    pub(crate) fn read_all(&self, query: &ReadAll) -> String {
        let s = &self.schema;
        let mut sql = format!(
            "SELECT {EVENT_COLUMNS} FROM {s}.es_events
             WHERE (tx_id, global_position) > ($1::text::xid8, $2::bigint)
               AND tx_id < (SELECT pg_snapshot_xmin(pg_current_snapshot()))"
        );
        let mut n = 2;
        let mut param = || {
            n += 1;
            n
        };
        if query.event_types.is_some() {
            sql.push_str(&format!(" AND event_type = ANY(${}::text[])", param()));
        }
        if query.recorded_from.is_some() {
            sql.push_str(&format!(" AND recorded_at >= ${}", param()));
        }
        if query.recorded_until.is_some() {
            sql.push_str(&format!(" AND recorded_at < ${}", param()));
        }
        if let Some(matching) = &query.query {
            sql.push_str(" AND ");
            sql.push_str(&query_clause(matching, &mut param));
        }
        if query.correlation_id.is_some() {
            sql.push_str(&format!(
                " AND metadata ? 'correlation_id' AND metadata->>'correlation_id' = ${}",
                param()
            ));
        }
        sql.push_str(" ORDER BY es_events.tx_id, es_events.global_position");
        if query.limit.is_some() {
            sql.push_str(&format!(" LIMIT ${}", param()));
        }
        sql
    }
}

/// A statement ready for `sqlx::query`.
pub(crate) fn sql(text: &Arc<str>) -> SqlStr {
    use sqlx::SqlSafeStr;
    // Safe: built in this module from constant text and a validated, quoted schema name.
    AssertSqlSafe(Arc::clone(text)).into_sql_str()
}
