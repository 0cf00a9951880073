//! [`NatsError`]: what can go wrong between a store and JetStream.

use es_core::StoreError;

/// An error of the relay or of a JetStream log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NatsError {
    /// The NATS connection could not be made.
    #[error("cannot connect to NATS at `{url}`: {source}")]
    Connect {
        /// The server URL.
        url: String,
        /// The client's error.
        #[source]
        source: async_nats::ConnectError,
    },
    /// A JetStream API request (stream or consumer management, message get) failed.
    #[error("JetStream request failed: {0}")]
    JetStream(#[source] es_core::BoxError),
    /// Publishing an event failed or was not acknowledged; the relay re-synchronises with the
    /// stream and publishes again from its last stored message.
    #[error("publishing event {event_id} to `{subject}` failed: {source}")]
    Publish {
        /// The event's id.
        event_id: es_core::EventId,
        /// The subject it was published to.
        subject: String,
        /// The client's error.
        #[source]
        source: es_core::BoxError,
    },
    /// The JetStream stream holds a message whose `es-checkpoint` header does not parse: the relay
    /// cannot tell where to resume.
    #[error(
        "message {sequence} of stream `{stream}` has a malformed es-checkpoint header `{value}`"
    )]
    BadCheckpoint {
        /// The stream.
        stream: String,
        /// The message's stream sequence.
        sequence: u64,
        /// The header's value.
        value: String,
    },
    /// The event store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl NatsError {
    pub(crate) fn jetstream(error: impl Into<es_core::BoxError>) -> Self {
        NatsError::JetStream(error.into())
    }
}
