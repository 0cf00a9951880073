//! Procedural macros for `es`. Use them through `es_core::prelude` (feature `derive`, on by
//! default), not directly.
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
//!     macro tells an aggregate from a read model; a block that is both is fine.
//!   - Always, it implements `EventHandler<Ctx>` over exactly the named event types (structs or
//!     whole event sets, from any number of aggregates), with `event_types()` listing their stored
//!     names so a store can filter `read_all`. Without a context parameter the impl is generic over
//!     every `Ctx`; `'_` lifetimes in the context type become impl lifetimes, so
//!     `&mut sqlx::Transaction<'_, Postgres>` works for every transaction.
//!   - One `#[event_handler]` block per type.
//! - `#[command_handler]` on an inherent impl block of an aggregate: one method per command type,
//!   `fn(&self, Cmd) -> Result<R, E>` or `async fn`, where `R` is one event, an event-set value,
//!   a `Vec` or `Option` of either, or `()`. Each method becomes a `Handle<Cmd>` impl, used by
//!   `Repository::execute`.
//!
//! Every macro accepts `crate = path` (`#[event(crate = my_es)]`, `#[event_handler(crate = my_es)]`,
//! ...) for a crate that renamed its `es-core` dependency.
//!
//! Misuse is a compile error on the offending token, with what to write instead; all errors of one
//! input are reported together.
#![warn(missing_docs)]

mod ast;
mod attr;
mod errors;
mod expand_aggregate;
mod expand_command;
mod expand_event;
mod expand_handler;
mod valid;

use proc_macro::TokenStream;
use syn::{DeriveInput, ItemImpl, parse_macro_input};

/// Derives `es_core::Event` for a struct (one event type) or `es_core::DomainEvent` for an enum
/// of newtype variants (an event set). See the crate docs for `#[event(...)]`.
#[proc_macro_derive(DomainEvent, attributes(event))]
pub fn derive_domain_event(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_event::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `es_core::Aggregate`. See the crate docs for `#[aggregate(...)]`.
#[proc_macro_derive(Aggregate, attributes(aggregate))]
pub fn derive_aggregate(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand_aggregate::derive(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Turns an impl block of event handler methods into `Apply<E>` impls (for an aggregate) and an
/// `EventHandler<Ctx>` impl (for a read model). See the crate docs.
#[proc_macro_attribute]
pub fn event_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as ItemImpl);
    expand_handler::event_handler(args.into(), item).into()
}

/// Turns an impl block of command handler methods into `Handle<Command>` impls. See the crate docs.
#[proc_macro_attribute]
pub fn command_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = parse_macro_input!(item as ItemImpl);
    expand_command::command_handler(args.into(), item).into()
}
