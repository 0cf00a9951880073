//! Items used by the code the macros generate. Not a public API: names and signatures may change
//! in any release.

use crate::error::DecodeErrorKind;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt::Display;

pub use async_trait::async_trait;
pub use serde;
pub use serde_json;

/// Applies one value of an event set to a state, dispatching on the variant.
///
/// `#[derive(DomainEvent)]` implements it for every state that has an `Apply` impl per event of
/// the set; `#[derive(Aggregate)]` calls it, so a missing handler is an unsatisfied `Apply<E>`.
pub trait ApplyEach<S: ?Sized> {
    /// Folds `self` into `state`.
    fn apply_each(&self, state: &mut S);
}

/// Marks that an event set has a variant for `E`.
#[diagnostic::on_unimplemented(
    message = "`{E}` is not an event of `{Self}`, but the aggregate has an event handler for it",
    label = "the `#[event_handler]` impl of this aggregate handles `{E}`, which `{Self}` has no variant for",
    note = "remove the handler of `{E}` from the `#[event_handler]` impl, or add a variant `{E}({E})` to `{Self}`"
)]
pub trait Contains<E> {}

/// The event types of the plain `fn(&mut self, &E)` methods of an `#[event_handler]` impl, as a
/// type list `(E1, (E2, ()))`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no `#[event_handler]` impl with its apply methods",
    label = "this aggregate needs an `#[event_handler]` impl block",
    note = "write `#[event_handler] impl {Self} {{ fn ...(&mut self, event: &Event) {{ ... }} }}` with one method per event of its set"
)]
pub trait AppliedEvents {
    /// The type list of handled events.
    type List;
}

/// Every type of the type list is a variant of the set `S`.
pub trait AllIn<S: ?Sized> {}

impl<S: ?Sized> AllIn<S> for () {}

impl<S: Contains<H> + ?Sized, H, T: AllIn<S>> AllIn<S> for (H, T) {}

/// Compiles only when every event with an apply method is in the set `S`.
#[inline(always)]
pub fn assert_all_in<L: AllIn<S>, S: ?Sized>() {}

/// Compiles only when `T` is an event struct.
#[inline(always)]
pub fn assert_event<T: crate::Event>() {}

/// Applies an ignored event: nothing changes.
#[inline(always)]
pub fn ignore<S: ?Sized, E>(_state: &mut S, _event: &E) {}

/// An upcast step written as a JSON-to-JSON function.
pub fn upcast_with<E: Display>(
    from: u32,
    step: impl FnOnce(Value) -> Result<Value, E>,
    payload: Value,
) -> Result<(u32, Value), DecodeErrorKind> {
    match step(payload) {
        Ok(value) => Ok((from + 1, value)),
        Err(error) => Err(DecodeErrorKind::Upcast {
            from,
            message: error.to_string(),
        }),
    }
}

/// An upcast step through a typed older shape: decode `Old`, convert into `Next` with `From`.
pub fn upcast_via<Old, Next>(from: u32, payload: Value) -> Result<(u32, Value), DecodeErrorKind>
where
    Old: DeserializeOwned,
    Next: From<Old> + Serialize,
{
    let old: Old = serde_json::from_value(payload).map_err(|e| DecodeErrorKind::Upcast {
        from,
        message: format!("the payload does not decode as the older shape: {e}"),
    })?;
    let next = Next::from(old);
    match serde_json::to_value(&next) {
        Ok(value) => Ok((from + 1, value)),
        Err(e) => Err(DecodeErrorKind::Upcast {
            from,
            message: e.to_string(),
        }),
    }
}

/// Serializes an aggregate's state for a snapshot.
pub fn to_snapshot<T: Serialize>(state: &T) -> Option<Result<Value, serde_json::Error>> {
    Some(serde_json::to_value(state))
}

/// Restores an aggregate's state from a snapshot.
pub fn from_snapshot<T: DeserializeOwned>(state: Value) -> Option<Result<T, serde_json::Error>> {
    Some(serde_json::from_value(state))
}

/// Whether two events share a stored name or alias (evaluated at compile time for event sets).
pub const fn names_overlap(
    a: &'static str,
    a_aliases: &[&'static str],
    b: &'static str,
    b_aliases: &[&'static str],
) -> bool {
    if str_eq(a, b) || contains(b_aliases, a) || contains(a_aliases, b) {
        return true;
    }
    let mut i = 0;
    while i < a_aliases.len() {
        if contains(b_aliases, a_aliases[i]) {
            return true;
        }
        i += 1;
    }
    false
}

const fn contains(names: &[&'static str], name: &str) -> bool {
    let mut i = 0;
    while i < names.len() {
        if str_eq(names[i], name) {
            return true;
        }
        i += 1;
    }
    false
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// What a `#[tag]` field's type must be: something with a `Display` form, which is the tag's value.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a tag: a `#[tag]` field's value is written with `Display`",
    label = "`{Self}` does not implement `Display`",
    note = "tag a field whose type implements `Display` (a `String`, a number, a `Uuid`, an id newtype with a `Display` impl), or remove `#[tag]`"
)]
pub trait TagValue {
    /// The tag's value.
    fn tag_value(&self) -> String;
}
impl<T: std::fmt::Display + ?Sized> TagValue for T {
    fn tag_value(&self) -> String {
        self.to_string()
    }
}

/// The value of a `#[tag]` field (checks [`TagValue`] at the field's type).
pub fn tag_value<T: TagValue + ?Sized>(value: &T) -> String {
    value.tag_value()
}

#[cfg(test)]
mod tests {
    use super::names_overlap;

    #[test]
    fn overlap_by_name_and_alias() {
        assert!(names_overlap("a", &[], "a", &[]));
        assert!(!names_overlap("a", &[], "b", &[]));
        assert!(names_overlap("a", &["old"], "b", &["old"]));
        assert!(names_overlap("a", &["b"], "b", &[]));
        assert!(names_overlap("a", &[], "b", &["a"]));
        assert!(!names_overlap("ab", &["x"], "a", &["y"]));
    }
}
