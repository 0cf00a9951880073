//! Events and event sets: [`DomainEvent`], [`Event`], [`IntoEvents`].

use crate::error::DecodeErrorKind;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Something that can be stored as events with stable names: one event struct, or the enum of all
/// events of an aggregate (its *event set*).
///
/// The stored form is `(event_type, schema_version, payload)`. It is the same whichever Rust type
/// encodes it, so an event struct stored alone decodes as part of any set that contains it.
/// Derive it with `#[derive(DomainEvent)]`; single structs get it through [`Event`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is neither an event nor an event set",
    label = "`{Self}` has no `#[derive(DomainEvent)]`",
    note = "derive it: `#[derive(Serialize, Deserialize, DomainEvent)]` on an event struct, `#[derive(DomainEvent)]` on an enum of event structs (`Opened(Opened)`, ...), or declare the set with `#[event_set]`"
)]
pub trait DomainEvent: Sized + Send + Sync + 'static {
    /// Every stored type name this type decodes: current names and aliases.
    fn event_types() -> Vec<&'static str>;

    /// Whether a stored event with this type name belongs to this type.
    fn handles(event_type: &str) -> bool;

    /// The stable name of this value's event type.
    fn event_type(&self) -> &'static str;

    /// The schema version this value is written with.
    fn schema_version(&self) -> u32;

    /// Serializes the payload.
    fn to_payload(&self) -> Result<Value, serde_json::Error>;

    /// Decodes a stored event, upcasting older schema versions.
    fn from_payload(
        event_type: &str,
        schema_version: u32,
        payload: Value,
    ) -> Result<Self, DecodeErrorKind>;

    /// The tags of this value (see [`crate::dcb`]): strings such as `course:c1` that a
    /// [`Query`](crate::dcb::Query) selects events by. Stored with the event. The default has none;
    /// `#[tag]` fields of `#[derive(DomainEvent)]` add them.
    fn tags(&self) -> Vec<String> {
        Vec::new()
    }

    /// Decodes a stored event from its JSON text. The default parses the text into a
    /// [`Value`] and calls [`from_payload`](Self::from_payload); event types (and derived event
    /// sets) deserialize the text directly when it needs no upcast, parsing it once.
    fn from_json(
        event_type: &str,
        schema_version: u32,
        json: &str,
    ) -> Result<Self, DecodeErrorKind> {
        let payload: Value = serde_json::from_str(json)?;
        Self::from_payload(event_type, schema_version, payload)
    }
}

/// One event type: a serde struct with a stable name and a schema version.
///
/// Implementing this gives [`DomainEvent`]. `#[derive(DomainEvent)]` on a struct implements it.
///
/// ```
/// use es_core::{DomainEvent, Event};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Debug, PartialEq, Serialize, Deserialize)]
/// struct Deposited { amount: i64 }
///
/// impl Event for Deposited {
///     const NAME: &'static str = "account.deposited";
///     const VERSION: u32 = 2;
///     fn upcast(from: u32, payload: serde_json::Value) -> Result<(u32, serde_json::Value), es_core::DecodeErrorKind> {
///         // version 1 stored the amount as `cents`
///         match from {
///             1 => Ok((2, serde_json::json!({ "amount": payload["cents"] }))),
///             _ => Err(es_core::DecodeErrorKind::MissingUpcast { from }),
///         }
///     }
/// }
///
/// let old = Deposited::from_payload("account.deposited", 1, serde_json::json!({ "cents": 5 })).unwrap();
/// assert_eq!(old, Deposited { amount: 5 });
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event",
    label = "`{Self}` has no `#[derive(DomainEvent)]`",
    note = "derive it: `#[derive(Serialize, Deserialize, DomainEvent)] struct {Self} {{ ... }}`"
)]
pub trait Event: Serialize + DeserializeOwned + Send + Sync + 'static {
    /// The stable, stored name.
    const NAME: &'static str;
    /// The current schema version (1 for a type that never changed shape).
    const VERSION: u32 = 1;
    /// Older names that still decode as this type.
    const ALIASES: &'static [&'static str] = &[];

    /// One upcasting step: turns a payload of schema version `from` into a newer one and returns
    /// its version. Called repeatedly until the payload reaches [`Event::VERSION`].
    fn upcast(from: u32, payload: Value) -> Result<(u32, Value), DecodeErrorKind> {
        let _ = payload;
        Err(DecodeErrorKind::MissingUpcast { from })
    }

    /// The tags of this value (see [`DomainEvent::tags`]). `#[derive(DomainEvent)]` writes it from
    /// the fields marked `#[tag]`; the default has none.
    fn tags(&self) -> Vec<String> {
        Vec::new()
    }

    /// The payload keys of the fields marked `#[personal(subject = ...)]` (see
    /// [`crate::personal`]): stored encrypted with their subject's key.
    const PERSONAL: &'static [&'static str] = &[];

    /// The subject of each [`PERSONAL`](Self::PERSONAL) field, in the same order.
    fn personal_subjects(&self) -> Vec<String> {
        Vec::new()
    }

    /// What a personal field reads as once its subject is forgotten (its type's `Default`).
    fn erased_value(field: &str) -> Value {
        let _ = field;
        Value::Null
    }
}

