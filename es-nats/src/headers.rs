//! The message form of an event: the stored JSON payload and `es-*` headers.
//!
//! Encoding and decoding live together so that what the relay writes is what a consumer reads.
//! A consumer turns headers and payload back into a [`RecordedEvent`] through es-core's
//! [`RawEvent::decode`], the path every store's `read_all` takes, so events decode (and upcast)
//! the same way on both sides of the broker.

use async_nats::HeaderMap;
use chrono::{DateTime, SecondsFormat, Utc};
use es_core::adapter::RawEvent;
use es_core::{Checkpoint, CorruptEvent, EventId, Position, RecordedEvent, StoreError};

/// JetStream's de-duplication header; the relay sets it to the event id.
pub const MSG_ID: &str = "Nats-Msg-Id";
/// The event id (a UUID).
pub const EVENT_ID: &str = "es-event-id";
/// The stored event type name.
pub const EVENT_TYPE: &str = "es-event-type";
/// The schema version of the payload.
pub const SCHEMA_VERSION: &str = "es-schema-version";
/// The stream id in the source store.
pub const STREAM_ID: &str = "es-stream-id";
/// The event's version in its stream.
pub const VERSION: &str = "es-version";
/// The event's checkpoint in the source store's log, `commit:position`: where the relay resumes.
pub const CHECKPOINT: &str = "es-checkpoint";
/// When the source store recorded the event (RFC 3339).
pub const RECORDED_AT: &str = "es-recorded-at";
/// The metadata's correlation id, if any.
pub const CORRELATION_ID: &str = "es-correlation-id";
/// The metadata's causation id, if any.
pub const CAUSATION_ID: &str = "es-causation-id";
/// The metadata's actor, if any.
pub const ACTOR: &str = "es-actor";
/// The whole metadata as JSON (user keys included).
pub const METADATA: &str = "es-metadata";
/// The event's tags (dynamic consistency boundaries), as a JSON array; absent when it has none.
pub const TAGS: &str = "es-tags";

/// The headers of the message of `event` (payload: `event.payload` as JSON).
pub(crate) fn encode(event: &RecordedEvent) -> Result<HeaderMap, serde_json::Error> {
    let meta = &event.meta;
    let mut headers = HeaderMap::new();
    let id = meta.event_id.to_string();
    headers.insert(MSG_ID, id.as_str());
    headers.insert(EVENT_ID, id.as_str());
    headers.insert(EVENT_TYPE, meta.event_type.as_str());
    headers.insert(SCHEMA_VERSION, meta.schema_version.to_string().as_str());
    headers.insert(STREAM_ID, meta.stream_id.as_str());
    headers.insert(VERSION, meta.version.0.to_string().as_str());
    headers.insert(CHECKPOINT, meta.checkpoint().to_string().as_str());
    let recorded = meta
        .recorded_at
        .to_rfc3339_opts(SecondsFormat::AutoSi, true);
    headers.insert(RECORDED_AT, recorded.as_str());
    if let Some(id) = meta.metadata.correlation_id {
        headers.insert(CORRELATION_ID, id.to_string().as_str());
    }
    if let Some(id) = meta.metadata.causation_id {
        headers.insert(CAUSATION_ID, id.to_string().as_str());
    }
    if let Some(actor) = &meta.metadata.actor {
        headers.insert(ACTOR, actor.as_str());
    }
    // Compact JSON has no line breaks, which headers cannot carry.
    headers.insert(METADATA, serde_json::to_string(&meta.metadata)?.as_str());
    if !meta.tags.is_empty() {
        headers.insert(TAGS, serde_json::to_string(&meta.tags)?.as_str());
    }
    Ok(headers)
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).map(|v| v.as_str())
}

/// The source checkpoint carried by a message, `None` if it has no `es-checkpoint` header,
/// `Err(value)` if the header does not parse.
pub(crate) fn checkpoint(headers: &HeaderMap) -> Option<Result<Checkpoint, String>> {
    let value = header(headers, CHECKPOINT)?;
    Some(parse_checkpoint(value).ok_or_else(|| value.to_owned()))
}

fn parse_checkpoint(value: &str) -> Option<Checkpoint> {
    let (commit, position) = value.split_once(':')?;
    Some(Checkpoint::new(
        commit.parse().ok()?,
        Position(position.parse().ok()?),
    ))
}

