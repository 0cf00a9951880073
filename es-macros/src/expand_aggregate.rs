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
    crate::crate_path::check_renamed(
        agg.attr.krate.is_some(),
        "#[aggregate(crate = {}, ...)]",
        &mut errors,
    );
    let checked = errors.finish();
    // A struct with a wrong key still gets its impl, so its uses do not add errors on top.
    let (Some(events), syn::Data::Struct(_)) = (&agg.attr.events, &input.data) else {
        return checked.map(|()| TokenStream::new());
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
    // The generated locals get one span everywhere they appear, so a derive produced by a
    // `macro_rules!` macro (whose tokens carry other hygiene contexts) still resolves them.
    let event = syn::Ident::new("event", proc_macro2::Span::call_site());
    let state = syn::Ident::new("state", proc_macro2::Span::call_site());
    let this = quote!(self);
    let apply = quote_spanned! {events.span()=>
        <<Self as #krate::__private::AppliedEvents>::Mode as #krate::__private::Dispatch<Self, #events>>::dispatch(#this, #event)
    };
    let check_handlers = quote_spanned! {events.span()=>
        #krate::__private::assert_all_in::<<#ident #ty_generics as #krate::__private::AppliedEvents>::List, #events>();
    };
    let snapshot = agg.attr.snapshot_every.map(|every| {
        let n = every.value;
        let version = agg.attr.snapshot_version.map_or(1, |v| v.value);
        // Spanned on the number, so a state without serde is reported at `snapshot_every`.
        let to = quote_spanned!(every.span=> #krate::__private::to_snapshot::<Self>(#this));
        let from = quote_spanned!(every.span=> #krate::__private::from_snapshot::<Self>(#state));
        quote! {
            const SNAPSHOT_EVERY: u64 = #n;
            const SNAPSHOT_VERSION: u32 = #version;

            fn to_snapshot(&#this) -> ::core::option::Option<::core::result::Result<#krate::__private::serde_json::Value, #krate::__private::serde_json::Error>> {
                #to
            }

            fn from_snapshot(#state: #krate::__private::serde_json::Value) -> ::core::option::Option<::core::result::Result<Self, #krate::__private::serde_json::Error>> {
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
    // An ignored event must be in the set (checked by stored name, as a constant: a generic
    // aggregate's set is only known per use, and its unused `Apply` impl is harmless).
    let ignored_in_set = agg.attr.ignore.iter().filter(|_| input.generics.params.is_empty()).map(|ty| {
        let message = format!(
            "`{}` is not an event of `{}`, so `ignore({})` has nothing to ignore: remove it from `ignore(...)`, or add a variant `{}({})` to the set",
            valid::pretty(ty),
            valid::pretty(events),
            valid::pretty(ty),
            valid::pretty(ty),
            valid::pretty(ty),
        );
        quote_spanned! {ty.span()=>
            const _: () = if !#krate::__private::has_name(
                <#events as #krate::__private::StoredNames>::NAMES,
                <#ty as #krate::Event>::NAME,
            ) {
                ::core::panic!(#message)
            };
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
            fn apply(&mut #this, #event: &Self::Event) {
                #apply
            }
        }
    };
    let error = checked.err().map(syn::Error::into_compile_error);
    Ok(quote! {
        #error
        const _: () = {
            #aggregate_impl

            #(#ignored)*

            #(#ignored_in_set)*

            #[allow(dead_code)]
            fn __es_check_handlers #impl_generics () #where_clause {
                #check_handlers
            }
        };
    })
}
