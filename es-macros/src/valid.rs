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

/// Checks an event struct's attribute: version, aliases and the upcast chain.
pub(crate) fn event_struct(event: &EventStruct<'_>, errors: &mut Errors) {
    let attr = &event.attr;
    let version = attr.version.map_or(1, |v| v.value);
    if let Some(v) = attr.version.filter(|v| v.value == 0) {
        errors.error_at(
            v.span,
            "schema versions start at 1: write `version = 1` (or leave it out) for an event that never changed shape",
        );
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

/// A checked `#[command_handler]` method.
pub(crate) struct CommandMethod {
    pub ident: syn::Ident,
    pub is_async: bool,
    pub command: Type,
    pub ok: Type,
    pub err: Type,
}

fn result_args(ty: &Type) -> Option<(Type, Type)> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|a| match a {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    });
    let ok = types.next()?;
    let err = types.next()?;
    Some((ok, err))
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
        let command = match method.params.as_slice() {
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
                    format!("this command handler has no command parameter: write `fn {}(&self, command: Command) -> Result<Events, Error>`", method.ident),
                );
                continue;
            }
            [_, extra @ ..] => {
                for p in extra {
                    errors.error(
                        &p.ty,
                        "unexpected parameter: a command handler takes exactly one command (`fn ...(&self, command: Command)`); put everything it needs into the command type",
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
        let Some((ok, err)) = result_args(output) else {
            errors.error(
                output,
                format!(
                    "a command handler returns `Result<Events, Error>`: write `-> Result<{}, YourError>` (use `std::convert::Infallible` if it never fails)",
                    pretty(&output)
                ),
            );
            continue;
        };
        out.push(CommandMethod {
            ident: method.ident.clone(),
            is_async: method.is_async,
            command,
            ok,
            err,
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