/// The event record of a message at stream `sequence`: its position in the consumer's log is the
/// JetStream sequence (commit key 0). A message without the `es-*` headers, or whose values do
/// not decode, is [`StoreError::Corrupt`], naming the sequence, so a parking projection parks it.
pub(crate) fn decode(
    sequence: u64,
    headers: Option<&HeaderMap>,
    payload: &[u8],
) -> Result<RecordedEvent, StoreError> {
    let empty = HeaderMap::new();
    let headers = headers.unwrap_or(&empty);
    let get = |name: &str| header(headers, name);
    let stream_id = get(STREAM_ID).unwrap_or("");
    let event_type = get(EVENT_TYPE).unwrap_or("");
    let version = get(VERSION).and_then(|v| v.parse::<i64>().ok());
    let event_id = get(EVENT_ID).map(|id| id.parse::<uuid::Uuid>().map(EventId));
    let corrupt = |message: String| -> StoreError {
        StoreError::Corrupt(Box::new(CorruptEvent::new(
            stream_id,
            version.unwrap_or(0),
            sequence,
            0,
            event_type,
            event_id.as_ref().and_then(|id| id.as_ref().ok()).copied(),
            message,
        )))
    };
    let missing = [STREAM_ID, EVENT_TYPE, VERSION, EVENT_ID, SCHEMA_VERSION]
        .into_iter()
        .filter(|name| get(name).is_none())
        .collect::<Vec<_>>();
    if !missing.is_empty() {
        return Err(corrupt(format!(
            "message {sequence} lacks the header(s) {} (not published by an es relay?)",
            missing.join(", ")
        )));
    }
    let Some(version) = version else {
        return Err(corrupt(format!("header {VERSION} is not a number")));
    };
    let Some(schema_version) = get(SCHEMA_VERSION).and_then(|v| v.parse::<i64>().ok()) else {
        return Err(corrupt(format!("header {SCHEMA_VERSION} is not a number")));
    };
    let payload = std::str::from_utf8(payload)
        .map_err(|e| corrupt(format!("payload is not UTF-8: {e}")))?
        .to_owned();
    let position = i64::try_from(sequence)
        .map_err(|_| corrupt(format!("sequence {sequence} is out of range")))?;
    RawEvent {
        position,
        commit: 0,
        event_id: event_id
            .unwrap_or_else(|| Ok(EventId(uuid::Uuid::nil())))
            .map_err(|e| format!("header {EVENT_ID} is not a UUID: {e}")),
        stream_id: stream_id.to_owned(),
        version,
        event_type: event_type.to_owned(),
        schema_version,
        payload,
        metadata: get(METADATA).unwrap_or("{}").to_owned(),
        recorded_at: get(RECORDED_AT)
            .ok_or_else(|| format!("header {RECORDED_AT} is missing"))
            .and_then(|t| {
                DateTime::parse_from_rfc3339(t)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| format!("header {RECORDED_AT} `{t}` is not RFC 3339: {e}"))
            }),
        tags: es_core::adapter::tags_from_json(get(TAGS).unwrap_or("[]")),
    }
    .decode()
}

#[cfg(test)]
mod tests {
    use super::*;
    use es_core::{Metadata, StreamId, Version};

    fn event() -> RecordedEvent {
        RecordedEvent {
            meta: es_core::EventMeta {
                event_id: EventId::new(),
                stream_id: StreamId::new("order-1").unwrap(),
                version: Version(3),
                position: Position(17),
                commit: 9,
                event_type: "order.placed".into(),
                schema_version: 2,
                recorded_at: Utc::now(),
                metadata: Metadata::new()
                    .with_actor("ada")
                    .with_correlation_id(uuid::Uuid::now_v7())
                    .with("note", "line\nbreak"),
                tags: vec!["order:1".into(), "customer:ada".into()],
            },
            payload: serde_json::json!({ "total": 5, "text": "a\r\nb" }),
        }
    }

    #[test]
    fn round_trips_every_field_but_the_position() {
        let original = event();
        let headers = encode(&original).unwrap();
        let payload = serde_json::to_vec(&original.payload).unwrap();
        let decoded = decode(41, Some(&headers), &payload).unwrap();
        assert_eq!(decoded.meta.position, Position(41));
        assert_eq!(decoded.meta.commit, 0);
        let mut expected = original.clone();
        expected.meta.position = Position(41);
        expected.meta.commit = 0;
        assert_eq!(decoded, expected);
        assert_eq!(
            checkpoint(&headers).unwrap().unwrap(),
            Checkpoint::new(9, Position(17))
        );
    }

    #[test]
    fn foreign_messages_are_corrupt_and_name_the_sequence() {
        let Err(StoreError::Corrupt(corrupt)) = decode(5, None, b"{}") else {
            panic!("expected a corrupt event")
        };
        assert_eq!(corrupt.position, 5);
        assert!(
            corrupt.message.contains("es-stream-id"),
            "{}",
            corrupt.message
        );
        let mut headers = encode(&event()).unwrap();
        headers.insert(VERSION, "x");
        assert!(matches!(
            decode(6, Some(&headers), b"{}"),
            Err(StoreError::Corrupt(_))
        ));
        assert_eq!(
            parse_checkpoint("1:2"),
            Some(Checkpoint::new(1, Position(2)))
        );
        assert_eq!(parse_checkpoint("12"), None);
    }
}
