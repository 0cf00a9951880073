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
    note = "remove the handler of `{E}` from the `#[event_handler]` impl, or add a variant `{E}({E})` to `{Self}`; if `{Self}` has that variant, it lacks `#[derive(DomainEvent)]`"
)]
pub trait Contains<E> {}

/// An event is the whole set of an aggregate whose event type is that one event.
impl<T: crate::Event> Contains<T> for T {}

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
    /// [`ApplyBlock`], or [`ReadModelBlock`] for a block that is not an apply block (the
    /// aggregate then fails on its `List` alone, not also once per event of its set).
    type Mode;
}

/// The `AppliedEvents::Mode` of an apply block: `Aggregate::apply` dispatches on the set.
pub struct ApplyBlock;

/// How `Aggregate::apply` reaches the apply methods, by the `AppliedEvents::Mode` of the
/// aggregate's `#[event_handler]` block.
pub trait Dispatch<S: ?Sized, E: ?Sized> {
    /// Folds `event` into `state`.
    fn dispatch(state: &mut S, event: &E);
}

impl<S: ?Sized, E: ApplyEach<S> + ?Sized> Dispatch<S, E> for ApplyBlock {
    #[inline(always)]
    fn dispatch(state: &mut S, event: &E) {
        event.apply_each(state)
    }
}

/// Never runs: an aggregate whose block is a read model's does not compile (its `List` is not in
/// its set).
impl<S: ?Sized, E: ?Sized> Dispatch<S, E> for ReadModelBlock {
    #[inline(always)]
    fn dispatch(_: &mut S, _: &E) {}
}

/// The `AppliedEvents::List` of a read model's `#[event_handler]` block (a block whose methods
/// are not all plain apply methods): it is no aggregate's apply block.
pub struct ReadModelBlock;

/// The apply methods of a type list `(E1, (E2, ()))` as an event handler: the `EventHandler`
/// impl of an aggregate's `#[event_handler]` block walks the list instead of repeating one
/// branch per event, so its size does not grow with the number of events.
pub trait ApplyList<S: ?Sized> {
    /// Adds the stored names of the listed events to `out`, each once.
    fn names(out: &mut Vec<&'static str>);

    /// Decodes `event` as the first listed event that handles it and applies it; `None` when
    /// no listed event does.
    fn apply(
        state: &mut S,
        event: &crate::RecordedEvent,
    ) -> Option<Result<(), crate::HandlerError>>;
}

impl<S: ?Sized> ApplyList<S> for () {
    #[inline]
    fn names(_: &mut Vec<&'static str>) {}

    #[inline]
    fn apply(_: &mut S, _: &crate::RecordedEvent) -> Option<Result<(), crate::HandlerError>> {
        None
    }
}

impl<S, H, T> ApplyList<S> for (H, T)
where
    S: crate::Apply<H> + ?Sized,
    H: crate::DomainEvent,
    T: ApplyList<S>,
{
    fn names(out: &mut Vec<&'static str>) {
        for name in H::event_types() {
            if !out.contains(&name) {
                out.push(name);
            }
        }
        T::names(out);
    }

    fn apply(
        state: &mut S,
        event: &crate::RecordedEvent,
    ) -> Option<Result<(), crate::HandlerError>> {
        if !H::handles(&event.meta.event_type) {
            return T::apply(state, event);
        }
        Some(match event.decode::<H>() {
            Ok(decoded) => {
                state.apply(&decoded.event);
                Ok(())
            }
            Err(error) => Err(error.into()),
        })
    }
}

/// `EventHandler::event_types` of an aggregate's apply block.
pub fn apply_list_names<S: ?Sized, L: ApplyList<S>>() -> Vec<&'static str> {
    let mut names = Vec::new();
    L::names(&mut names);
    names
}

/// `EventHandler::handle` of an aggregate's apply block: other events are ignored.
pub fn apply_list_handle<S: ?Sized, L: ApplyList<S>>(
    state: &mut S,
    event: &crate::RecordedEvent,
) -> Result<(), crate::HandlerError> {
    L::apply(state, event).unwrap_or(Ok(()))
}

/// Every type of the type list is a variant of the set `S`.
#[diagnostic::on_unimplemented(
    message = "the `#[event_handler]` block of this aggregate is a read model's, not an apply block",
    label = "its methods are not all plain apply methods",
    note = "an aggregate's apply methods are all `fn name(&mut self, event: &Event)`: not `async`, no return type, no `&EventMeta`, no context parameter"
)]
pub trait AllIn<S: ?Sized> {}

