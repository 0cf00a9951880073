//! Code generation for `#[derive(Aggregate)]`.

use crate::ast::AggregateInput;
use crate::errors::Errors;
use crate::expand_event::default_crate;
use crate::valid;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::DeriveInput;
use syn::spanned::Spanned;

/// Entry point of `#[derive(Aggregate)]`.
pub(crate) fn derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let mut errors = Errors::default();
    let agg = AggregateInput::parse(input, &mut errors);
    valid::aggregate(&agg, &mut errors);
    errors.finish()?;
    let Some(events) = &agg.attr.events else {
        return Ok(TokenStream::new());
    };
    let krate = agg.attr.krate.clone().unwrap_or_else(default_crate);
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let name = match &agg.attr.name {
        Some(name) => quote!(#name),
        None => {
            let name = syn::ext::IdentExt::unraw(ident).to_string();
            quote!(#name)
        }
    };
    let apply = quote_spanned! {events.span()=>
        <#events as #krate::__private::ApplyEach<Self>>::apply_each(event, self)
    };
    let check_handlers = quote_spanned! {events.span()=>
        #krate::__private::assert_all_in::<<#ident #ty_generics as #krate::__private::AppliedEvents>::List, #events>();
    };
    let snapshot = agg.attr.snapshot_every.map(|every| {
        let n = every.value;
        let version = agg.attr.snapshot_version.map_or(1, |v| v.value);
        let to = quote_spanned!(every.span=> #krate::__private::to_snapshot(self));
        let from = quote_spanned!(every.span=> #krate::__private::from_snapshot(state));
        quote! {
            const SNAPSHOT_EVERY: u64 = #n;
            const SNAPSHOT_VERSION: u32 = #version;

            fn to_snapshot(&self) -> ::core::option::Option<::core::result::Result<#krate::__private::serde_json::Value, #krate::__private::serde_json::Error>> {
                #to
            }

            fn from_snapshot(state: #krate::__private::serde_json::Value) -> ::core::option::Option<::core::result::Result<Self, #krate::__private::serde_json::Error>> {
                #from
            }
        }
    });
    let ignored = agg.attr.ignore.iter().map(|ty| {
        quote_spanned! {ty.span()=>
            #[automatically_derived]
            impl #impl_generics #krate::Apply<#ty> for #ident #ty_generics #where_clause {
                #[inline(always)]
                fn apply(&mut self, event: &#ty) {
                    #krate::__private::ignore(self, event)
                }
            }
        }
    });
    // Spanned on the type's name: an unmet supertrait bound (a generic parameter that is not
    // `Send`, ...) is reported once, there, instead of also on the derive.
    let aggregate_impl = quote_spanned! {ident.span()=>
        #[automatically_derived]
        impl #impl_generics #krate::Aggregate for #ident #ty_generics #where_clause {
            const NAME: &'static str = #name;
            #snapshot
            type Event = #events;

            #[inline]
            fn apply(&mut self, event: &Self::Event) {
                #apply
            }
        }
    };
    Ok(quote! {
        const _: () = {
            #aggregate_impl

            #(#ignored)*

            #[allow(dead_code)]
            fn __es_check_handlers #impl_generics () #where_clause {
                #check_handlers
            }
        };
    })
}
