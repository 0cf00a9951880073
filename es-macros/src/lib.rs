//! Procedural macros for `es`. Use them through `es_core::prelude` (feature `derive`, on by
//! default), not directly. The documentation of each macro lists every key it accepts, with what
//! it does and its default; `es-core`'s documentation of the re-exported macros adds runnable
//! examples of each key. In short:
//!
//! - `#[derive(DomainEvent)]` on a struct implements `es_core::Event`:
//!   `#[event(name = "account.opened", version = 3, aliases = ["opened"],
//!   upcast(from = 1, with = v1_to_v2), upcast(from = 2, via = OpenedV2))]`.
//!   `name` defaults to the type name, `version` to 1. A `with` step is a
//!   `fn(serde_json::Value) -> Result<serde_json::Value, E>` (`E: Display`) from version K to K + 1;
//!   a `via = T` step decodes the version-K payload as `T` and converts it with `From` into the
//!   type of version K + 1 (the `via` type of the next step, or the event itself). Steps must form
//!   a chain without gaps up to `version`.
//! - `#[derive(DomainEvent)]` on an enum of newtype variants (`Opened(Opened)`) makes an *event
//!   set*: it is stored by the stable names of the variants' event types (not by serde's enum
//!   tagging), gets `From<Variant>` for every variant, and can be returned by command handlers.
//!   Two variants with the same stored name are a compile error.
//! - `#[derive(Aggregate)]` with `#[aggregate(name = "account", events = AccountEvent,
//!   snapshot_every = 100, snapshot_version = 2, ignore(Audited))]` implements `Aggregate`.
//!   `events` is required; `name` defaults to the type name. With `snapshot_every` the state must
//!   be `Serialize + Deserialize`. The apply methods come from an `#[event_handler]` block; an
//!   event of the set without a handler (and not in `ignore`) is a compile error naming the event
//!   and the aggregate.
//! - `#[event_handler]` on an inherent impl block. Every method takes `&mut self` and the event
//!   `&E`, then optionally `&EventMeta` and one context `&mut Ctx` (any order), may be `async`, and
//!   returns `()` or `Result<(), E>`.
//!   - When **every** method is a plain `fn(&mut self, &E)` (not async, nothing else), the block is
//!     also an aggregate's apply dispatch: it implements `Apply<E>` for each method. This is how the
//!     macro tells an aggregate from a read model; a block that is both is fine. A block that
//!     mixes plain methods with others (`async`, a return type, `&EventMeta`, a context) is an
//!     error on each other method, so a slip in an aggregate's apply block is not silently a
//!     read model.
//!   - The first method whose event type matches a stored event runs. A method that can never
//!     run (its event's whole set, or an event with the same stored name, is handled above it)
//!     is a compile error; an event's own method above its set's method is fine.
//!   - `#[cfg(...)]` on a method is carried onto everything generated for it.
//!   - Always, it implements `EventHandler<Ctx>` over exactly the named event types (structs or
//!     whole event sets, from any number of aggregates), with `event_types()` listing their stored
//!     names so a store can filter `read_all`. Without a context parameter the impl is generic over
//!     every `Ctx`; `'_` lifetimes in the context type become impl lifetimes, so
//!     `&mut sqlx::Transaction<'_, Postgres>` works for every transaction.
//!   - One `#[event_handler]` block per type.
//! - `#[command_handler]` on an inherent impl block of an aggregate: one method per command type,
//!   `fn(&self, Cmd) -> Result<R, E>` or `async fn`, where `R` is one event, an event-set value,
//!   a `Vec` or `Option` of either, or `()`. `Result` may be an alias with a default error
//!   (`-> Result<Withdrawn>`). Each method becomes a `Handle<Cmd>` impl, used by
//!   `Repository::execute`; helper methods belong in a plain `impl` block.
//!
//! Every macro accepts `crate = path` (`#[event(crate = my_es)]`, `#[event_handler(crate = my_es)]`,
//! ...) for a crate that renamed its `es-core` dependency. Without it, a macro reads the crate's
//! `Cargo.toml` and, when `es-core` is renamed there, reports which `crate = ...` to add instead of
//! leaving only "cannot find `es_core`" on the generated code.
//!
//! Misuse is a compile error on the offending token, with what to write instead; all errors of one
//! input are reported together.
#![warn(missing_docs)]

mod ast;
mod attr;
mod crate_path;
mod errors;
mod expand_aggregate;
mod expand_command;
mod expand_event;
mod expand_event_set;
mod expand_handler;
mod personal;
mod tags;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, ItemImpl, parse_macro_input};

