//! Checks of the parsed model: everything a user can get wrong, each error on the wrong token.

use crate::ast::{AggregateInput, EventSet, EventStruct, HandlerImpl, Method, Receiver};
use crate::attr::Step;
use crate::errors::Errors;
use quote::ToTokens;
use std::collections::BTreeMap;
use syn::{GenericArgument, PathArguments, Type};

/// A type as a user would write it (`Vec<Deposited>`, not `Vec < Deposited >`).
pub(crate) fn pretty(tokens: &impl ToTokens) -> String {
    let text = tokens.to_token_stream().to_string();
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let prev = if i > 0 { chars[i - 1] } else { ' ' };
        let next = chars.get(i + 1).copied().unwrap_or(' ');
        if c == ' '
            && (matches!(next, '<' | '>' | ',' | ':' | ')' | ']')
                || matches!(prev, '<' | '&' | '(' | '[' | ':')
                || (prev == '>' && next == '>')
                || (next == '(' && (prev.is_alphanumeric() || prev == '_')))
        {
            continue;
        }
        out.push(c);
    }
    out
}

/// Serde container attributes that make an event's stored payload something other than a JSON
/// object of its fields. The payload is what upcasters, `via` types and other programs reading
/// the log see, so its shape must follow from the struct's fields alone.
const PAYLOAD_SHAPE_KEYS: [(&str, &str); 4] = [
    (
        "transparent",
        "stores the payload as the single field's value instead of a JSON object",
    ),
    ("into", "stores the payload in the shape of another type"),
    ("from", "decodes the payload in the shape of another type"),
    (
        "try_from",
        "decodes the payload in the shape of another type",
    ),
];

/// Rejects serde container attributes that change the stored payload's shape.
fn serde_container(input: &syn::DeriveInput, errors: &mut Errors) {
    use syn::punctuated::Punctuated;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        // Anything serde itself rejects is left to serde's own message.
        let Ok(metas) =
            attr.parse_args_with(Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated)
        else {
            continue;
        };
        for meta in metas {
            let path = meta.path();
            let Some((key, why)) = PAYLOAD_SHAPE_KEYS
                .iter()
                .find(|(key, _)| path.is_ident(key))
            else {
                continue;
            };
            errors.error(
                path,
                format!(
                    "`#[serde({key})]` on an event {why}: an event's payload is stored as a JSON object of its fields. Remove it, and write the fields in the struct itself (`struct {} {{ pub amount: i64 }}`); a newer shape is a new `version` with an upcast",
                    input.ident
                ),
            );
        }
    }
}

