//! [`Metadata`]: who caused an event, why, and in which flow.

use serde::{Deserialize, Serialize};
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
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
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

    /// Adds a user key. The reserved keys (`correlation_id`, `causation_id`, `actor`) belong to their fields.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<Value>) -> Self {
        self.extra.insert(key.into(), value.into());
        self
    }

    /// A user key.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.extra.get(key)
    }
}
