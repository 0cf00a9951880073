//! [`Causation`]: what a command caused by an event carries.

use es_core::{EventMeta, Metadata};
use uuid::Uuid;

/// The namespace of command ids derived from causing events (a name-based, version 5 UUID).
const COMMAND_NAMESPACE: Uuid = Uuid::from_u128(0x6f1c_2b8e_4d0a_5c3e_9a7b_1e2f_3d4c_5b6a);

/// Derives what a command executed *because of* an event carries, for process managers (sagas)
/// and for projection handlers that execute commands:
///
/// - [`command_id`](Self::command_id): a name-based UUID of the causing event's id and a
///   reaction name, so [`Repository::execute_idempotent`](es_core::Repository::execute_idempotent)
///   never applies the command twice when the event is delivered again (after a crash, a
///   redelivery, a rebuild);
/// - [`metadata`](Self::metadata): the causing event's correlation id (its own id if it has
///   none) and `causation_id` = the causing event's id.
///
/// ```
/// use es_core::prelude::*;
/// use es_core::MemoryStore;
/// use es_nats::Causation;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
/// #[event(name = "stock.reserved")]
/// struct Reserved { qty: u32 }
/// #[derive(Debug, Clone, PartialEq, DomainEvent)]
/// enum StockEvent { Reserved(Reserved) }
/// #[derive(Debug, Default, Aggregate)]
/// #[aggregate(name = "stock", events = StockEvent)]
/// struct Stock { reserved: u32 }
/// #[event_handler]
/// impl Stock { fn reserved(&mut self, e: &Reserved) { self.reserved += e.qty } }
/// #[derive(Clone)]
/// struct Reserve(u32);
/// #[command_handler]
/// impl Stock {
///     fn reserve(&self, c: Reserve) -> Result<Reserved, String> { Ok(Reserved { qty: c.0 }) }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let stock = Repository::<Stock, _>::new(MemoryStore::new());
/// // The event that caused the command (an order placed, received from another service):
/// let placed = EventMeta {
///     event_id: es_core::EventId::new(), stream_id: StreamId::new("order-1").unwrap(),
///     version: Version(1), position: Position(1), commit: 0, event_type: "order.placed".into(),
///     schema_version: 1, recorded_at: chrono::Utc::now(),
///     metadata: Metadata::new().with_correlation_id(uuid::Uuid::now_v7()), tags: vec![],
/// };
/// let cause = Causation::of(&placed);
/// for _ in 0..2 { // delivered twice: applied once
///     stock.execute_idempotent_with("sku-1", cause.command_id("reserve"), Reserve(2), cause.metadata())
///         .await.unwrap();
/// }
/// assert_eq!(stock.load("sku-1").await.unwrap().reserved, 2);
/// let history = stock.history("sku-1").await.unwrap();
/// assert_eq!(history[0].meta.metadata.causation_id, Some(placed.event_id.0));
/// assert_eq!(history[0].meta.metadata.correlation_id, placed.metadata.correlation_id);
/// # });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Causation {
    event_id: Uuid,
    correlation_id: Uuid,
    actor: Option<String>,
}

impl Causation {
    /// What commands caused by the event `cause` carry.
    pub fn of(cause: &EventMeta) -> Self {
        Self {
            event_id: cause.event_id.0,
            correlation_id: cause.metadata.correlation_id.unwrap_or(cause.event_id.0),
            actor: cause.metadata.actor.clone(),
        }
    }

    /// The id of the command named `reaction` caused by the event: the same for every delivery
    /// of the event, different for each reaction name (two commands one event causes on the same
    /// aggregate need two names).
    pub fn command_id(&self, reaction: &str) -> Uuid {
        let mut name = Vec::with_capacity(16 + reaction.len());
        name.extend_from_slice(self.event_id.as_bytes());
        name.extend_from_slice(reaction.as_bytes());
        Uuid::new_v5(&COMMAND_NAMESPACE, &name)
    }

    /// Metadata for the events of the command: the causing event's correlation id and actor,
    /// and `causation_id` = the causing event's id.
    pub fn metadata(&self) -> Metadata {
        let metadata = Metadata::new()
            .with_correlation_id(self.correlation_id)
            .with_causation_id(self.event_id);
        match &self.actor {
            Some(actor) => metadata.with_actor(actor.clone()),
            None => metadata,
        }
    }

    /// The causing event's id.
    pub fn event_id(&self) -> Uuid {
        self.event_id
    }

    /// The correlation id the command's events carry.
    pub fn correlation_id(&self) -> Uuid {
        self.correlation_id
    }
}