/// Checks an event struct's attribute: version, aliases and the upcast chain.
pub(crate) fn event_struct(event: &EventStruct<'_>, errors: &mut Errors) {
    serde_container(event.input, errors);
    for lifetime in event.input.generics.lifetimes() {
        errors.error(
            &lifetime.lifetime,
            format!(
                "an event cannot borrow (`{}`): it is decoded from the stored JSON and kept after the store's buffers are gone. Use owned fields (`String` instead of `&{} str`, `Vec<T>` instead of `&{} [T]`) and remove the lifetime parameter",
                lifetime.lifetime, lifetime.lifetime, lifetime.lifetime
            ),
        );
    }
    let attr = &event.attr;
    let version = attr.version.map_or(1, |v| v.value);
    if let Some(v) = attr.version.filter(|v| v.value == 0) {
        errors.error_at(
            v.span,
            "schema versions start at 1: write `version = 1` (or leave it out) for an event that never changed shape",
        );
    }
    if let Some(name) = &attr.name {
        check_name(name, "event", "account.opened", errors);
    }
    for alias in &attr.aliases {
        check_name(alias, "alias", "account.opened.v0", errors);
    }
    let name = attr
        .name
        .as_ref()
        .map_or_else(|| event.input.ident.to_string(), |n| n.value());
    let mut seen = Vec::new();
    for alias in &attr.aliases {
        if alias.value() == name {
            errors.error(
                alias,
                format!("the alias \"{name}\" is the event's own name; list only older names here, or remove `aliases`"),
            );
        } else if seen.contains(&alias.value()) {
            errors.error(
                alias,
                format!("the alias \"{}\" is listed twice; keep one", alias.value()),
            );
        }
        seen.push(alias.value());
    }
    let mut steps: BTreeMap<u32, proc_macro2::Span> = BTreeMap::new();
    for upcast in &attr.upcasts {
        if upcast.step.is_none() {
            errors.error_at(
                upcast.span,
                "this upcast step does nothing: add `with = function` (JSON to JSON) or `via = OlderType` (decode the older struct, convert with `From`)",
            );
        }
        let Some(from) = upcast.from else {
            errors.error_at(
                upcast.span,
                "this upcast step needs the version it starts from: `upcast(from = 1, ...)`",
            );
            continue;
        };
        if from.value == 0 {
            errors.error_at(
                from.span,
                "schema versions start at 1: an upcast step starts `from = 1` or later",
            );
        } else if from.value >= version {
            errors.error_at(
                from.span,
                format!(
                    "an upcast step from version {} needs a newer current version: set `version = {}` (the event is at version {version})",
                    from.value,
                    from.value + 1
                ),
            );
        }
        if steps.insert(from.value, from.span).is_some() {
            errors.error_at(
                from.span,
                format!(
                    "two upcast steps start from version {}; keep one (each step turns version N into N + 1)",
                    from.value
                ),
            );
        }
    }
    // The chain must run without gaps from its first step to the current version.
    if let Some((&first, _)) = steps.iter().next() {
        for missing in first..version {
            if !steps.contains_key(&missing) && missing != 0 {
                let span = steps
                    .range(missing..)
                    .next()
                    .map(|(_, s)| *s)
                    .or_else(|| attr.version.map(|v| v.span))
                    .unwrap_or_else(proc_macro2::Span::call_site);
                errors.error_at(
                    span,
                    format!(
                        "the upcast chain has a gap: no step from version {missing} to {}; add `upcast(from = {missing}, with = ...)`",
                        missing + 1
                    ),
                );
            }
        }
    }
    // A `via` step needs a type for the version after it.
    let vias: BTreeMap<u32, &Type> = attr
        .upcasts
        .iter()
        .filter_map(|u| match (&u.from, &u.step) {
            (Some(f), Some(Step::Via(t))) => Some((f.value, t)),
            _ => None,
        })
        .collect();
    for (&from, ty) in &vias {
        if from + 1 < version && !vias.contains_key(&(from + 1)) {
            errors.error(
                ty,
                format!(
                    "`via` converts into the shape of version {}, which has no type: make the step from {} a `via` step too, or use `with = function` here",
                    from + 1,
                    from + 1
                ),
            );
        }
    }
}

/// A stored name must be non-empty, printable text.
fn check_name(name: &syn::LitStr, what: &str, example: &str, errors: &mut Errors) {
    let value = name.value();
    if value.trim().is_empty() {
        let role = if what == "aggregate" {
            "it starts the name of every stream of this aggregate"
        } else {
            "it is stored with every event"
        };
        errors.error(
            name,
            format!("an {what} name cannot be empty ({role}): write for example `\"{example}\"`"),
        );
    } else if value.chars().any(char::is_control) {
        errors.error(
            name,
            format!("an {what} name cannot contain control characters"),
        );
    }
}

/// Checks an event set.
pub(crate) fn event_set(set: &EventSet<'_>, errors: &mut Errors) {
    if let Some(span) = set.attr.struct_only_key {
        errors.error_at(
            span,
            "an event set has no name or version of its own (its variants do): remove this key; only `crate = path` is allowed on an enum",
        );
    }
    let mut seen: Vec<(String, &syn::Ident)> = Vec::new();
    for variant in &set.variants {
        let key = pretty(&variant.ty);
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
            errors.error(
                &variant.ty,
                format!(
                    "`{key}` is already in this set (variant `{first}`); an event type appears once in a set"
                ),
            );
        }
        seen.push((key, &variant.ident));
    }
}

