//! Where an event goes: [`SubjectMapping`] from a stream id to a NATS subject.

use es_core::EventMeta;
use std::sync::Arc;

/// Maps an event to the subject it is published on.
///
/// The default, [`SubjectMapping::by_aggregate`], publishes the events of stream `order-42` (stream
/// ids of aggregates are `<aggregate>-<id>`) on `<prefix>.order.order-42`, so that a consumer can
/// filter by aggregate (`<prefix>.order.>`) or by stream. Each token is made a valid NATS token
/// with [`subject_token`]; consumers read the stream id from the `es-stream-id` header, never from
/// the subject, so the mapping may lose information.
///
/// ```
/// use es_nats::SubjectMapping;
/// # let meta = es_core::EventMeta {
/// #     event_id: es_core::EventId::new(), stream_id: es_core::StreamId::new("order-4.2").unwrap(),
/// #     version: es_core::Version(1), position: es_core::Position(1), commit: 0,
/// #     event_type: "order.placed".into(), schema_version: 1, recorded_at: chrono::Utc::now(),
/// #     metadata: Default::default(), tags: vec![] };
/// assert_eq!(SubjectMapping::by_aggregate("shop").subject(&meta), "shop.order.order-4_2");
/// let flat = SubjectMapping::custom(|meta| format!("all.{}", meta.event_type.replace('.', "_")));
/// assert_eq!(flat.subject(&meta), "all.order_placed");
/// ```
#[derive(Clone)]
pub struct SubjectMapping {
    map: Arc<dyn Fn(&EventMeta) -> String + Send + Sync>,
}

impl std::fmt::Debug for SubjectMapping {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectMapping")
    }
}

impl SubjectMapping {
    /// `<prefix>.<aggregate>.<stream id>`, where the aggregate is the part of the stream id before
    /// its first `-` (the whole id if it has none).
    pub fn by_aggregate(prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        Self::custom(move |meta| {
            let stream = meta.stream_id.as_str();
            let aggregate = stream.split_once('-').map_or(stream, |(a, _)| a);
            format!(
                "{prefix}.{}.{}",
                subject_token(aggregate),
                subject_token(stream)
            )
        })
    }

    /// Any mapping. It must return a subject that the JetStream stream captures (see
    /// [`RelayConfig::subjects`](crate::RelayConfig::subjects)).
    pub fn custom(map: impl Fn(&EventMeta) -> String + Send + Sync + 'static) -> Self {
        Self { map: Arc::new(map) }
    }

    /// The subject of an event.
    pub fn subject(&self, meta: &EventMeta) -> String {
        (self.map)(meta)
    }
}

/// `text` as one valid NATS subject token: `.`, `*`, `>`, whitespace and control characters
/// become `_`; an empty text becomes `_`.
///
/// ```
/// assert_eq!(es_nats::subject_token("a.b c*>"), "a_b_c__");
/// assert_eq!(es_nats::subject_token(""), "_");
/// ```
pub fn subject_token(text: &str) -> String {
    if text.is_empty() {
        return "_".to_owned();
    }
    text.chars()
        .map(|c| match c {
            '.' | '*' | '>' => '_',
            c if c.is_whitespace() || c.is_control() => '_',
            c => c,
        })
        .collect()
}
