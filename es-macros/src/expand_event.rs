//! Code generation for `#[derive(DomainEvent)]`: `Event` for a struct, `DomainEvent` for a set.

use crate::ast::{EventInput, EventSet, EventStruct};
use crate::attr::Step;
use crate::errors::Errors;
use crate::valid;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{DeriveInput, Path};

pub(crate) fn default_crate() -> Path {
    syn::parse_quote!(::es_core)
}

/// Entry point of `#[derive(DomainEvent)]`.
pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let parsed = EventInput::parse(input, &mut errors);
    let tag_fields = crate::tags::tag_fields(input, &mut errors);
    let personal_fields = crate::personal::personal_fields(input, &mut errors);
    let given = match &parsed {
        Some(EventInput::Struct(s)) => s.attr.krate.is_some(),
        Some(EventInput::Set(s)) => s.attr.krate.is_some(),
        None => true,
    };
    crate::crate_path::check_renamed(given, "#[event(crate = {})]", &mut errors);
    match &parsed {
        Some(EventInput::Struct(s)) => valid::event_struct(s, &mut errors),
        Some(EventInput::Set(s)) => valid::event_set(s, &mut errors),
        None => {}
    }
    let checked = errors.finish();
    // A struct with a wrong attribute still gets its impls (without upcasting), so its uses do
    // not add errors on top of the real one.
    let code = match parsed {
        // A borrowing event has no impls at all: its error says why it cannot be an event.
        Some(EventInput::Struct(s)) if s.input.generics.lifetimes().next().is_some() => {
            TokenStream::new()
        }
        Some(EventInput::Struct(mut s)) => {
            if checked.is_err() {
                s.attr.upcasts.clear();
            }
            event_struct(&s, &tag_fields, &personal_fields)
        }
        Some(EventInput::Set(s)) if checked.is_ok() => event_set(&s),
        _ => TokenStream::new(),
    };
    Ok(match checked {
        Ok(()) => code,
        Err(error) => {
            let error = error.into_compile_error();
            quote!(#error #code)
        }
    })
}

/// The lifetime parameters of `generics`, and the others.
fn split_params(generics: &syn::Generics) -> (Vec<&syn::GenericParam>, Vec<&syn::GenericParam>) {
    generics
        .params
        .iter()
        .partition(|p| matches!(p, syn::GenericParam::Lifetime(_)))
}

