//! The parsed model of each macro input: event structs and sets, aggregates, handler impl blocks.

use crate::attr::{self, AggregateAttr, EventAttr, HandlerArgs};
use crate::errors::Errors;
use syn::{
    Data, DeriveInput, Fields, FnArg, Ident, ImplItem, ImplItemFn, ItemImpl, ReturnType, Type,
    TypeReference,
};

/// `#[derive(DomainEvent)]` on a struct: one event type.
pub(crate) struct EventStruct<'a> {
    pub input: &'a DeriveInput,
    pub attr: EventAttr,
}

/// `#[derive(DomainEvent)]` on an enum: an event set.
pub(crate) struct EventSet<'a> {
    pub input: &'a DeriveInput,
    pub attr: EventAttr,
    pub variants: Vec<SetVariant>,
}

/// One newtype variant `Ident(Type)` of an event set.
pub(crate) struct SetVariant {
    pub ident: Ident,
    pub ty: Type,
}

/// What `#[derive(DomainEvent)]` was put on.
pub(crate) enum EventInput<'a> {
    Struct(EventStruct<'a>),
    Set(EventSet<'a>),
}

impl<'a> EventInput<'a> {
    pub(crate) fn parse(input: &'a DeriveInput, errors: &mut Errors) -> Option<Self> {
        let attr = attr::event_attr(&input.attrs, errors);
        match &input.data {
            Data::Struct(data) => {
                match &data.fields {
                    Fields::Named(_) => {}
                    Fields::Unnamed(fields) => errors.error(
                        fields,
                        format!(
                            "an event is a struct with named fields (its payload is a JSON object): write `struct {} {{ name: Type, ... }}`",
                            input.ident
                        ),
                    ),
                    Fields::Unit => errors.error(
                        &input.ident,
                        format!(
                            "an event is a struct with named fields (its payload is a JSON object): for an event without data write `struct {} {{}}`",
                            input.ident
                        ),
                    ),
                }
                Some(EventInput::Struct(EventStruct { input, attr }))
            }
            Data::Enum(data) => {
                let mut variants = Vec::new();
                for variant in &data.variants {
                    match &variant.fields {
                        Fields::Unnamed(fields) if fields.unnamed.len() == 1 => {
                            variants.push(SetVariant {
                                ident: variant.ident.clone(),
                                ty: fields.unnamed[0].ty.clone(),
                            });
                        }
                        _ => errors.error(
                            variant,
                            format!(
                                "a variant of an event set wraps exactly one event struct: write `{0}({0})` and `#[derive(DomainEvent)] struct {0} {{ ... }}`",
                                variant.ident
                            ),
                        ),
                    }
                    if let Some((_, discriminant)) = &variant.discriminant {
                        errors.error(discriminant, "remove the discriminant: event sets are stored by event names, not numbers");
                    }
                }
                if data.variants.is_empty() {
                    errors.error(
                        &input.ident,
                        "an event set needs at least one variant: `enum Events { Opened(Opened), ... }`",
                    );
                }
                Some(EventInput::Set(EventSet {
                    input,
                    attr,
                    variants,
                }))
            }
            Data::Union(data) => {
                errors.error(
                    data.union_token,
                    "`DomainEvent` cannot be derived for a union: use a struct (one event) or an enum of newtype variants (an event set)",
                );
                None
            }
        }
    }
}

/// `#[derive(Aggregate)]`.
pub(crate) struct AggregateInput<'a> {
    pub input: &'a DeriveInput,
    pub attr: AggregateAttr,
}

impl<'a> AggregateInput<'a> {
    pub(crate) fn parse(input: &'a DeriveInput, errors: &mut Errors) -> Self {
        let attr = attr::aggregate_attr(&input.attrs, errors);
        AggregateInput { input, attr }
    }
}

/// The receiver of a handler method.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Receiver {
    None,
    Value,
    Ref,
    RefMut,
}

/// One parameter after the receiver.
pub(crate) struct Param {
    pub ty: Type,
    /// The name, when the pattern is a plain identifier (`amount: i64`).
    pub name: Option<Ident>,
}

/// `#[command]` or `#[command(Name)]` on a command handler method: its parameters are the
/// fields of a command struct the macro declares.
pub(crate) struct InlineCommand {
    pub name: Option<Ident>,
}

