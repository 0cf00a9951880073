//! `#[personal(subject = field)]` fields of `#[derive(DomainEvent)]` structs: stored encrypted with
//! the key of the subject named by another field (see `es_core::personal`). Parsed and checked
//! here, expanded into `Event::PERSONAL`, `personal_subjects` and `erased_value`.

use crate::errors::Errors;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Attribute, Data, DeriveInput, Fields, Ident, LitStr};

/// One field marked `#[personal(subject = ...)]`.
pub(crate) struct PersonalField {
    ident: Ident,
    key: String,
    subject: Ident,
    ty: syn::Type,
}

/// The payload key of a field: its `#[serde(rename = "...")]`, else its name.
fn payload_key(field: &syn::Field, ident: &Ident) -> String {
    let mut key = syn::ext::IdentExt::unraw(ident).to_string();
    for attr in field.attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let _ = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("rename") {
                if let Ok(value) = meta.value()
                    && let Ok(lit) = value.parse::<LitStr>()
                {
                    key = lit.value();
                }
            } else if meta.input.peek(syn::Token![=]) {
                let _: syn::Expr = meta.value()?.parse()?;
            } else if meta.input.peek(syn::token::Paren) {
                meta.parse_nested_meta(|_| Ok(()))?;
            }
            Ok(())
        });
    }
    key
}

/// The subject of `#[personal(subject = field)]`, or an error saying what to write.
fn subject_of(attr: &Attribute, errors: &mut Errors) -> Option<Ident> {
    const WRITE: &str = "write `#[personal(subject = field)]`, naming the field that holds the data subject's id (e.g. `#[personal(subject = user_id)]`)";
    let mut subject = None;
    let parsed = attr.parse_nested_meta(|meta| {
        if meta.path.is_ident("subject") {
            let value = meta.value()?;
            if value.peek(LitStr) {
                let lit: LitStr = value.parse()?;
                return Err(syn::Error::new(
                    lit.span(),
                    format!(
                        "the subject is a field name, not a string: write `subject = {}`",
                        lit.value()
                    ),
                ));
            }
            let ident: Ident = value.parse()?;
            subject = Some(ident);
            Ok(())
        } else {
            Err(meta.error(format!("unknown key: {WRITE}")))
        }
    });
    match (parsed, subject) {
        (Err(e), _) if !matches!(attr.meta, syn::Meta::Path(_)) => {
            errors.push(e);
            None
        }
        (_, Some(subject)) => Some(subject),
        _ => {
            errors.error(attr, format!("personal data needs a subject: {WRITE}"));
            None
        }
    }
}

/// The personal fields of an event struct, checked; `#[personal]` anywhere else is an error.
pub(crate) fn personal_fields(input: &DeriveInput, errors: &mut Errors) -> Vec<PersonalField> {
    let mut found = Vec::new();
    match &input.data {
        Data::Struct(data) => {
            let Fields::Named(named) = &data.fields else {
                return found;
            };
            for field in &named.named {
                let Some(ident) = &field.ident else { continue };
                let attrs: Vec<&Attribute> = field
                    .attrs
                    .iter()
                    .filter(|a| a.path().is_ident("personal"))
                    .collect();
                let Some(first) = attrs.first() else { continue };
                for extra in &attrs[1..] {
                    errors.error(extra, "a field has one `#[personal(...)]`: remove this one");
                }
                if let Some(subject) = subject_of(first, errors) {
                    found.push(PersonalField {
                        ident: ident.clone(),
                        key: payload_key(field, ident),
                        subject,
                        ty: field.ty.clone(),
                    });
                }
            }
            let names: Vec<&Ident> = named
                .named
                .iter()
                .filter_map(|f| f.ident.as_ref())
                .collect();
            let personal: Vec<Ident> = found.iter().map(|f| f.ident.clone()).collect();
            found.retain(|field| {
                let ok = names.contains(&&field.subject) && !personal.contains(&field.subject);
                if !names.contains(&&field.subject) {
                    errors.error(
                        &field.subject,
                        format!(
                            "`{}` is not a field of `{}`: the subject is a field of the same event that holds the data subject's id, e.g. `user_id: String`",
                            field.subject, input.ident
                        ),
                    );
                } else if personal.contains(&field.subject) {
                    errors.error(
                        &field.subject,
                        format!(
                            "`{}` is personal data itself, so it cannot name the subject: the subject's id is stored in plaintext to find its key; name a field that is not `#[personal]`",
                            field.subject
                        ),
                    );
                }
                ok
            });
        }
        Data::Enum(data) => {
            for attr in data
                .variants
                .iter()
                .flat_map(|v| v.attrs.iter().chain(v.fields.iter().flat_map(|f| &f.attrs)))
                .filter(|a| a.path().is_ident("personal"))
            {
                errors.error(
                    attr,
                    "`#[personal(...)]` marks a field of an event struct; an event set encrypts what its variants' events mark: move it onto the field of the event struct",
                );
            }
        }
        Data::Union(_) => {}
    }
    found
}

/// The personal items of the `Event` impl (nothing if no field is personal).
pub(crate) fn personal_items(krate: &syn::Path, fields: &[PersonalField]) -> TokenStream {
    if fields.is_empty() {
        return TokenStream::new();
    }
    let keys = fields.iter().map(|f| &f.key);
    let subjects = fields.iter().map(|f| {
        let subject = &f.subject;
        quote_spanned!(subject.span()=> #krate::__private::tag_value(&self.#subject))
    });
    let erased = fields.iter().map(|f| {
        let (key, ty) = (&f.key, &f.ty);
        let default = quote_spanned!(ty.span()=> #krate::__private::erased_value::<#ty>());
        quote!(#key => #default,)
    });
    quote! {
        const PERSONAL: &'static [&'static str] = &[#(#keys),*];

        fn personal_subjects(&self) -> ::std::vec::Vec<::std::string::String> {
            ::std::vec![#(#subjects),*]
        }

        fn erased_value(field: &str) -> #krate::__private::serde_json::Value {
            match field {
                #(#erased)*
                _ => #krate::__private::serde_json::Value::Null,
            }
        }
    }
}
