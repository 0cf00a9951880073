//! DCB queries ([`es_core::dcb::Query`]) as SQL over `es_events` (alias `e`) and its tag index
//! `es_event_tags`.

use es_core::StoreError;
use es_core::dcb::Query;
use std::fmt::Write;

/// A boolean SQL expression and the JSON texts it binds, in order, from parameter `?first`.
pub(crate) struct Clause {
    pub sql: String,
    pub binds: Vec<String>,
}

/// The expression an event row `e` matches `query` by. Items are OR'd; an item's types are found
/// by `event_type`, its tags through `es_event_tags` (the primary key `(tag, position)`), every
/// tag of the item present.
pub(crate) fn query_clause(query: &Query, first: usize) -> Result<Clause, StoreError> {
    let mut sql = String::new();
    let mut binds = Vec::new();
    let mut param = first;
    let mut next = |binds: &mut Vec<String>, value: &[String]| -> Result<usize, StoreError> {
        binds.push(serde_json::to_string(value).map_err(StoreError::database)?);
        param += 1;
        Ok(param - 1)
    };
    for item in &query.items {
        let mut parts: Vec<String> = Vec::new();
        if !item.types.is_empty() {
            let n = next(&mut binds, &item.types)?;
            parts.push(format!(
                "e.event_type IN (SELECT value FROM json_each(?{n}))"
            ));
        }
        if !item.tags.is_empty() {
            let mut tags = item.tags.clone();
            tags.sort();
            tags.dedup();
            let count = tags.len();
            let n = next(&mut binds, &tags)?;
            parts.push(format!(
                "e.position IN (SELECT t.position FROM es_event_tags t \
                 WHERE t.tag IN (SELECT value FROM json_each(?{n})) \
                 GROUP BY t.position HAVING count(*) = {count})"
            ));
        }
        let item_sql = if parts.is_empty() {
            "1".to_owned()
        } else {
            parts.join(" AND ")
        };
        if !sql.is_empty() {
            sql.push_str(" OR ");
        }
        let _ = write!(sql, "({item_sql})");
    }
    if sql.is_empty() {
        sql.push('0');
    }
    Ok(Clause {
        sql: format!("({sql})"),
        binds,
    })
}