/// A method of an `#[event_handler]` or `#[command_handler]` impl block, before checking.
pub(crate) struct Method {
    pub ident: Ident,
    pub is_async: bool,
    pub receiver: Receiver,
    pub receiver_tokens: proc_macro2::TokenStream,
    pub params: Vec<Param>,
    pub output: Option<Type>,
    pub has_type_generics: bool,
    pub sig_span: proc_macro2::Span,
    /// The method's `#[cfg(...)]` attributes, repeated on everything generated for it.
    pub cfgs: Vec<syn::Attribute>,
    /// `#[command]` on the method, if any.
    pub inline_command: Option<syn::Result<InlineCommand>>,
    pub vis: syn::Visibility,
    pub docs: Vec<syn::Attribute>,
}

/// An impl block under an attribute macro.
pub(crate) struct HandlerImpl {
    pub item: ItemImpl,
    pub args: HandlerArgs,
    pub methods: Vec<Method>,
}

impl HandlerImpl {
    pub(crate) fn parse(
        macro_name: &str,
        args: proc_macro2::TokenStream,
        item: ItemImpl,
        errors: &mut Errors,
    ) -> Self {
        let args = attr::handler_args(macro_name, args, errors);
        if let Some((_, path, _)) = &item.trait_ {
            errors.error(
                path,
                format!("`#[{macro_name}]` goes on an inherent impl block (`impl Type {{ ... }}`), not on a trait impl"),
            );
        }
        let methods = item
            .items
            .iter()
            .filter_map(|i| match i {
                ImplItem::Fn(f) => Some(Method::from_fn(f)),
                _ => None,
            })
            .collect();
        HandlerImpl {
            item,
            args,
            methods,
        }
    }
}

impl Method {
    fn from_fn(f: &ImplItemFn) -> Self {
        use quote::ToTokens;
        let sig = &f.sig;
        let mut receiver = Receiver::None;
        let mut receiver_tokens = proc_macro2::TokenStream::new();
        let mut params = Vec::new();
        for input in &sig.inputs {
            match input {
                FnArg::Receiver(r) => {
                    receiver_tokens = r.to_token_stream();
                    receiver = match (&r.reference, r.mutability) {
                        (None, _) if !matches!(*r.ty, Type::Reference(_)) => Receiver::Value,
                        (Some(_), Some(_)) => Receiver::RefMut,
                        (Some(_), None) => Receiver::Ref,
                        (None, _) => match &*r.ty {
                            Type::Reference(TypeReference {
                                mutability: Some(_),
                                ..
                            }) => Receiver::RefMut,
                            _ => Receiver::Ref,
                        },
                    };
                }
                FnArg::Typed(t) => params.push(Param {
                    ty: (*t.ty).clone(),
                    name: match &*t.pat {
                        syn::Pat::Ident(p) if p.subpat.is_none() => Some(p.ident.clone()),
                        _ => None,
                    },
                }),
            }
        }
        let has_type_generics = sig
            .generics
            .params
            .iter()
            .any(|p| !matches!(p, syn::GenericParam::Lifetime(_)));
        Method {
            ident: sig.ident.clone(),
            is_async: sig.asyncness.is_some(),
            receiver,
            receiver_tokens,
            params,
            output: match &sig.output {
                ReturnType::Default => None,
                ReturnType::Type(_, ty) => Some((**ty).clone()),
            },
            has_type_generics,
            sig_span: sig.ident.span(),
            cfgs: f
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("cfg"))
                .cloned()
                .collect(),
            inline_command: f
                .attrs
                .iter()
                .find(|a| a.path().is_ident("command"))
                .map(|a| {
                    let name = match &a.meta {
                        syn::Meta::Path(_) => None,
                        _ => Some(a.parse_args::<Ident>().map_err(|e| {
                            syn::Error::new(
                                e.span(),
                                "expected the command type's name: `#[command]` (named after the method) or `#[command(Deposit)]`",
                            )
                        })?),
                    };
                    Ok(InlineCommand { name })
                }),
            vis: f.vis.clone(),
            docs: f
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("doc"))
                .cloned()
                .collect(),
        }
    }
}
