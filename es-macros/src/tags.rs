//! `#[tag]` fields of `#[derive(DomainEvent)]` structs: parsed here, expanded into
//! `Event::tags`. A field marked `#[tag]` gives the tag `<field name>:<value>`, one marked
//! `#[tag("course")]` gives `course:<value>` (the value through `Display`).

use crate::errors::Errors;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Fields, LitStr, Member};

/// One field marked `#[tag]`.
pub(crate) struct TagField {
    member: Member,
    kind: String,
    ty: syn::Type,
}

/// The tag fields of an event struct; `#[tag]` anywhere else is an error.
pub(crate) fn tag_fields(input: &DeriveInput, errors: &mut Errors) -> Vec<TagField> {
    let mut fields = Vec::new();
    match &input.data {
        Data::Struct(data) => {
            for (i, field) in data.fields.iter().enumerate() {
                let attrs: Vec<&Attribute> = field
                    .attrs
                    .iter()
                    .filter(|a| a.path().is_ident("tag"))
                    .collect();
                let Some(first) = attrs.first() else { continue };
                for extra in &attrs[1..] {
                    errors.error(extra, "a field is one tag: remove this second `#[tag]`");
                }
                let member = match (&field.ident, &data.fields) {
                    (Some(ident), _) => Member::Named(ident.clone()),
                    (None, Fields::Unnamed(_)) => Member::Unnamed(i.into()),
                    (None, _) => continue,
                };
                let default_kind = field
                    .ident
                    .as_ref()
                    .map(|i| syn::ext::IdentExt::unraw(i).to_string())
                    .unwrap_or_default();
                if let Some(kind) = tag_kind(first, default_kind, errors) {
                    fields.push(TagField {
                        member,
                        kind,
                        ty: field.ty.clone(),
                    });
                }
            }
        }
        Data::Enum(data) => {
            for attr in data
                .variants
                .iter()
                .flat_map(|v| v.attrs.iter().chain(v.fields.iter().flat_map(|f| &f.attrs)))
                .filter(|a| a.path().is_ident("tag"))
            {
                errors.error(
                    attr,
                    "`#[tag]` marks a field of an event struct; an event set takes the tags of its variants' events: move it onto the field of the event struct",
                );
            }
        }
        Data::Union(_) => {}
    }
    fields
}

/// `#[tag]` (the field's name) or `#[tag("kind")]`.
fn tag_kind(attr: &Attribute, default_kind: String, errors: &mut Errors) -> Option<String> {
    let kind = match &attr.meta {
        syn::Meta::Path(_) => default_kind,
        syn::Meta::List(list) => match list.parse_args::<LitStr>() {
            Ok(lit) => {
                let kind = lit.value();
                if kind.is_empty() || kind.contains(':') || kind.chars().any(char::is_control) {
                    errors.error(
                        &lit,
                        "a tag kind is a non-empty name without `:` or control characters, e.g. `#[tag(\"course\")]`",
                    );
                    return None;
                }
                kind
            }
            Err(_) => {
                errors.error(
                    &list.tokens,
                    "write `#[tag]` (the tag is `<field name>:<value>`) or `#[tag(\"kind\")]` (the tag is `kind:<value>`)",
                );
                return None;
            }
        },
        syn::Meta::NameValue(nv) => {
            errors.error(
                nv,
                "write `#[tag]` (the tag is `<field name>:<value>`) or `#[tag(\"kind\")]` (the tag is `kind:<value>`)",
            );
            return None;
        }
    };
    Some(kind)
}

/// The `fn tags` of the `Event` impl (nothing if no field is a tag).
pub(crate) fn tags_fn(krate: &syn::Path, fields: &[TagField]) -> TokenStream {
    if fields.is_empty() {
        return TokenStream::new();
    }
    let tags = fields.iter().map(|f| {
        let (member, kind, ty) = (&f.member, &f.kind, &f.ty);
        let value = quote_spanned!(ty.span()=> #krate::__private::tag_value::<#ty>(&self.#member));
        quote!(#krate::dcb::tag(#kind, #value))
    });
    quote! {
        fn tags(&self) -> ::std::vec::Vec<::std::string::String> {
            ::std::vec![#(#tags),*]
        }
    }
}
