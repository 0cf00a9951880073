//! The advisory locks that serialise a conditional append with every append its condition could
//! see, without a table lock and without serialising unrelated writers.
//!
//! Every append takes *shared* transaction-level advisory locks on the keys of its new events:
//! one key for the whole log, one per event type, one per tag. A conditional append takes, for
//! each item of its condition's query, *exclusive* locks: on the item's tags if it has any (an
//! event it matches carries all of them), else on the item's types (an event it matches has one of
//! them), else on the whole-log key (it matches every event). So an event that a condition would
//! see is either committed before the condition is checked, or appended after the conditional
//! append commits; appends of unrelated events (other tags) and of the same tags without
//! conditions (shared locks) never wait for each other.
//!
//! Keys are taken in ascending order by every writer, so two writers never wait for each other in a
//! cycle. A key is 64 bits of FNV-1a over the schema, a kind byte and the tag or type: stable across
//! processes and versions; a collision only makes unrelated writers wait.

use es_core::NewEvent;
use es_core::dcb::Query;
use std::collections::BTreeMap;

fn key(schema: &str, kind: u8, text: &str) -> i64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in schema.bytes().chain([0, kind, 0]).chain(text.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    i64::from_ne_bytes(hash.to_ne_bytes())
}

fn log_key(schema: &str) -> i64 {
    key(schema, b'*', "")
}

fn type_key(schema: &str, event_type: &str) -> i64 {
    key(schema, b'y', event_type)
}

fn tag_key(schema: &str, tag: &str) -> i64 {
    key(schema, b't', tag)
}

/// The shared keys of an append of `events`: the log, each type, each tag; ascending, distinct.
pub(crate) fn append_keys<'e>(
    schema: &str,
    events: impl Iterator<Item = &'e NewEvent>,
) -> Vec<i64> {
    let mut keys = vec![log_key(schema)];
    for event in events {
        keys.push(type_key(schema, &event.event_type));
        keys.extend(event.tags.iter().map(|t| tag_key(schema, t)));
    }
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The keys of a conditional append, ascending, with whether each is taken exclusively: the
/// shared keys of its events, and the exclusive keys of its condition's query.
pub(crate) fn condition_keys<'e>(
    schema: &str,
    events: impl Iterator<Item = &'e NewEvent>,
    query: &Query,
) -> (Vec<i64>, Vec<bool>) {
    let mut keys: BTreeMap<i64, bool> = append_keys(schema, events)
        .into_iter()
        .map(|k| (k, false))
        .collect();
    for item in &query.items {
        let exclusive: Vec<i64> = if !item.tags.is_empty() {
            item.tags.iter().map(|t| tag_key(schema, t)).collect()
        } else if !item.types.is_empty() {
            item.types.iter().map(|t| type_key(schema, t)).collect()
        } else {
            vec![log_key(schema)]
        };
        for k in exclusive {
            keys.insert(k, true);
        }
    }
    keys.into_iter().unzip()
}

#[cfg(test)]
mod tests {
    use super::*;
    use es_core::dcb::QueryItem;

    #[test]
    fn keys_are_stable_sorted_and_exclusive_where_the_query_reads() {
        assert_eq!(tag_key("s", "course:c1"), tag_key("s", "course:c1"));
        assert_ne!(tag_key("s", "course:c1"), tag_key("t", "course:c1"));
        assert_ne!(tag_key("s", "x"), type_key("s", "x"));
        let event = NewEvent::raw("enrolled", 1, serde_json::json!({})).with_tags(["course:c1"]);
        let shared = append_keys("s", [&event].into_iter());
        assert_eq!(shared.len(), 3);
        assert!(shared.windows(2).all(|w| w[0] < w[1]));
        let query = Query::item(QueryItem::new().types(["enrolled"]).tags(["course:c1"]))
            .or(QueryItem::new().types(["closed"]));
        let (keys, exclusive) = condition_keys("s", [&event].into_iter(), &query);
        assert!(keys.windows(2).all(|w| w[0] < w[1]));
        let mode = |k| exclusive[keys.iter().position(|x| *x == k).unwrap()];
        assert!(mode(tag_key("s", "course:c1")));
        assert!(mode(type_key("s", "closed")));
        assert!(!mode(type_key("s", "enrolled")));
        assert!(!mode(log_key("s")));
    }
}
