//! Handlers of the global log (read models, policies, subscribers): [`EventHandler`].

use crate::envelope::RecordedEvent;
use crate::error::{BoxError, DecodeError};
use async_trait::async_trait;

/// Why an event handler failed.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// The event could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The handler returned an error.
    #[error("event handler failed: {0}")]
    Failed(#[source] BoxError),
}

impl HandlerError {
    /// Wraps a handler's own error.
    pub fn failed(error: impl Into<BoxError>) -> Self {
        HandlerError::Failed(error.into())
    }
}

/// Handles events of the global log, with a context `Ctx` (for example the database transaction
/// in which a projection also commits its checkpoint).
///
/// `#[event_handler]` implements it for any type, over exactly the event types its methods take.
/// By hand, it names the stored types it wants and decodes the events itself:
///
/// ```
/// use es_core::prelude::*;
/// use es_core::{DomainEvent, HandlerError, MemoryStore, NewEvent, RecordedEvent};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
/// #[event(name = "order.placed")]
/// struct Placed { total: i64 }
///
/// /// Sends a mail per order; the context is the outbox the mails go to.
/// struct Mailer;
///
/// #[async_trait]
/// impl EventHandler<Vec<String>> for Mailer {
///     fn event_types(&self) -> Vec<&'static str> {
///         Placed::event_types() // the name and its aliases
///     }
///     async fn handle(&mut self, event: &RecordedEvent, outbox: &mut Vec<String>) -> Result<(), HandlerError> {
///         if !Placed::handles(&event.meta.event_type) {
///             return Ok(()); // not ours
///         }
///         let placed = event.decode::<Placed>()?; // upcast and decoded, or a typed error
///         outbox.push(format!("{}: total {}", placed.meta.stream_id, placed.event.total));
///         Ok(())
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let order = StreamId::new("order-7").unwrap();
/// let placed = NewEvent::from_event(&Placed { total: 42 }, Metadata::new()).unwrap();
/// let other = NewEvent::raw("order.noted", 1, es_core::serde_json::json!({}));
/// store.append(&order, ExpectedVersion::NoStream, vec![placed, other]).await.unwrap();
///
/// let mut mailer = Mailer;
/// let mut outbox = Vec::new();
/// let mut log = store.read_all(ReadAll::new());
/// while let Some(event) = log.try_next().await.unwrap() {
///     mailer.handle(&event, &mut outbox).await.unwrap();
/// }
/// assert_eq!(outbox, ["order-7: total 42"]);
/// # });
/// ```
#[async_trait]
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not handle events with the context `{Ctx}`",
    label = "`{Self}` has no `#[event_handler]` impl block for this context",
    note = "add `#[event_handler] impl {Self} {{ fn ...(&mut self, event: &SomeEvent) {{ ... }} }}` (a context parameter `&mut Ctx` makes it a handler for that context only), or implement `EventHandler` by hand"
)]
pub trait EventHandler<Ctx: Send + ?Sized = ()>: Send {
    /// The stored type names (with aliases) this handler takes; used to filter `read_all`.
    fn event_types(&self) -> Vec<&'static str>;

    /// Handles one event. Events of other types are ignored (`Ok`).
    async fn handle(&mut self, event: &RecordedEvent, ctx: &mut Ctx) -> Result<(), HandlerError>;
}

/// What an event handler method may return: `()` or `Result<(), E>`.
#[diagnostic::on_unimplemented(
    message = "an event handler cannot return `{Self}`",
    label = "an event handler returns `()` or `Result<(), E>`",
    note = "return nothing, or `Result<(), E>` where `E` is an error type (`Into<Box<dyn Error + Send + Sync>>`)"
)]
pub trait IntoHandlerResult {
    /// Converts to the handler result.
    fn into_handler_result(self) -> Result<(), HandlerError>;
}

impl IntoHandlerResult for () {
    fn into_handler_result(self) -> Result<(), HandlerError> {
        Ok(())
    }
}

impl<E: Into<BoxError>> IntoHandlerResult for Result<(), E> {
    fn into_handler_result(self) -> Result<(), HandlerError> {
        self.map_err(HandlerError::failed)
    }
}