fn event_struct(
    event: &EventStruct<'_>,
    tag_fields: &[crate::tags::TagField],
    personal_fields: &[crate::personal::PersonalField],
) -> TokenStream {
    let krate = event.attr.krate.clone().unwrap_or_else(default_crate);
    let tags = crate::tags::tags_fn(&krate, tag_fields);
    let personal = crate::personal::personal_items(&krate, personal_fields);
    let ident = &event.input.ident;
    let (impl_generics, ty_generics, where_clause) = event.input.generics.split_for_impl();
    let name = match &event.attr.name {
        Some(name) => quote!(#name),
        None => {
            let name = syn::ext::IdentExt::unraw(ident).to_string();
            quote!(#name)
        }
    };
    let version = event.attr.version.map_or(1, |v| v.value);
    let aliases = &event.attr.aliases;
    // Lifetimes first: generic parameters must be declared in that order.
    let (lifetimes, params) = split_params(&event.input.generics);
    // Like serde's derives: a generic event is an event whenever its parameters allow it.
    let event_where = if event.input.generics.params.is_empty() {
        quote!(#where_clause)
    } else {
        let mut generics = event.input.generics.clone();
        let clause = generics.make_where_clause();
        clause.predicates.push(syn::parse_quote!(
            Self: #krate::__private::serde::Serialize
                + #krate::__private::serde::de::DeserializeOwned
                + ::core::marker::Send
                + ::core::marker::Sync
                + 'static
        ));
        let clause = &*clause;
        quote!(#clause)
    };
    let mut steps: Vec<_> = event
        .attr
        .upcasts
        .iter()
        .filter_map(|u| Some((u.from?.value, u.step.as_ref()?)))
        .collect();
    steps.sort_by_key(|(from, _)| *from);
    let upcast = if steps.is_empty() {
        TokenStream::new()
    } else {
        let arms = steps.iter().map(|(from, step)| match step {
            Step::With(path) => {
                // Imported, so the call's first token (and the error spans) can be the user's path.
                let call = quote_spanned!(path.span()=> upcast_with(#from, #path, payload));
                quote!(#from => {
                    use #krate::__private::upcast_with;
                    #call
                })
            }
            Step::Via(older) => {
                let next = steps
                    .iter()
                    .find_map(|(f, s)| match s {
                        Step::Via(t) if *f == from + 1 => Some(quote!(#t)),
                        _ => None,
                    })
                    .unwrap_or_else(|| quote_spanned!(older.span()=> Self));
                let call =
                    quote_spanned!(older.span()=> upcast_via::<#older, #next>(#from, payload));
                quote!(#from => {
                    use #krate::__private::upcast_via;
                    #call
                })
            }
        });
        quote! {
            fn upcast(
                from: u32,
                payload: #krate::__private::serde_json::Value,
            ) -> ::core::result::Result<(u32, #krate::__private::serde_json::Value), #krate::DecodeErrorKind> {
                match from {
                    #(#arms)*
                    _ => ::core::result::Result::Err(#krate::DecodeErrorKind::MissingUpcast { from }),
                }
            }
        }
    };
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #impl_generics #krate::Event for #ident #ty_generics #event_where {
                const NAME: &'static str = #name;
                const VERSION: u32 = #version;
                const ALIASES: &'static [&'static str] = &[#(#aliases),*];
                #upcast
                #tags
                #personal
            }

            // `IntoEvents<Self>` and `Contains<Self>` of an event are blanket impls in es-core
            // (`T: Event`): fewer items for the compiler to check per event. `ApplyEach` stays
            // here: as a blanket impl, a missing apply method would no longer be reported as
            // the missing `Apply<E>` (rustc reports the leaf only with a single candidate impl).
            #[automatically_derived]
            impl<#(#lifetimes,)* __EsState: ?::core::marker::Sized + #krate::Apply<#ident #ty_generics>, #(#params),*>
                #krate::__private::ApplyEach<__EsState> for #ident #ty_generics #where_clause
            {
                #[inline]
                fn apply_each(&self, state: &mut __EsState) {
                    #krate::Apply::<#ident #ty_generics>::apply(state, self)
                }
            }
        };
    }
}

fn event_set(set: &EventSet<'_>) -> TokenStream {
    let krate = set.attr.krate.clone().unwrap_or_else(default_crate);
    let ident = &set.input.ident;
    let generics = &set.input.generics;
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let (lifetimes, params) = split_params(generics);
    let target = ident.to_string();
    let variants: Vec<_> = set.variants.iter().map(|v| &v.ident).collect();
    let types: Vec<_> = set.variants.iter().map(|v| &v.ty).collect();
    let assert_events = types
        .iter()
        .map(|ty| quote_spanned!(ty.span()=> #krate::__private::assert_event_struct::<<#ty as #krate::__private::VariantKind>::Kind>();));
    let name_check = distinct_names_check(set, &krate);
    // A generic set's check is a constant of a generic impl: evaluated when the set is used with
    // concrete types (each generated method below names it, so any use of the set does).
    let (name_check, use_check) = if generics.params.is_empty() {
        (quote!(const _: () = #name_check;), TokenStream::new())
    } else {
        (
            quote! {
                #[automatically_derived]
                impl #impl_generics #krate::__private::DistinctNames for #ident #ty_generics #where_clause {
                    const CHECK: () = #name_check;
                }
            },
            quote!(let () = <Self as #krate::__private::DistinctNames>::CHECK;),
        )
    };
    quote! {
        const _: () = {
            #[allow(dead_code)]
            fn __es_assert_events #impl_generics () #where_clause {
                #(#assert_events)*
            }

            #name_check

            #[automatically_derived]
            impl #impl_generics #krate::__private::StoredNames for #ident #ty_generics #where_clause {
                const NAMES: &'static [(&'static str, &'static [&'static str])] = &[
                    #(<#types as #krate::__private::StoredNames>::NAMES[0],)*
                ];
            }

            #[automatically_derived]
            impl #impl_generics #krate::__private::VariantKind for #ident #ty_generics #where_clause {
                type Kind = #krate::__private::EventSet<Self>;
            }

            #[automatically_derived]
            impl #impl_generics #krate::DomainEvent for #ident #ty_generics #where_clause {
                fn event_types() -> ::std::vec::Vec<&'static str> {
                    #use_check
                    let mut names = ::std::vec::Vec::new();
                    #(::core::iter::Extend::extend(&mut names, <#types as #krate::DomainEvent>::event_types());)*
                    names
                }

                fn handles(event_type: &str) -> bool {
                    #(<#types as #krate::DomainEvent>::handles(event_type))||*
                }

                fn event_type(&self) -> &'static str {
                    match self {
                        #(Self::#variants(event) => #krate::DomainEvent::event_type(event),)*
                    }
                }

                fn schema_version(&self) -> u32 {
                    match self {
                        #(Self::#variants(event) => #krate::DomainEvent::schema_version(event),)*
                    }
                }

                fn to_payload(&self) -> ::core::result::Result<#krate::__private::serde_json::Value, #krate::__private::serde_json::Error> {
                    #use_check
                    match self {
                        #(Self::#variants(event) => #krate::DomainEvent::to_payload(event),)*
                    }
                }

                fn tags(&self) -> ::std::vec::Vec<::std::string::String> {
                    match self {
                        #(Self::#variants(event) => #krate::DomainEvent::tags(event),)*
                    }
                }

                fn from_payload(
                    event_type: &str,
                    schema_version: u32,
                    payload: #krate::__private::serde_json::Value,
                ) -> ::core::result::Result<Self, #krate::DecodeErrorKind> {
                    #use_check
                    #(
                        if <#types as #krate::DomainEvent>::handles(event_type) {
                            return <#types as #krate::DomainEvent>::from_payload(event_type, schema_version, payload)
                                .map(Self::#variants);
                        }
                    )*
                    ::core::result::Result::Err(#krate::DecodeErrorKind::UnknownType { target: #target })
                }

                fn from_json(
                    event_type: &str,
                    schema_version: u32,
                    json: &str,
                ) -> ::core::result::Result<Self, #krate::DecodeErrorKind> {
                    #use_check
                    #(
                        if <#types as #krate::DomainEvent>::handles(event_type) {
                            return <#types as #krate::DomainEvent>::from_json(event_type, schema_version, json)
                                .map(Self::#variants);
                        }
                    )*
                    ::core::result::Result::Err(#krate::DecodeErrorKind::UnknownType { target: #target })
                }
            }

            #(
                #[automatically_derived]
                impl #impl_generics ::core::convert::From<#types> for #ident #ty_generics #where_clause {
                    #[inline]
                    fn from(event: #types) -> Self {
                        Self::#variants(event)
                    }
                }

                #[automatically_derived]
                impl #impl_generics #krate::IntoEvents<#ident #ty_generics> for #types #where_clause {
                    #[inline]
                    fn into_events(self) -> ::std::vec::Vec<#ident #ty_generics> {
                        ::std::vec![#ident::#variants(self)]
                    }
                }

                #[automatically_derived]
                impl #impl_generics #krate::__private::Contains<#types> for #ident #ty_generics #where_clause {}
            )*

            #[automatically_derived]
            impl #impl_generics #krate::IntoEvents<#ident #ty_generics> for #ident #ty_generics #where_clause {
                #[inline]
                fn into_events(self) -> ::std::vec::Vec<#ident #ty_generics> {
                    ::std::vec![self]
                }
            }

            #[automatically_derived]
            impl<#(#lifetimes,)* __EsState: ?::core::marker::Sized #(+ #krate::Apply<#types>)*, #(#params),*>
                #krate::__private::ApplyEach<__EsState> for #ident #ty_generics #where_clause
            {
                #[inline]
                fn apply_each(&self, state: &mut __EsState) {
                    match self {
                        #(Self::#variants(event) => #krate::Apply::<#types>::apply(state, event),)*
                    }
                }
            }
        };
    }
}

/// The compile-time check that no two variants of a set share a stored name or alias: one
/// constant expression over all variants (not one item per pair), failing on the later variant.
fn distinct_names_check(set: &EventSet<'_>, krate: &Path) -> TokenStream {
    let types = set.variants.iter().map(|v| &v.ty);
    let names = set.variants.iter().map(|v| v.ident.to_string());
    let tail = format!(
        "` of `{}` have the same stored event name (or alias): give one of them another `#[event(name = \"...\")]`",
        set.input.ident
    );
    let arms =
        set.variants.iter().enumerate().map(
            |(j, v)| quote_spanned!(v.ty.span()=> #j => ::core::panic!("{}", message.as_str()),),
        );
    quote! {{
        let groups: &[&[(&'static str, &'static [&'static str])]] = &[
            #(<#types as #krate::__private::StoredNames>::NAMES,)*
        ];
        let variants: &[&str] = &[#(#names),*];
        if let ::core::option::Option::Some((i, j)) = #krate::__private::first_overlap(groups) {
            let message = #krate::__private::ConstMessage::new(&[
                "variants `", variants[i], "` and `", variants[j], #tail,
            ]);
            match j {
                #(#arms)*
                _ => ::core::panic!("{}", message.as_str()),
            }
        }
    }}
}