impl<S: ?Sized> AllIn<S> for () {}

impl<S: Contains<H> + ?Sized, H, T: AllIn<S>> AllIn<S> for (H, T) {}

/// Compiles only when every event with an apply method is in the set `S`.
#[inline(always)]
pub fn assert_all_in<L: AllIn<S>, S: ?Sized>() {}

/// Compiles only for [`EventStruct`]: called with `<T as VariantKind>::Kind` for every variant
/// `T` of an event set, so another set as a variant fails with "sets do not nest".
#[inline(always)]
pub fn assert_event_struct<K: IsEventStruct + ?Sized>() {}

/// What a type is when it appears as a variant of an event set.
pub trait VariantKind {
    /// [`EventStruct`] for an event, [`EventSet`] for an event set.
    type Kind: ?Sized;
}

impl<T: crate::Event> VariantKind for T {
    type Kind = EventStruct;
}

/// The [`VariantKind`] of an event struct.
pub struct EventStruct;

/// The [`VariantKind`] of the event set `S`.
pub struct EventSet<S: ?Sized>(::core::marker::PhantomData<S>);

/// Holds for [`EventStruct`] only: event sets do not nest.
#[diagnostic::on_unimplemented(
    message = "an event set cannot be a variant of another event set (`{Self}`)",
    label = "this is an event set, not an event struct",
    note = "event sets do not nest: list the events of the inner set as variants of this set (`Opened(Opened)`, ...), or handle the inner set where it is used"
)]
pub trait IsEventStruct {}

impl IsEventStruct for EventStruct {}

/// The `Ok` and `Err` types of a command handler's return type, for a return type written
/// through an alias such as `Result<Withdrawn>` (with `type Result<T, E = MyError> = ...`).
#[diagnostic::on_unimplemented(
    message = "a command handler returns `Result<Events, Error>`, not `{Self}`",
    label = "not a `Result`",
    note = "write `-> Result<Event, YourError>` (`Vec<_>` for several events, `()` for none)"
)]
pub trait CommandResult {
    /// The events decided.
    type Ok;
    /// Why the command is rejected.
    type Err;
    /// Splits the result.
    fn into_result(self) -> Result<Self::Ok, Self::Err>;
}

impl<T, E> CommandResult for Result<T, E> {
    type Ok = T;
    type Err = E;
    #[inline(always)]
    fn into_result(self) -> Result<T, E> {
        self
    }
}

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

/// The stored names of an event type, or of every variant of an event set: `(name, aliases)`
/// per event. Lets the generated compile-time checks compare names without an item per pair.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an event",
    label = "`{Self}` has no `#[derive(DomainEvent)]`",
    note = "derive it: `#[derive(Serialize, Deserialize, DomainEvent)] struct {Self} {{ ... }}`"
)]
pub trait StoredNames {
    /// One `(NAME, ALIASES)` per event.
    const NAMES: &'static [(&'static str, &'static [&'static str])];
}

impl<T: crate::Event> StoredNames for T {
    const NAMES: &'static [(&'static str, &'static [&'static str])] = &[(T::NAME, T::ALIASES)];
}

/// The compile-time check that a generic event set's variants have distinct stored names; its
/// constant is evaluated when the set is used with concrete type arguments.
pub trait DistinctNames {
    /// Evaluating it fails the build when two variants share a stored name or alias.
    const CHECK: ();
}

