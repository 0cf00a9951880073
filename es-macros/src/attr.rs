//! Parsing of the `#[event(...)]`, `#[aggregate(...)]` and handler attribute arguments.

use crate::errors::Errors;
use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::parse::ParseStream;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{Attribute, Expr, ExprLit, Lit, LitInt, LitStr, Path, Token, Type};

/// A `u32`/`u64` literal with its span.
#[derive(Clone, Copy)]
pub(crate) struct Number<T> {
    pub value: T,
    pub span: Span,
}

/// `#[event(...)]` on an event struct or an event set.
#[derive(Default)]
pub(crate) struct EventAttr {
    pub name: Option<LitStr>,
    pub version: Option<Number<u32>>,
    pub aliases: Vec<LitStr>,
    pub upcasts: Vec<Upcast>,
    pub krate: Option<Path>,
    /// The first key that only makes sense on a struct (for the error on enums).
    pub struct_only_key: Option<Span>,
}

/// One `upcast(from = K, with = f)` or `upcast(from = K, via = Type)`.
pub(crate) struct Upcast {
    pub span: Span,
    pub from: Option<Number<u32>>,
    pub step: Option<Step>,
}

/// How an upcast step turns version K into K + 1.
pub(crate) enum Step {
    With(Path),
    Via(Type),
}

/// `#[aggregate(...)]`.
#[derive(Default)]
pub(crate) struct AggregateAttr {
    pub name: Option<LitStr>,
    pub events: Option<Type>,
    pub snapshot_every: Option<Number<u64>>,
    pub snapshot_version: Option<Number<u32>>,
    pub ignore: Vec<Type>,
    pub krate: Option<Path>,
    /// The first `#[aggregate(...)]` attribute's contents, to point errors at.
    pub tokens: Option<proc_macro2::TokenStream>,
}

/// The arguments of `#[event_handler(...)]` / `#[command_handler(...)]`.
#[derive(Default)]
pub(crate) struct HandlerArgs {
    pub krate: Option<Path>,
}

fn key_name(meta: &ParseNestedMeta<'_>) -> String {
    meta.path
        .get_ident()
        .map(|i| i.to_string())
        .unwrap_or_else(|| {
            let path = &meta.path;
            quote::quote!(#path).to_string()
        })
}

/// Consumes the value of an unknown key so parsing can go on and report more errors.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<proc_macro2::TokenStream>()?;
    }
    Ok(())
}

/// A number literal; `example` is a whole `key = value` the error message shows.
fn parse_number<T: std::str::FromStr>(
    meta: &ParseNestedMeta<'_>,
    example: &str,
) -> syn::Result<Number<T>>
where
    T::Err: std::fmt::Display,
{
    let lit: LitInt = meta.value()?.parse().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("expected a number without quotes, for example `{example}`"),
        )
    })?;
    Ok(Number {
        value: lit.base10_parse()?,
        span: lit.span(),
    })
}

fn parse_str(meta: &ParseNestedMeta<'_>, example: &str) -> syn::Result<LitStr> {
    meta.value()?.parse::<LitStr>().map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("expected a string, for example `{example}`"),
        )
    })
}

fn parse_crate(meta: &ParseNestedMeta<'_>) -> syn::Result<Path> {
    let value = meta.value()?;
    if value.peek(LitStr) {
        let lit: LitStr = value.parse()?;
        lit.parse()
    } else {
        value.parse()
    }
}