/// Checks an aggregate.
pub(crate) fn aggregate(agg: &AggregateInput<'_>, errors: &mut Errors) {
    let input = agg.input;
    match &input.data {
        syn::Data::Struct(_) => {}
        syn::Data::Enum(e) => errors.error(
            e.enum_token,
            format!(
                "`#[derive(Aggregate)]` goes on a struct: an aggregate is the state its events fold into. Write `struct {} {{ ... }}` and put the events in an `enum` with `#[derive(DomainEvent)]`",
                input.ident
            ),
        ),
        syn::Data::Union(u) => errors.error(u.union_token, "`#[derive(Aggregate)]` goes on a struct, not a union"),
    }
    if let Some(name) = &agg.attr.name {
        check_name(name, "aggregate", "account", errors);
    }
    if agg.attr.events.is_none() {
        let message = format!(
            "an aggregate needs its event set: add `#[aggregate(events = {}Event)]` naming the enum (or event struct) with `#[derive(DomainEvent)]`",
            input.ident
        );
        match &agg.attr.tokens {
            Some(tokens) => errors.error(tokens, message),
            None => errors.error(&input.ident, message),
        }
    }
    if let Some(n) = agg.attr.snapshot_every.filter(|n| n.value == 0) {
        errors.error_at(n.span, "`snapshot_every = 0` would never snapshot: remove the key, or give the number of events between snapshots");
    }
    if let Some(n) = agg.attr.snapshot_version {
        if n.value == 0 {
            errors.error_at(n.span, "snapshot versions start at 1");
        }
        if agg.attr.snapshot_every.is_none() {
            errors.error_at(n.span, "`snapshot_version` needs `snapshot_every = N`: without it the aggregate takes no snapshots");
        }
    }
    let mut seen = Vec::new();
    for ty in &agg.attr.ignore {
        let key = pretty(&ty);
        if seen.contains(&key) {
            errors.error(ty, format!("`{key}` is ignored twice; keep one"));
        }
        seen.push(key);
    }
}

/// What a parameter of an event handler method is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ArgRole {
    Event,
    Meta,
    Ctx,
}

/// A checked `#[event_handler]` method.
pub(crate) struct EventMethod {
    pub ident: syn::Ident,
    pub is_async: bool,
    /// `E` of the `&E` parameter.
    pub event: Type,
    pub roles: Vec<ArgRole>,
    /// `Ctx` of the `&mut Ctx` parameter.
    pub ctx: Option<Type>,
    pub output: Option<Type>,
    pub cfgs: Vec<syn::Attribute>,
    pub sig_span: proc_macro2::Span,
}

impl EventMethod {
    /// A plain `fn(&mut self, &E)`: an apply method of an aggregate.
    pub(crate) fn is_apply(&self) -> bool {
        !self.is_async && self.roles.len() == 1 && self.output.is_none()
    }
}

fn is_event_meta(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p
            .path
            .segments
            .last()
            .is_some_and(|s| s.ident == "EventMeta"),
        _ => false,
    }
}

fn receiver_check(method: &Method, want: Receiver, what: &str, errors: &mut Errors) {
    if method.receiver == want {
        return;
    }
    let message = match want {
        Receiver::RefMut => format!(
            "an event handler takes `&mut self` ({what}): write `fn {}(&mut self, event: &Event)`",
            method.ident
        ),
        _ => format!(
            "a command handler takes `&self` ({what}): write `fn {}(&self, command: Command) -> Result<Events, Error>`",
            method.ident
        ),
    };
    if method.receiver == Receiver::None {
        errors.error_at(method.sig_span, message);
    } else {
        errors.error(&method.receiver_tokens, message);
    }
}