/// The first pair `(i, j)`, `i < j`, of groups that share a stored name or alias. One group is
/// the names of one variant of a set, or of one handler of an `#[event_handler]` block.
///
/// Evaluated at compile time, so it is linear in the number of names (a hash table), not one
/// comparison per pair: the compile-time interpreter is slow.
pub const fn first_overlap(
    groups: &[&[(&'static str, &'static [&'static str])]],
) -> Option<(usize, usize)> {
    let mut table = NameTable::new();
    let mut j = 0;
    while j < groups.len() {
        let mut first = usize::MAX;
        let mut e = 0;
        while e < groups[j].len() {
            let (name, aliases) = groups[j][e];
            if let Some(i) = table.find_before(name, j)
                && i < first
            {
                first = i;
            }
            let mut a = 0;
            while a < aliases.len() {
                if let Some(i) = table.find_before(aliases[a], j)
                    && i < first
                {
                    first = i;
                }
                a += 1;
            }
            e += 1;
        }
        if first != usize::MAX {
            return Some((first, j));
        }
        if !table.insert_group(groups[j], j) {
            return first_overlap_quadratic(groups);
        }
        j += 1;
    }
    None
}

/// The first group `j` whose every event an earlier group already receives, with the first
/// earlier group `i` that overlaps it: `(i, j)`. The handler of group `j` would never run (the
/// first matching handler of an `#[event_handler]` block runs). Linear, like [`first_overlap`].
pub const fn first_shadowed(
    groups: &[&[(&'static str, &'static [&'static str])]],
) -> Option<(usize, usize)> {
    let mut table = NameTable::new();
    let mut j = 0;
    while j < groups.len() {
        let mut all_taken = true;
        let mut first = usize::MAX;
        let mut e = 0;
        while e < groups[j].len() {
            let (name, aliases) = groups[j][e];
            let mut taken = usize::MAX;
            if let Some(i) = table.find_before(name, j) {
                taken = i;
            }
            let mut a = 0;
            while a < aliases.len() {
                if let Some(i) = table.find_before(aliases[a], j)
                    && i < taken
                {
                    taken = i;
                }
                a += 1;
            }
            if taken == usize::MAX {
                all_taken = false;
            } else if taken < first {
                first = taken;
            }
            e += 1;
        }
        if all_taken && first != usize::MAX {
            return Some((first, j));
        }
        if !table.insert_group(groups[j], j) {
            return first_shadowed_quadratic(groups);
        }
        j += 1;
    }
    None
}

/// Slots of [`NameTable`]: room for the names of sets and handler blocks of hundreds of events;
/// more fall back to pairwise comparison.
const SLOTS: usize = 2048;

/// An open-addressing set of stored names with the group each first appeared in, usable in
/// constant evaluation.
struct NameTable {
    /// `(group + 1, hash, name)`; group 0 marks an empty slot.
    slots: [(usize, u32, &'static str); SLOTS],
    len: usize,
}

impl NameTable {
    const fn new() -> Self {
        NameTable {
            slots: [(0, 0, ""); SLOTS],
            len: 0,
        }
    }

    /// The group of `name` if a group before `group` has it.
    const fn find_before(&self, name: &str, group: usize) -> Option<usize> {
        let hash = fnv1a(name);
        let mut slot = hash as usize % SLOTS;
        loop {
            let (g, h, stored) = self.slots[slot];
            if g == 0 {
                return None;
            }
            if h == hash && str_eq(stored, name) {
                return if g - 1 < group { Some(g - 1) } else { None };
            }
            slot = (slot + 1) % SLOTS;
        }
    }

    /// Adds the names and aliases of `group`; false when the table is too full.
    const fn insert_group(
        &mut self,
        names: &[(&'static str, &'static [&'static str])],
        group: usize,
    ) -> bool {
        let mut e = 0;
        while e < names.len() {
            if !self.insert(names[e].0, group) {
                return false;
            }
            let mut a = 0;
            while a < names[e].1.len() {
                if !self.insert(names[e].1[a], group) {
                    return false;
                }
                a += 1;
            }
            e += 1;
        }
        true
    }

    /// Adds `name` unless present (the earlier group stays); false when the table is too full.
    const fn insert(&mut self, name: &'static str, group: usize) -> bool {
        if self.len * 4 >= SLOTS * 3 {
            return false;
        }
        let hash = fnv1a(name);
        let mut slot = hash as usize % SLOTS;
        loop {
            let (g, h, stored) = self.slots[slot];
            if g == 0 {
                self.slots[slot] = (group + 1, hash, name);
                self.len += 1;
                return true;
            }
            if h == hash && str_eq(stored, name) {
                return true;
            }
            slot = (slot + 1) % SLOTS;
        }
    }
}

const fn fnv1a(text: &str) -> u32 {
    let bytes = text.as_bytes();
    let mut hash: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u32;
        hash = hash.wrapping_mul(0x0100_0193);
        i += 1;
    }
    hash
}

const fn first_overlap_quadratic(
    groups: &[&[(&'static str, &'static [&'static str])]],
) -> Option<(usize, usize)> {
    let mut j = 1;
    while j < groups.len() {
        let mut i = 0;
        while i < j {
            if groups_overlap(groups[i], groups[j]) {
                return Some((i, j));
            }
            i += 1;
        }
        j += 1;
    }
    None
}

const fn first_shadowed_quadratic(
    groups: &[&[(&'static str, &'static [&'static str])]],
) -> Option<(usize, usize)> {
    let mut j = 1;
    while j < groups.len() {
        let mut all_taken = true;
        let mut first = usize::MAX;
        let mut e = 0;
        while e < groups[j].len() {
            let entry: &[(&'static str, &'static [&'static str])] = &[groups[j][e]];
            let mut taken = false;
            let mut i = 0;
            while i < j {
                if groups_overlap(groups[i], entry) {
                    taken = true;
                    if i < first {
                        first = i;
                    }
                }
                i += 1;
            }
            if !taken {
                all_taken = false;
            }
            e += 1;
        }
        if all_taken && first != usize::MAX {
            return Some((first, j));
        }
        j += 1;
    }
    None
}

/// Whether `name` is a stored name (not an alias) of `group`.
pub const fn has_name(group: &[(&'static str, &'static [&'static str])], name: &str) -> bool {
    let mut i = 0;
    while i < group.len() {
        if str_eq(group[i].0, name) {
            return true;
        }
        i += 1;
    }
    false
}

const fn groups_overlap(
    a: &[(&'static str, &'static [&'static str])],
    b: &[(&'static str, &'static [&'static str])],
) -> bool {
    let mut i = 0;
    while i < a.len() {
        let mut j = 0;
        while j < b.len() {
            if names_overlap(a[i].0, a[i].1, b[j].0, b[j].1) {
                return true;
            }
            j += 1;
        }
        i += 1;
    }
    false
}

/// A panic message assembled at compile time from fixed pieces and names (a constant cannot
/// `format!`). Longer text is cut.
pub struct ConstMessage {
    bytes: [u8; 512],
    len: usize,
}

impl ConstMessage {
    /// Joins `parts`.
    pub const fn new(parts: &[&str]) -> Self {
        let mut out = ConstMessage {
            bytes: [0; 512],
            len: 0,
        };
        let mut p = 0;
        while p < parts.len() {
            let part = parts[p].as_bytes();
            let mut i = 0;
            // Cut only at a character boundary, so the text stays UTF-8.
            while i < part.len() && out.len < out.bytes.len() - 4 {
                out.bytes[out.len] = part[i];
                out.len += 1;
                i += 1;
            }
            while out.len > 0 && i < part.len() && (part[i] & 0xC0) == 0x80 {
                out.len -= 1;
                i -= 1;
            }
            p += 1;
        }
        out
    }

    /// The text.
    pub const fn as_str(&self) -> &str {
        match ::core::str::from_utf8(self.bytes.split_at(self.len).0) {
            Ok(text) => text,
            Err(_) => "(message cut)",
        }
    }
}

/// Whether two events share a stored name or alias.
const fn names_overlap(
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

/// What a `#[personal]` field's type must be: one with a `Default`, which is what it reads as
/// after its subject is forgotten.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be personal data: it has no value to read as once its subject is forgotten",
    label = "`{Self}` does not implement `Default` and `Serialize`",
    note = "a `#[personal]` field reads as its type's `Default` after forgetting: use a type with `Default` (a `String`, an `Option<T>`) or wrap it, `es_core::personal::Personal<T>` (reads as `Personal::Erased`)"
)]
pub trait ErasedValue {
    /// The erased value, as JSON.
    fn erased() -> serde_json::Value;
}
impl<T: Default + serde::Serialize> ErasedValue for T {
    fn erased() -> serde_json::Value {
        serde_json::to_value(T::default()).unwrap_or(serde_json::Value::Null)
    }
}

/// The erased value of a `#[personal]` field's type (checks [`ErasedValue`] at the type).
pub fn erased_value<T: ErasedValue>() -> serde_json::Value {
    T::erased()
}

/// The value of a `#[tag]` field (checks [`TagValue`] at the field's type).
pub fn tag_value<T: TagValue + ?Sized>(value: &T) -> String {
    value.tag_value()
}

/// The future `EventHandler::handle` returns.
pub type HandleFuture<'a> = ::core::pin::Pin<
    Box<dyn ::core::future::Future<Output = Result<(), crate::HandlerError>> + Send + 'a>,
>;

/// Ties the context type of an `EventHandler` impl to the context parameter of a read model's
/// methods without naming its lifetimes: `F` is the function pointer type of the block's
/// dispatcher, whose context parameter may be written with an elided lifetime (`&mut Tx` for
/// `struct Tx<'c>`), which an impl header cannot name.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not the context type of the `#[event_handler]` methods of `{H}`",
    label = "`{H}` handles events with another context type",
    note = "run `{H}` where its methods' context parameter (`ctx: &mut Ctx`) has the type `{Self}`"
)]
pub trait ContextOf<H: ?Sized, F> {
    /// Calls the dispatcher `f`.
    fn call<'a>(
        f: F,
        handler: &'a mut H,
        event: &'a crate::RecordedEvent,
        ctx: &'a mut Self,
    ) -> HandleFuture<'a>;
}

impl<H: ?Sized, C: ?Sized, F> ContextOf<H, F> for C
where
    F: for<'a> Fn(&'a mut H, &'a crate::RecordedEvent, &'a mut C) -> HandleFuture<'a>,
{
    #[inline(always)]
    fn call<'a>(
        f: F,
        handler: &'a mut H,
        event: &'a crate::RecordedEvent,
        ctx: &'a mut C,
    ) -> HandleFuture<'a> {
        f(handler, event, ctx)
    }
}

#[cfg(test)]
mod tests {
    use super::{
        ConstMessage, first_overlap, first_overlap_quadratic, first_shadowed,
        first_shadowed_quadratic, names_overlap,
    };

    type Group = &'static [(&'static str, &'static [&'static str])];

    fn leak_group(names: &[(&str, &[&str])]) -> Group {
        let entries: Vec<(&'static str, &'static [&'static str])> = names
            .iter()
            .map(|(name, aliases)| {
                let aliases: Vec<&'static str> = aliases
                    .iter()
                    .map(|a| &*Box::leak(a.to_string().into_boxed_str()))
                    .collect();
                (
                    &*Box::leak(name.to_string().into_boxed_str()),
                    &*Box::leak(aliases.into_boxed_slice()),
                )
            })
            .collect();
        Box::leak(entries.into_boxed_slice())
    }

    #[test]
    fn hash_table_agrees_with_pairwise_comparison() {
        // Small deterministic pseudo-random cases over a few names, so overlaps are common.
        let mut seed = 7u32;
        let mut next = |m: u32| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (seed >> 16) % m
        };
        for _ in 0..500 {
            let groups: Vec<Group> = (0..1 + next(6))
                .map(|_| {
                    let entries: Vec<(String, Vec<String>)> = (0..1 + next(3))
                        .map(|_| {
                            let aliases = (0..next(2)).map(|_| format!("a{}", next(9))).collect();
                            (format!("n{}", next(12)), aliases)
                        })
                        .collect();
                    let borrowed: Vec<(&str, Vec<&str>)> = entries
                        .iter()
                        .map(|(n, a)| (n.as_str(), a.iter().map(String::as_str).collect()))
                        .collect();
                    let refs: Vec<(&str, &[&str])> =
                        borrowed.iter().map(|(n, a)| (*n, a.as_slice())).collect();
                    leak_group(&refs)
                })
                .collect();
            assert_eq!(
                first_overlap(&groups),
                first_overlap_quadratic(&groups),
                "{groups:?}"
            );
            assert_eq!(
                first_shadowed(&groups),
                first_shadowed_quadratic(&groups),
                "{groups:?}"
            );
        }
    }

    #[test]
    fn more_names_than_the_table_holds_fall_back() {
        let mut groups: Vec<Group> = (0..1700)
            .map(|i| leak_group(&[(&format!("e{i}"), &[])]))
            .collect();
        assert_eq!(first_overlap(&groups), None);
        groups.push(leak_group(&[("e3", &[])]));
        assert_eq!(first_overlap(&groups), Some((3, 1700)));
        assert_eq!(first_shadowed(&groups), Some((3, 1700)));
    }

    #[test]
    fn overlap_by_name_and_alias() {
        assert!(names_overlap("a", &[], "a", &[]));
        assert!(!names_overlap("a", &[], "b", &[]));
        assert!(names_overlap("a", &["old"], "b", &["old"]));
        assert!(names_overlap("a", &["b"], "b", &[]));
        assert!(names_overlap("a", &[], "b", &["a"]));
        assert!(!names_overlap("ab", &["x"], "a", &["y"]));
    }

    #[test]
    fn first_overlapping_pair() {
        const A: &[(&str, &[&str])] = &[("a", &[])];
        const B: &[(&str, &[&str])] = &[("b", &["old"])];
        const C: &[(&str, &[&str])] = &[("c", &[]), ("old", &[])];
        assert_eq!(first_overlap(&[A, B]), None);
        assert_eq!(first_overlap(&[A, B, C]), Some((1, 2)));
        assert_eq!(first_overlap(&[A, B, A]), Some((0, 2)));
    }

    #[test]
    fn shadowed_handlers() {
        const SET: &[(&str, &[&str])] = &[("a", &[]), ("b", &[])];
        const A: &[(&str, &[&str])] = &[("a", &[])];
        const B: &[(&str, &[&str])] = &[("b", &[])];
        // A set first: the event after it never runs.
        assert_eq!(first_shadowed(&[SET, A]), Some((0, 1)));
        // An event first, the set after it still gets the others.
        assert_eq!(first_shadowed(&[A, SET]), None);
        // Every event of the set handled before it.
        assert_eq!(first_shadowed(&[A, B, SET]), Some((0, 2)));
        assert_eq!(first_shadowed(&[A, B]), None);
    }

    #[test]
    fn messages_are_joined_and_cut_on_a_char_boundary() {
        assert_eq!(ConstMessage::new(&["a `", "B", "` c"]).as_str(), "a `B` c");
        let long = "é".repeat(400);
        let cut = ConstMessage::new(&[&long]);
        assert!(cut.as_str().len() <= 508 && cut.as_str().chars().all(|c| c == 'é'));
    }
}
