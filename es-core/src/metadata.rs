//! [`Metadata`]: who caused an event, why, and in which flow.

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Metadata stored with every event: correlation and causation ids, the actor, and free user keys.
///
/// ```
/// use es_core::Metadata;
/// let meta = Metadata::new().with_actor("alice").with("reason", "monthly fee");
/// assert_eq!(meta.actor.as_deref(), Some("alice"));
/// assert_eq!(meta.get("reason").and_then(|v| v.as_str()), Some("monthly fee"));
/// let json = serde_json::to_value(&meta).unwrap();
/// assert_eq!(json["actor"], "alice");
/// assert_eq!(serde_json::from_value::<Metadata>(json).unwrap(), meta);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Metadata {
    /// Ties together every event of one business flow (for example one HTTP request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<Uuid>,
    /// The message (command or event id) that directly caused this event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causation_id: Option<Uuid>,
    /// Who did it: a user, a service, a job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    /// Any other keys (reason, tenant, IP address, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Metadata {
    /// Empty metadata.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the actor.
    pub fn with_actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Sets the correlation id.
    pub fn with_correlation_id(mut self, id: Uuid) -> Self {
        self.correlation_id = Some(id);
        self
    }

    /// Sets the causation id.
    pub fn with_causation_id(mut self, id: Uuid) -> Self {
        self.causation_id = Some(id);
        self
    }

    /// Adds a user key. The reserved keys (`correlation_id`, `causation_id`, `actor`) belong to
    /// their fields: an append of metadata with one of them among the user keys is rejected with
    /// [`InputError::ReservedMetadataKey`](crate::InputError::ReservedMetadataKey) on every store,
    /// so a free key can neither overwrite the actor nor make the event unreadable.
    ///
    /// ```
    /// use es_core::{EventStore, ExpectedVersion, InputError, MemoryStore, Metadata, NewEvent, StreamId};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = MemoryStore::new();
    /// let stream = StreamId::new("todo-1").unwrap();
    /// let forged = Metadata::new().with_actor("alice").with("actor", "mallory");
    /// let event = NewEvent::raw("todo.added", 1, serde_json::json!({})).with_metadata(forged);
    /// let error = store.append(&stream, ExpectedVersion::Any, vec![event]).await.unwrap_err();
    /// assert!(matches!(error.input_error(), Some(InputError::ReservedMetadataKey { .. })));
    /// # });
    /// ```
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// A user key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.extra.get(key)
    }
}

/// Hand-written rather than derived: `#[serde(flatten)]` buffers every entry before matching
/// fields, which made metadata cost more to decode than a typical payload. Same format as the
/// derive: the reserved keys fill their fields (`null` means absent), every other key goes to
/// `extra`; a repeated reserved key is an error.
impl<'de> Deserialize<'de> for Metadata {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MetadataVisitor;

        impl<'de> Visitor<'de> for MetadataVisitor {
            type Value = Metadata;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a metadata object")
            }

            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Metadata, M::Error> {
                use serde::de::Error;
                let mut meta = Metadata::default();
                let (mut correlation, mut causation, mut actor) = (false, false, false);
                while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    let seen = match key.as_ref() {
                        "correlation_id" => &mut correlation,
                        "causation_id" => &mut causation,
                        "actor" => &mut actor,
                        _ => {
                            let value: Value = map.next_value()?;
                            meta.extra.insert(key.into_owned(), value);
                            continue;
                        }
                    };
                    if std::mem::replace(seen, true) {
                        return Err(M::Error::custom(format_args!("duplicate field `{key}`")));
                    }
                    match key.as_ref() {
                        "correlation_id" => meta.correlation_id = map.next_value()?,
                        "causation_id" => meta.causation_id = map.next_value()?,
                        _ => meta.actor = map.next_value()?,
                    }
                }
                Ok(meta)
            }
        }

        deserializer.deserialize_map(MetadataVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_reserved_and_user_keys() {
        let id = Uuid::now_v7();
        let meta: Metadata = serde_json::from_value(json!({
            "actor": "alice", "correlation_id": id, "causation_id": null,
            "reason": "fee", "n": 3
        }))
        .unwrap();
        assert_eq!(meta.actor.as_deref(), Some("alice"));
        assert_eq!(meta.correlation_id, Some(id));
        assert_eq!(meta.causation_id, None);
        assert_eq!(meta.get("reason"), Some(&json!("fee")));
        assert_eq!(meta.get("n"), Some(&json!(3)));
        assert_eq!(meta.extra.len(), 2);
        let text = serde_json::to_string(&meta).unwrap();
        assert_eq!(serde_json::from_str::<Metadata>(&text).unwrap(), meta);
        assert_eq!(
            serde_json::from_str::<Metadata>("{}").unwrap(),
            Metadata::new()
        );
    }

    #[test]
    fn rejects_malformed_metadata() {
        assert!(serde_json::from_str::<Metadata>(r#"{"correlation_id": "not a uuid"}"#).is_err());
        assert!(serde_json::from_str::<Metadata>(r#"{"actor": 5}"#).is_err());
        assert!(serde_json::from_str::<Metadata>(r#"{"actor": "a", "actor": "b"}"#).is_err());
        assert!(serde_json::from_str::<Metadata>("[]").is_err());
    }
}
