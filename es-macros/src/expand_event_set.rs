//! `#[event_set]`: an enum whose struct variants are the events, rewritten into the two-level
//! form the other macros check (one event struct per variant, and the set of newtype variants).

use crate::attr;
use crate::errors::Errors;
use crate::expand_event::default_crate;
use proc_macro2::TokenStream;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::{Attribute, Fields, ItemEnum, Meta, Path, Token, Visibility};

/// One variant, as it is rewritten.
enum Variant<'a> {
    /// `Opened { owner: String }` or `Closed`: a new event struct named like the variant.
    New(&'a syn::Variant),
    /// `Opened(Opened)`: an event struct declared elsewhere, kept as it is.
    Existing(&'a syn::Variant),
}

/// Entry point of `#[event_set]`.
pub(crate) fn event_set(args: TokenStream, item: ItemEnum) -> TokenStream {
    let mut errors = Errors::default();
    let args = attr::handler_args("event_set", args, &mut errors);
    let krate = args.krate.clone().unwrap_or_else(default_crate);
    crate::crate_path::check_renamed(
        args.krate.is_some(),
        "#[event_set(crate = {})]",
        &mut errors,
    );
    let variants = parse_variants(&item, &mut errors);
    if let Err(error) = errors.finish() {
        let error = error.into_compile_error();
        return quote!(#error);
    }
    let (derives, other_attrs) = split_derives(&item.attrs);
    let vis = &item.vis;
    let krate_str = quote!(#krate).to_string().replace(' ', "");
    let serde_crate = format!("{krate_str}::__private::serde");
    let krate_arg = args.krate.as_ref().map(|k| quote!(#[event(crate = #k)]));
    let structs = variants.iter().filter_map(|v| match v {
        Variant::New(v) => Some(event_struct(
            v,
            vis,
            &derives,
            &krate,
            &serde_crate,
            &krate_arg,
        )),
        Variant::Existing(_) => None,
    });
    let enum_variants = variants.iter().map(|v| match v {
        Variant::New(v) => {
            let ident = &v.ident;
            let cfgs = v.attrs.iter().filter(|a| a.path().is_ident("cfg"));
            // The variant is documented like its struct (crates that deny missing docs).
            let docs: Vec<_> = v
                .attrs
                .iter()
                .filter(|a| a.path().is_ident("doc"))
                .collect();
            let doc = if docs.is_empty() {
                let text = format!("The event [`{ident}`].");
                quote!(#[doc = #text])
            } else {
                quote!(#(#docs)*)
            };
            quote!(#(#cfgs)* #doc #ident(#ident),)
        }
        Variant::Existing(v) => quote!(#v,),
    });
    let ident = &item.ident;
    let generics = &item.generics;
    let where_clause = &generics.where_clause;
    quote! {
        #(#structs)*

        #[derive(#(#derives,)* #krate::DomainEvent)]
        #krate_arg
        #(#other_attrs)*
        #vis enum #ident #generics #where_clause {
            #(#enum_variants)*
        }
    }
}

fn parse_variants<'a>(item: &'a ItemEnum, errors: &mut Errors) -> Vec<Variant<'a>> {
    if item.variants.is_empty() {
        errors.error(
            &item.ident,
            "an event set needs at least one event: add a variant `Opened { owner: String }`",
        );
    }
    if !item.generics.params.is_empty() {
        errors.error(
            &item.generics,
            "`#[event_set]` declares its events inline and cannot be generic: declare generic events as structs with `#[derive(DomainEvent)]` and list them as `Added(Added<T>)` in an enum with `#[derive(DomainEvent)]`",
        );
    }
    item.variants
        .iter()
        .filter_map(|v| {
            if let Some((_, discriminant)) = &v.discriminant {
                errors.error(
                    discriminant,
                    "an event has no discriminant: remove `= ...` (events are stored by name)",
                );
            }
            match &v.fields {
                Fields::Named(_) | Fields::Unit => Some(Variant::New(v)),
                Fields::Unnamed(f) if f.unnamed.len() == 1 => {
                    if let Some(attr) = v.attrs.iter().find(|a| a.path().is_ident("event")) {
                        errors.error(
                            attr,
                            format!(
                                "`{}(...)` wraps an event struct declared elsewhere, whose `#[event(...)]` is on that struct: move this attribute there, or declare the event here as `{} {{ ... }}`",
                                v.ident, v.ident
                            ),
                        );
                    }
                    Some(Variant::Existing(v))
                }
                Fields::Unnamed(f) => {
                    errors.error(
                        f,
                        format!(
                            "an event's payload is a JSON object of named fields: write `{} {{ name: Type, ... }}`, or `{}(Event)` for an event struct declared elsewhere",
                            v.ident, v.ident
                        ),
                    );
                    None
                }
            }
        })
        .collect()
}

/// The paths of the enum's `#[derive(...)]` (except `DomainEvent`, added once), and its other
/// attributes.
fn split_derives(attrs: &[Attribute]) -> (Vec<Path>, Vec<&Attribute>) {
    let mut derives = Vec::new();
    let mut others = Vec::new();
    for attr in attrs {
        if attr.path().is_ident("derive")
            && let Ok(paths) = attr.parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
        {
            derives.extend(
                paths
                    .into_iter()
                    .filter(|p| p.segments.last().is_none_or(|s| s.ident != "DomainEvent")),
            );
            continue;
        }
        others.push(attr);
    }
    (derives, others)
}

/// The event struct of a variant: the variant's fields (with the set's visibility), its
/// attributes (`#[event(...)]`, docs, `#[serde(...)]`, `#[cfg(...)]`), the set's derives plus
/// `Serialize`, `Deserialize` and `DomainEvent`.
fn event_struct(
    variant: &syn::Variant,
    vis: &Visibility,
    derives: &[Path],
    krate: &Path,
    serde_crate: &str,
    krate_arg: &Option<TokenStream>,
) -> TokenStream {
    let ident = &variant.ident;
    let attrs = &variant.attrs;
    // Serialize and Deserialize are added below (with serde's path through es-core).
    let derives = derives.iter().filter(|p| {
        p.segments
            .last()
            .is_none_or(|s| s.ident != "Serialize" && s.ident != "Deserialize")
    });
    let fields = match &variant.fields {
        Fields::Named(named) => named
            .named
            .iter()
            .map(|f| {
                let mut f = f.clone();
                if matches!(f.vis, Visibility::Inherited) {
                    f.vis = vis.clone();
                }
                f
            })
            .collect(),
        _ => Vec::new(),
    };
    // Serde's derives name their crate by this path, so the user's crate needs no `serde`.
    let serde_path = quote!(#krate::__private::serde);
    let doc = format!("The event `{ident}` (declared with `#[event_set]`).");
    let has_doc = attrs
        .iter()
        .any(|a| matches!(&a.meta, Meta::NameValue(nv) if nv.path.is_ident("doc")));
    let default_doc = (!has_doc).then(|| quote!(#[doc = #doc]));
    quote! {
        #default_doc
        #[derive(#(#derives,)* #serde_path::Serialize, #serde_path::Deserialize, #krate::DomainEvent)]
        #[serde(crate = #serde_crate)]
        #(#attrs)*
        #krate_arg
        #vis struct #ident {
            #(#fields,)*
        }
    }
}