/// Derives `es_core::Event` for a struct (one event type) or `es_core::DomainEvent` for an enum
/// of newtype variants (an event set).
///
/// # On a struct: one event type
///
/// The struct has named fields (its payload is a JSON object; `struct Closed {}` for an event
/// without data) and must also derive `Serialize` and `Deserialize`. It cannot borrow (no
/// lifetime parameters), and serde container attributes that change the payload's shape
/// (`#[serde(transparent)]`, `into`, `from`, `try_from`) are rejected: upcasts and other readers
/// of the log see the payload as a JSON object of the fields. Field attributes (`rename`,
/// `default`, ...) and `rename_all`, `deny_unknown_fields` are fine, and so is `tag = "..."`
/// (it adds a field to the object); `untagged` and `content` apply to enums only (serde rejects
/// them on a struct). It gets `Event` (hence
/// `DomainEvent`) and can be returned by a command handler of any aggregate whose event set
/// contains it. A generic struct is an event whenever its parameters make it
/// `Serialize + DeserializeOwned + Send + Sync + 'static`.
///
/// Keys of `#[event(...)]` (all optional; several `#[event]` attributes are merged):
///
/// | key | what it does | default | example |
/// |---|---|---|---|
/// | `name = "..."` | the stable name stored with every event of this type (`Event::NAME`); renaming the Rust type does not change it. Non-empty, no control characters. | the type's name (`"Deposited"`) | `#[event(name = "account.deposited")]` |
/// | `version = N` | the current schema version (`Event::VERSION`), stored with every new event; older stored versions are upcast on read, newer ones are a decode error. Starts at 1. | `1` | `#[event(version = 3)]` |
/// | `aliases = ["...", ...]` | older stored names that still decode as this type (`Event::ALIASES`); new events are stored under `name`. Not the own name, no duplicates. | none | `#[event(name = "account.credited", aliases = ["account.deposited"])]` |
/// | `upcast(from = K, with = f)` | a step from schema version `K` to `K + 1`, a function `fn(serde_json::Value) -> Result<serde_json::Value, E>` with `E: Display` (its error becomes a decode error naming the event) | none | `#[event(version = 2, upcast(from = 1, with = v1_to_v2))]` |
/// | `upcast(from = K, via = T)` | a step from `K` to `K + 1` through a typed older shape: the version-`K` payload is decoded as `T` (`Deserialize`) and converted with `From<T>` into the type of version `K + 1`: the `via` type of the step from `K + 1`, or the event itself for the last step | none | `#[event(version = 2, upcast(from = 1, via = DepositedV1))]` |
/// | `crate = path` | the path of `es-core` in the generated code, for a crate that renamed its dependency (also `crate = "path"`) | `::es_core` | `#[event(crate = my_es)]` |
///
/// Upcast steps may be written in any order, but each `from` appears once, every `from` is below
/// `version`, and the steps form a chain without gaps from the first one up to `version` (a
/// chain may start above 1 when the oldest versions were never stored). A step from `K` to `K + 1`
/// that is `via` needs the shape of `K + 1` as a type, so it is followed by another `via` step
/// unless `K + 1` is the current version.
///
/// # On an enum: an event set
///
/// The enum has at least one variant; every variant wraps exactly one event struct,
/// `Opened(Opened)`, without a discriminant; an event type appears once. The set is stored by
/// the stable names of the variants' event types (not by serde's enum tagging), so an event
/// stored alone decodes as part of any set that contains it. It gets `DomainEvent`, `From<Variant>` for every variant, and can be used as
/// `#[aggregate(events = ...)]`, returned by command handlers and handled whole by an
/// `#[event_handler]` method. Two variants whose events share a stored name or alias are a
/// compile error (for a generic set, when the set is used with concrete type arguments). An event
/// set cannot be a variant of another set. The only key on an enum is `crate = path`; `name`,
/// `version`, `aliases` and `upcast` belong to the variants' structs.
///
/// Runnable examples of every key come first in `es-core`'s documentation of this macro
/// (`es_core::DomainEvent`).
#[proc_macro_derive(DomainEvent, attributes(event, tag, personal))]
pub fn derive_domain_event(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_event::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Declares an event set and its events in one enum: every struct variant (or unit variant) is an
/// event, with its own `#[event(...)]` (stable name, version, aliases, upcasts), and becomes an
/// event struct of the same name; the enum becomes the set of newtype variants over them. So
///
/// ```ignore
/// #[event_set]
/// #[derive(Debug, Clone, PartialEq)]
/// pub enum AccountEvent {
///     #[event(name = "account.opened")]
///     Opened { owner: String },
///     #[event(name = "account.closed")]
///     Closed,
///     Audited(Audited), // an event struct declared elsewhere
/// }
/// ```
///
/// is exactly
///
/// ```ignore
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
/// #[event(name = "account.opened")]
/// pub struct Opened { pub owner: String }
///
/// #[derive(Debug, Clone, PartialEq, Serialize, Deserialize, DomainEvent)]
/// #[event(name = "account.closed")]
/// pub struct Closed {}
///
/// #[derive(Debug, Clone, PartialEq, DomainEvent)]
/// pub enum AccountEvent { Opened(Opened), Closed(Closed), Audited(Audited) }
/// ```
///
/// with every check of both derives, and handlers take the events as before
/// (`fn opened(&mut self, e: &Opened)`). Put `#[event_set]` above the enum's `#[derive(...)]`:
/// its derives (other than `DomainEvent`, `Serialize`, `Deserialize`) are repeated on every
/// event struct. The variants' fields get the enum's visibility; the variants' attributes (docs,
/// `#[event]`, `#[serde]`, `#[cfg]`) go to their structs. The set cannot be generic. Its only
/// argument is `crate = path`.
#[proc_macro_attribute]
pub fn event_set(args: TokenStream, item: TokenStream) -> TokenStream {
    match parse_macro_input!(item as syn::Item) {
        syn::Item::Enum(item) => expand_event_set::event_set(args.into(), item).into(),
        other => syn::Error::new_spanned(
            match &other {
                syn::Item::Struct(s) => quote::ToTokens::to_token_stream(&s.struct_token),
                syn::Item::Union(u) => quote::ToTokens::to_token_stream(&u.union_token),
                other => quote::ToTokens::to_token_stream(other),
            },
            "`#[event_set]` goes on an enum whose variants are the events (`Opened { owner: String }`); for one event struct, use `#[derive(Serialize, Deserialize, DomainEvent)]`",
        )
        .into_compile_error()
        .into(),
    }
}

/// Derives `es_core::Aggregate` for a struct: the state its events fold into. The struct must be
/// `Default + Send + Sync + 'static` (its state before the first event is `Default::default()`).
///
/// The apply methods come from the aggregate's `#[event_handler]` impl block, one plain
/// `fn(&mut self, &E)` per event of the set: an event of the set without one (and not in
/// `ignore`) is a compile error naming the event and the aggregate, and so is a handler of an
/// event that is not in the set.
///
/// Keys of `#[aggregate(...)]`, in one attribute (a second `#[aggregate]` attribute or a key
/// given twice is an error):
///
/// | key | what it does | default | example |
/// |---|---|---|---|
/// | `events = T` | **required.** The aggregate's events (`Aggregate::Event`): an event set (an enum with `#[derive(DomainEvent)]`) or a single event struct | — | `#[aggregate(events = AccountEvent)]` |
/// | `name = "..."` | the aggregate type's name (`Aggregate::NAME`); the stream of aggregate `id` is `"{name}-{id}"`, so changing it loses the stored streams. Non-empty, no control characters. | the type's name (`"Account"`) | `#[aggregate(name = "account")]` |
/// | `snapshot_every = N` | store a snapshot of the state after the append that crosses a multiple of `N` events, and load from the latest snapshot instead of replaying the whole stream (`Aggregate::SNAPSHOT_EVERY`). The state must then be `Serialize + Deserialize`. `N > 0`. | no snapshots | `#[aggregate(snapshot_every = 100)]` |
/// | `snapshot_version = N` | the schema version of the snapshot state (`Aggregate::SNAPSHOT_VERSION`): bump it when the state's shape changes, and stored snapshots of another version are ignored (the stream is replayed). Needs `snapshot_every`. Starts at 1. | `1` | `#[aggregate(snapshot_every = 100, snapshot_version = 2)]` |
/// | `ignore(T, ...)` | events of the set that do not change this state: each gets a no-op `Apply<T>` instead of a handler method. Each type once, and each in the set. | none | `#[aggregate(events = AccountEvent, ignore(Audited))]` |
/// | `crate = path` | the path of `es-core` in the generated code, for a crate that renamed its dependency (also `crate = "path"`) | `::es_core` | `#[aggregate(crate = my_es, events = WalletEvent)]` |
///
/// Runnable examples of every key come first in `es-core`'s documentation of this macro
/// (`es_core::Aggregate`).
#[proc_macro_derive(Aggregate, attributes(aggregate))]
pub fn derive_aggregate(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_aggregate::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Turns an inherent impl block of event handler methods into `Apply<E>` impls (for an
/// aggregate) and an `EventHandler<Ctx>` impl (for a read model, policy or subscriber).
///
/// Its only argument is `crate = path` (`#[event_handler(crate = my_es)]`), the path of
/// `es-core` in the generated code for a crate that renamed its dependency (default `::es_core`).
///
/// # Methods
///
/// Every method of the block is an event handler (the block is kept as written, so the methods
/// stay callable):
///
/// - it takes `&mut self`, then the event by shared reference `&E`, where `E` is an event struct
///   or a whole event set (then it gets every event of the set);
/// - then, optionally and in any order, `&EventMeta` (stream, version, position, time recorded,
///   metadata of the event) and one context `&mut Ctx` (for example the transaction in which a
///   projection also commits its checkpoint); every method of the block that takes a context
///   takes the same type;
/// - it may be `async`, has no type parameters, and returns `()` or `Result<(), E>` with
///   `E: Into<Box<dyn Error + Send + Sync>>` (an `Err` becomes `HandlerError::Failed`);
/// - each event type has one method. One `#[event_handler]` block per type;
/// - the first method whose event type matches runs: a method that never can (an event after its
///   whole set's method, or two events with one stored name) is a compile error, while an
///   event's method above its set's method handles that event and the set's method the others;
/// - `#[cfg(...)]` on a method applies to everything generated for it.
///
/// # What it implements
///
/// - When **every** method is a plain `fn(&mut self, &E)` (not `async`, no meta, no context, no
///   return type), `Apply<E>` for each method: this is the apply dispatch of an aggregate, which
///   `#[derive(Aggregate)]` checks against its event set. A block whose methods all have another
///   shape is a read model only (an aggregate with it as its apply block fails to compile,
///   saying so). A block that mixes the two shapes is an error on each method that is not plain:
///   the macro cannot see whether the type is an aggregate, and a stray `async` must not turn an
///   apply block into a read model.
/// - Always, `EventHandler<Ctx>` over exactly the named event types: `event_types()` lists their
///   stored names and aliases (so a store can filter `read_all`), and `handle` decodes (and
///   upcasts) an event of one of them and calls its method; other events are ignored. Without a
///   context parameter the impl is generic over every `Ctx: Send + ?Sized`; `'_` and elided
///   lifetimes in the context type become impl lifetimes, so
///   `&mut sqlx::Transaction<'_, Postgres>` works for every transaction. A lifetime parameter
///   of the context type is written, at least as `'_` (`tx: &mut Tx<'_>`, not `tx: &mut Tx`):
///   the macro names the type in an impl header, where rustc does not allow it elided (E0726,
///   whose help shows the fix at the parameter).
///
/// Runnable examples of every key come first in `es-core`'s documentation of this macro
/// (`es_core::event_handler`).
#[proc_macro_attribute]
pub fn event_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as ItemImpl);
    expand_handler::event_handler(args.into(), item).into()
}

/// Turns an inherent impl block of an aggregate's command handler methods into one
/// `Handle<Command>` impl per method, which `Repository::execute` uses.
///
/// Its only argument is `crate = path` (`#[command_handler(crate = my_es)]`), the path of
/// `es-core` in the generated code for a crate that renamed its dependency (default `::es_core`).
///
/// # Methods
///
/// Every method of the block (kept as written) handles one command type:
///
/// - `fn name(&self, command: Cmd) -> Result<R, E>`, or `async fn`: `&self`, because the state
///   changes only through the events it returns; exactly one parameter, the command by value; no
///   type parameters. `Repository::execute` needs `Cmd: Clone + Send` (it decides again after a
///   concurrent write).
/// - `R` is what the command decides: one event struct of the aggregate's set, an event-set value,
///   a `Vec` or `Option` of either, or `()` for none. An empty result appends nothing.
/// - `E` (`Handle::Error`, `Send`) is why a command is rejected: `ExecuteError::Rejected(E)`,
///   nothing written. Use `std::convert::Infallible` for a command that never fails. The
///   `Result` may be a crate's alias with a default error type (`-> Result<Withdrawn>`).
/// - Every method is a command handler: helper methods go in a plain `impl` block.
///   `#[cfg(...)]` on a method applies to its `Handle` impl.
/// - `#[command]` on a method declares its command type instead: the parameters after `&self`
///   (owned, each a plain `name: Type`) become the fields of a struct named after the method in
///   `UpperCamelCase` (`open_account` -> `OpenAccount`), or `#[command(Name)]`, with the
///   method's visibility and docs, deriving `Clone` and `Debug`. The method stays callable as
///   written.
/// - Each command type has one handler; an aggregate may have several `#[command_handler]`
///   blocks.
///
/// Runnable examples of every key come first in `es-core`'s documentation of this macro
/// (`es_core::command_handler`).
#[proc_macro_attribute]
pub fn command_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as ItemImpl);
    expand_command::command_handler(args.into(), item).into()
}