/// Parses every `#[event(...)]` attribute of a type.
pub(crate) fn event_attr(attrs: &[Attribute], errors: &mut Errors) -> EventAttr {
    let mut out = EventAttr::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("event")) {
        let result = attr.parse_nested_meta(|meta| {
            let key = key_name(&meta);
            match key.as_str() {
                "name" => {
                    out.struct_only_key.get_or_insert(meta.path.span());
                    let lit = parse_str(&meta, "name = \"account.opened\"")?;
                    if out.name.is_some() {
                        errors.error(&meta.path, "`name` is given twice; keep one");
                    }
                    out.name = Some(lit);
                }
                "version" => {
                    out.struct_only_key.get_or_insert(meta.path.span());
                    let number = parse_number(&meta, "version = 2")?;
                    if out.version.is_some() {
                        errors.error(&meta.path, "`version` is given twice; keep one");
                    }
                    out.version = Some(number);
                }
                "aliases" => {
                    out.struct_only_key.get_or_insert(meta.path.span());
                    let value = meta.value()?;
                    out.aliases.extend(parse_aliases(value)?);
                }
                "upcast" => {
                    out.struct_only_key.get_or_insert(meta.path.span());
                    out.upcasts.push(parse_upcast(&meta, errors)?);
                }
                "crate" => out.krate = Some(parse_crate(&meta)?),
                _ => {
                    errors.error(
                        &meta.path,
                        format!(
                            "unknown key `{key}` in `#[event(...)]`; expected `name = \"...\"`, `version = N`, `aliases = [\"...\"]`, `upcast(from = N, with = function)`, `upcast(from = N, via = OlderType)` or `crate = path`"
                        ),
                    );
                    skip_value(&meta)?;
                }
            }
            Ok(())
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    out
}

fn parse_aliases(input: ParseStream<'_>) -> syn::Result<Vec<LitStr>> {
    let content;
    syn::bracketed!(content in input);
    let items = Punctuated::<Expr, Token![,]>::parse_terminated(&content)?;
    items
        .into_iter()
        .map(|item| match item {
            Expr::Lit(ExprLit {
                lit: Lit::Str(s), ..
            }) => Ok(s),
            other => Err(syn::Error::new_spanned(
                other,
                "an alias is a string: `aliases = [\"old.name\"]`",
            )),
        })
        .collect()
}

fn parse_upcast(meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<Upcast> {
    let mut upcast = Upcast {
        span: meta.path.span(),
        from: None,
        step: None,
    };
    meta.parse_nested_meta(|inner| {
        let key = key_name(&inner);
        match key.as_str() {
            "from" => upcast.from = Some(parse_number(&inner, "from = 1")?),
            "with" | "via" => {
                if upcast.step.is_some() {
                    errors.error(
                        &inner.path,
                        "an upcast step has either `with = function` or `via = OlderType`, not both",
                    );
                }
                let value = inner.value()?;
                upcast.step = Some(if key == "with" {
                    Step::With(value.parse()?)
                } else {
                    Step::Via(value.parse()?)
                });
            }
            _ => {
                errors.error(
                    &inner.path,
                    format!(
                        "unknown key `{key}` in `upcast(...)`; expected `from = N` and either `with = function` or `via = OlderType`"
                    ),
                );
                skip_value(&inner)?;
            }
        }
        Ok(())
    })?;
    Ok(upcast)
}

/// Records a key of `#[aggregate(...)]`, or an error when it was already given.
fn set_once<T>(slot: &mut Option<T>, value: T, meta: &ParseNestedMeta<'_>, errors: &mut Errors) {
    if slot.is_some() {
        errors.error(
            &meta.path,
            format!(
                "`{}` is given twice in `#[aggregate(...)]`; keep one",
                key_name(meta)
            ),
        );
    } else {
        *slot = Some(value);
    }
}

/// Parses the `#[aggregate(...)]` attribute of a type. A second one is an error (it would
/// silently override keys of the first, such as the `name` every stream id starts with).
pub(crate) fn aggregate_attr(attrs: &[Attribute], errors: &mut Errors) -> AggregateAttr {
    let mut out = AggregateAttr::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("aggregate")) {
        if out.tokens.is_some() {
            errors.error(
                attr,
                "a second `#[aggregate(...)]` attribute: write all keys in one, `#[aggregate(name = \"...\", events = EventSet, ...)]`",
            );
        }
        out.tokens
            .get_or_insert_with(|| quote::ToTokens::to_token_stream(&attr.meta));
        let result = attr.parse_nested_meta(|meta| {
            let key = key_name(&meta);
            match key.as_str() {
                "name" => {
                    let value = parse_str(&meta, "name = \"account\"")?;
                    set_once(&mut out.name, value, &meta, errors);
                }
                "events" => {
                    let value = meta.value()?.parse()?;
                    set_once(&mut out.events, value, &meta, errors);
                }
                "snapshot_every" => {
                    let value = parse_number(&meta, "snapshot_every = 100")?;
                    set_once(&mut out.snapshot_every, value, &meta, errors);
                }
                "snapshot_version" => {
                    let value = parse_number(&meta, "snapshot_version = 2")?;
                    set_once(&mut out.snapshot_version, value, &meta, errors);
                }
                "ignore" => {
                    let content;
                    syn::parenthesized!(content in meta.input);
                    out.ignore
                        .extend(Punctuated::<Type, Token![,]>::parse_terminated(&content)?);
                }
                "crate" => {
                    let value = parse_crate(&meta)?;
                    set_once(&mut out.krate, value, &meta, errors);
                }
                _ => {
                    errors.error(
                        &meta.path,
                        format!(
                            "unknown key `{key}` in `#[aggregate(...)]`; expected `name = \"...\"`, `events = EventSet`, `snapshot_every = N`, `snapshot_version = N`, `ignore(Event, ...)` or `crate = path`"
                        ),
                    );
                    skip_value(&meta)?;
                }
            }
            Ok(())
        });
        if let Err(error) = result {
            errors.push(error);
        }
    }
    out
}

/// Parses the arguments of `#[event_handler(...)]` or `#[command_handler(...)]`.
pub(crate) fn handler_args(
    macro_name: &str,
    args: proc_macro2::TokenStream,
    errors: &mut Errors,
) -> HandlerArgs {
    let mut out = HandlerArgs::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("crate") {
            out.krate = Some(parse_crate(&meta)?);
        } else {
            errors.error(
                &meta.path,
                format!(
                    "unknown argument `{}` of `#[{macro_name}]`; the only argument is `crate = path` (for a renamed `es-core` dependency)",
                    key_name(&meta)
                ),
            );
            skip_value(&meta)?;
        }
        Ok(())
    });
    if let Err(error) = syn::parse::Parser::parse2(parser, args) {
        errors.push(error);
    }
    out
}