/// Wraps the personal fields of `payload` for their subjects (see [`crate::personal`]).
fn mark_personal<T: Event>(event: &T, payload: &mut Value) {
    if T::PERSONAL.is_empty() {
        return;
    }
    for (field, subject) in T::PERSONAL.iter().zip(event.personal_subjects()) {
        if let Some(slot) = payload.get_mut(*field) {
            *slot = crate::personal::mark(&subject, slot.take());
        }
    }
}

/// Unwraps the personal values of a stored payload; erased ones read as `None` here and get their
/// field's erased value after upcasting ([`fill_erased`]). Whether there were any.
fn unmark_personal(payload: &mut Value) -> bool {
    let had = crate::personal::may_contain_personal_value(payload);
    if had {
        crate::personal::unmark(payload);
    }
    had
}

fn fill_erased<T: Event>(payload: &mut Value) {
    for field in T::PERSONAL {
        if let Some(slot) = payload.get_mut(*field)
            && slot.is_null()
        {
            *slot = T::erased_value(field);
        }
    }
}

impl<T: Event> DomainEvent for T {
    fn event_types() -> Vec<&'static str> {
        let mut names = Vec::with_capacity(1 + T::ALIASES.len());
        names.push(T::NAME);
        names.extend_from_slice(T::ALIASES);
        names
    }

    fn handles(event_type: &str) -> bool {
        event_type == T::NAME || T::ALIASES.contains(&event_type)
    }

    fn event_type(&self) -> &'static str {
        T::NAME
    }

    fn schema_version(&self) -> u32 {
        T::VERSION
    }

    fn to_payload(&self) -> Result<Value, serde_json::Error> {
        let mut payload = serde_json::to_value(self)?;
        mark_personal(self, &mut payload);
        Ok(payload)
    }

    fn tags(&self) -> Vec<String> {
        Event::tags(self)
    }

    fn from_payload(
        event_type: &str,
        schema_version: u32,
        payload: Value,
    ) -> Result<Self, DecodeErrorKind> {
        if !T::handles(event_type) {
            return Err(DecodeErrorKind::UnknownType {
                target: std::any::type_name::<T>(),
            });
        }
        if schema_version > T::VERSION {
            return Err(DecodeErrorKind::TooNew {
                found: schema_version,
                supported: T::VERSION,
            });
        }
        let mut version = schema_version;
        let mut payload = payload;
        let personal = unmark_personal(&mut payload);
        while version < T::VERSION {
            let (next, upcast) = T::upcast(version, payload)?;
            if next <= version {
                return Err(DecodeErrorKind::Upcast {
                    from: version,
                    message: format!("the step returned version {next}, which is not newer"),
                });
            }
            version = next;
            payload = upcast;
        }
        if personal {
            fill_erased::<T>(&mut payload);
        }
        Ok(serde_json::from_value(payload)?)
    }

    fn from_json(
        event_type: &str,
        schema_version: u32,
        json: &str,
    ) -> Result<Self, DecodeErrorKind> {
        if schema_version == T::VERSION
            && T::handles(event_type)
            && !crate::personal::may_contain_personal(json)
        {
            return Ok(serde_json::from_str(json)?);
        }
        let payload: Value = serde_json::from_str(json)?;
        Self::from_payload(event_type, schema_version, payload)
    }
}

/// What a command handler may return: one event, an event-set value, a `Vec` or `Option` of
/// either, or `()` for no events.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event of `{E}`, so a command handler cannot return it",
    label = "a command handler must return an event, an event-set value, a `Vec` or `Option` of them, or `()`",
    note = "derive `DomainEvent` for it and add it to the event set `{E}`"
)]
pub trait IntoEvents<E> {
    /// The events, in order.
    fn into_events(self) -> Vec<E>;
}

/// An event is the whole event list of an aggregate whose event type is that one event.
impl<T: Event> IntoEvents<T> for T {
    #[inline]
    fn into_events(self) -> Vec<T> {
        vec![self]
    }
}

impl<E> IntoEvents<E> for () {
    fn into_events(self) -> Vec<E> {
        Vec::new()
    }
}

// Bounded by `IntoEvents` (not `Into`), so a `Vec` of a non-event is reported with this trait's
// message rather than as a missing `From` impl.
impl<E, T: IntoEvents<E>> IntoEvents<E> for Vec<T> {
    fn into_events(self) -> Vec<E> {
        let mut events = Vec::with_capacity(self.len());
        for item in self {
            events.extend(item.into_events());
        }
        events
    }
}

impl<E, T: IntoEvents<E>> IntoEvents<E> for Option<T> {
    fn into_events(self) -> Vec<E> {
        match self {
            Some(item) => item.into_events(),
            None => Vec::new(),
        }
    }
}