/// Checks the methods of an `#[event_handler]` impl block.
pub(crate) fn event_handler(imp: &HandlerImpl, errors: &mut Errors) -> Vec<EventMethod> {
    let mut out = Vec::new();
    if imp.methods.is_empty() {
        errors.error(
            &imp.item.self_ty,
            "this `#[event_handler]` impl has no methods: add one `fn ...(&mut self, event: &Event)` per event type it handles",
        );
    }
    for method in &imp.methods {
        receiver_check(
            method,
            Receiver::RefMut,
            "it folds the event into the state",
            errors,
        );
        if method.has_type_generics {
            errors.error_at(
                method.sig_span,
                "an event handler method cannot have type parameters: name the event type",
            );
        }
        let mut params = method.params.iter();
        let Some(first) = params.next() else {
            errors.error_at(
                method.sig_span,
                format!("this event handler has no event parameter: write `fn {}(&mut self, event: &Event)`", method.ident),
            );
            continue;
        };
        let event = match &first.ty {
            Type::Reference(r) if r.mutability.is_none() => (*r.elem).clone(),
            Type::Reference(r) => {
                errors.error(
                    r,
                    format!("take the event by shared reference: `&{}` (a handler cannot change an event that already happened)", pretty(&r.elem)),
                );
                (*r.elem).clone()
            }
            other => {
                errors.error(
                    other,
                    format!("take the event by reference: `&{}`", pretty(&other)),
                );
                other.clone()
            }
        };
        let mut roles = vec![ArgRole::Event];
        let mut ctx = None;
        for param in params {
            match &param.ty {
                Type::Reference(r) if r.mutability.is_none() && is_event_meta(&r.elem) => {
                    if roles.contains(&ArgRole::Meta) {
                        errors.error(&param.ty, "`&EventMeta` is taken twice; keep one");
                    }
                    roles.push(ArgRole::Meta);
                }
                Type::Reference(r) if r.mutability.is_some() => {
                    if ctx.is_some() {
                        errors.error(
                            &param.ty,
                            "an event handler takes at most one context parameter (`&mut Ctx`): remove this one, or put both in one struct",
                        );
                    }
                    ctx = Some((*r.elem).clone());
                    roles.push(ArgRole::Ctx);
                }
                other => {
                    errors.error(
                        other,
                        format!(
                            "unexpected parameter `{}`: after the event an event handler may take `&EventMeta` and one context `&mut Ctx` (for example a transaction), nothing else",
                            pretty(&other)
                        ),
                    );
                }
            }
        }
        out.push(EventMethod {
            ident: method.ident.clone(),
            is_async: method.is_async,
            event,
            roles,
            ctx,
            output: method.output.clone(),
            cfgs: method.cfgs.clone(),
            sig_span: method.sig_span,
        });
    }
    let mut seen: Vec<(String, &syn::Ident)> = Vec::new();
    for method in &out {
        let key = pretty(&method.event);
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
            errors.error(
                &method.event,
                format!(
                    "`{key}` already has a handler (`{first}`); keep one handler per event type"
                ),
            );
        }
        seen.push((key, &method.ident));
    }
    mixed_block(&out, errors);
    let mut ctx: Option<&Type> = None;
    for method in &out {
        if let Some(this) = &method.ctx {
            match ctx {
                Some(first)
                    if first.to_token_stream().to_string()
                        != this.to_token_stream().to_string() =>
                {
                    errors.error(
                        this,
                        format!(
                            "all handlers of one impl block take the same context type; an earlier handler takes `&mut {}`",
                            pretty(&first)
                        ),
                    );
                }
                Some(_) => {}
                None => ctx = Some(this),
            }
        }
    }
    out
}

/// Why a method is not a plain apply method `fn(&mut self, &E)`, if it is not.
fn not_apply_because(method: &EventMethod) -> Option<&'static str> {
    if method.is_async {
        Some("it is `async`")
    } else if method.output.is_some() {
        Some("it returns a value")
    } else if method.roles.contains(&ArgRole::Meta) {
        Some("it takes `&EventMeta`")
    } else if method.roles.contains(&ArgRole::Ctx) {
        Some("it takes a context parameter")
    } else {
        None
    }
}

/// A block is either an aggregate's apply methods (every method a plain `fn(&mut self, &E)`) or
/// a read model's handlers. The macro cannot see whether the type is an aggregate, so a block
/// that mixes both shapes is an error on each method that is not plain: otherwise one `async`
/// or `Result` by mistake would silently turn an aggregate's apply block into a read model.
fn mixed_block(methods: &[EventMethod], errors: &mut Errors) {
    let Some(plain) = methods.iter().find(|m| m.is_apply()) else {
        return;
    };
    for method in methods {
        if let Some(because) = not_apply_because(method) {
            errors.error_at(
                method.sig_span,
                format!(
                    "`{}` is not a plain apply method ({because}), but `{}` in the same `#[event_handler]` block is. An aggregate's apply methods are all `fn {}(&mut self, event: &{})`: not `async`, no return type, no `&EventMeta`, no context. If this block is a read model, give every method the read-model shape (for example add `_: &EventMeta` to `{}`) or put them in separate types",
                    method.ident,
                    plain.ident,
                    method.ident,
                    pretty(&method.event),
                    plain.ident,
                ),
            );
        }
    }
}

/// A checked `#[command_handler]` method.
pub(crate) struct CommandMethod {
    pub ident: syn::Ident,
    pub is_async: bool,
    pub command: Type,
    pub output: CommandOutput,
    pub cfgs: Vec<syn::Attribute>,
    /// For a `#[command]` method: the command struct to declare.
    pub inline: Option<InlineFields>,
}

/// The command struct of a `#[command]` method: its name, visibility, docs and fields (the
/// method's parameters).
pub(crate) struct InlineFields {
    pub name: syn::Ident,
    pub vis: syn::Visibility,
    pub docs: Vec<syn::Attribute>,
    pub fields: Vec<(syn::Ident, Type)>,
}

/// `open_account` -> `OpenAccount`.
fn upper_camel(ident: &syn::Ident) -> syn::Ident {
    let text = syn::ext::IdentExt::unraw(ident).to_string();
    let mut out = String::new();
    for part in text.split('_').filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    syn::Ident::new(&out, ident.span())
}

/// The command struct of a `#[command]` method, or `None` after reporting why it cannot be.
fn inline_command(method: &Method, errors: &mut Errors) -> Option<InlineFields> {
    let inline = match method.inline_command.as_ref()? {
        Ok(inline) => inline,
        Err(error) => {
            errors.push(error.clone());
            return None;
        }
    };
    let mut fields = Vec::new();
    let mut ok = true;
    for param in &method.params {
        match (&param.name, &param.ty) {
            (_, Type::Reference(r)) => {
                errors.error(
                    r,
                    format!(
                        "a `#[command]` method's parameters become the fields of the command, which owns them: take an owned value instead of `{}` (`String` for `&str`, `Vec<T>` for `&[T]`, `T` for `&T`)",
                        pretty(r)
                    ),
                );
                ok = false;
            }
            (Some(name), ty) => fields.push((name.clone(), ty.clone())),
            (None, ty) => {
                errors.error(
                    ty,
                    "a `#[command]` method's parameters become the fields of the command: give this one a plain name (`amount: i64`)",
                );
                ok = false;
            }
        }
    }
    ok.then(|| InlineFields {
        name: inline
            .name
            .clone()
            .unwrap_or_else(|| upper_camel(&method.ident)),
        vis: method.vis.clone(),
        docs: method.docs.clone(),
        fields,
    })
}

/// The return type of a command handler.
pub(crate) enum CommandOutput {
    /// `Result<Ok, Err>` written out.
    Split { ok: Box<Type>, err: Box<Type> },
    /// A `Result` alias with fewer arguments (`Result<Withdrawn>`): split through a trait.
    Alias(Box<Type>),
}

fn result_args(ty: &Type) -> Option<CommandOutput> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return Some(CommandOutput::Alias(Box::new(ty.clone())));
    };
    let types: Vec<Type> = args
        .args
        .iter()
        .filter_map(|a| match a {
            GenericArgument::Type(t) => Some(t.clone()),
            _ => None,
        })
        .collect();
    match <[Type; 2]>::try_from(types) {
        Ok([ok, err]) => Some(CommandOutput::Split {
            ok: Box::new(ok),
            err: Box::new(err),
        }),
        Err(_) => Some(CommandOutput::Alias(Box::new(ty.clone()))),
    }
}

/// The hint every "this is not a command handler" message ends with.
fn helper_hint(method: &Method, self_ty: &Type) -> String {
    format!(
        "every method of a `#[command_handler]` block is a command handler; if `{}` is a helper, move it to a plain `impl {} {{ ... }}` block",
        method.ident,
        pretty(self_ty)
    )
}

/// Checks the methods of a `#[command_handler]` impl block.
pub(crate) fn command_handler(imp: &HandlerImpl, errors: &mut Errors) -> Vec<CommandMethod> {
    let mut out = Vec::new();
    if imp.methods.is_empty() {
        errors.error(
            &imp.item.self_ty,
            "this `#[command_handler]` impl has no methods: add one `fn ...(&self, command: Command) -> Result<Events, Error>` per command type",
        );
    }
    for method in &imp.methods {
        receiver_check(
            method,
            Receiver::Ref,
            "the state changes only through the events it returns",
            errors,
        );
        if method.has_type_generics {
            errors.error_at(
                method.sig_span,
                "a command handler method cannot have type parameters: name the command type",
            );
        }
        let inline = inline_command(method, errors);
        if method.inline_command.is_some() && inline.is_none() {
            continue;
        }
        let command = match method.params.as_slice() {
            _ if inline.is_some() => {
                let name = inline.as_ref().map(|i| &i.name);
                syn::parse_quote!(#name)
            }
            [one] => match &one.ty {
                Type::Reference(r) => {
                    errors.error(
                        r,
                        format!("take the command by value: `{}`", pretty(&r.elem)),
                    );
                    (*r.elem).clone()
                }
                ty => ty.clone(),
            },
            [] => {
                errors.error_at(
                    method.sig_span,
                    format!(
                        "this command handler has no command parameter: write `fn {}(&self, command: Command) -> Result<Events, Error>`; {}",
                        method.ident,
                        helper_hint(method, &imp.item.self_ty)
                    ),
                );
                continue;
            }
            [_, extra @ ..] => {
                for p in extra {
                    errors.error(
                        &p.ty,
                        format!(
                            "unexpected parameter: a command handler takes exactly one command (`fn ...(&self, command: Command)`); put everything it needs into the command type; {}",
                            helper_hint(method, &imp.item.self_ty)
                        ),
                    );
                }
                continue;
            }
        };
        let Some(output) = &method.output else {
            errors.error_at(
                method.sig_span,
                format!("a command handler returns `Result<Events, Error>`: add `-> Result<{}Event, YourError>` (use `Vec<_>` for several events, `()` for none)", ""),
            );
            continue;
        };
        let Some(output) = result_args(output) else {
            errors.error(
                output,
                format!(
                    "a command handler returns `Result<Events, Error>`: write `-> Result<{}, YourError>` (use `std::convert::Infallible` if it never fails); {}",
                    pretty(&output),
                    helper_hint(method, &imp.item.self_ty)
                ),
            );
            continue;
        };
        out.push(CommandMethod {
            ident: method.ident.clone(),
            is_async: method.is_async,
            command,
            output,
            cfgs: method.cfgs.clone(),
            inline,
        });
    }
    let mut seen: Vec<(String, &syn::Ident)> = Vec::new();
    for method in &out {
        let key = pretty(&method.command);
        if let Some((_, first)) = seen.iter().find(|(k, _)| *k == key) {
            errors.error(
                &method.command,
                format!("`{key}` already has a command handler (`{first}`); keep one handler per command type"),
            );
        }
        seen.push((key, &method.ident));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::pretty;

    #[test]
    fn types_print_as_written() {
        let cases: [(syn::Type, &str); 5] = [
            (syn::parse_quote!(Vec<Deposited>), "Vec<Deposited>"),
            (
                syn::parse_quote!(&mut Tx<'_, Postgres>),
                "&mut Tx<'_, Postgres>",
            ),
            (
                syn::parse_quote!(Result<Vec<Option<A>>, E>),
                "Result<Vec<Option<A>>, E>",
            ),
            (
                syn::parse_quote!(std::vec::Vec<(A, B)>),
                "std::vec::Vec<(A, B)>",
            ),
            (syn::parse_quote!(&dyn Fn(u8) -> u8), "&dyn Fn(u8) -> u8"),
        ];
        for (ty, expected) in cases {
            assert_eq!(pretty(&ty), expected);
        }
    }
}
