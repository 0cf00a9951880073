//! Code generation for `#[event_handler]`: `Apply<E>` impls for an aggregate's apply methods and
//! an `EventHandler<Ctx>` impl over exactly the handled event types.

use crate::ast::HandlerImpl;
use crate::errors::Errors;
use crate::expand_event::default_crate;
use crate::valid::{self, ArgRole, EventMethod};
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{GenericParam, Generics, ItemImpl, Lifetime, LifetimeParam, Type};

/// Entry point of `#[event_handler]`.
pub(crate) fn event_handler(args: TokenStream, item: ItemImpl) -> TokenStream {
    let mut errors = Errors::default();
    let imp = HandlerImpl::parse("event_handler", args, item, &mut errors);
    let methods = valid::event_handler(&imp, &mut errors);
    let original = &imp.item;
    let krate = imp.args.krate.clone().unwrap_or_else(default_crate);
    if let Err(error) = errors.finish() {
        // Still declare the apply impls the user meant (with empty bodies), so the aggregate's
        // own checks do not add "no handler" errors on top of the real mistake.
        let mut seen = Vec::new();
        let meant: Vec<EventMethod> = methods
            .into_iter()
            .filter(|m| !m.is_async && m.output.is_none())
            .filter(|m| {
                let key = m.event.to_token_stream().to_string();
                let new = !seen.contains(&key);
                seen.push(key);
                new
            })
            .collect();
        let placeholders = if meant.is_empty() {
            TokenStream::new()
        } else {
            apply_impls(&imp.item, &meant, &krate, true)
        };
        let error = error.into_compile_error();
        return quote! {
            #original
            #error
            const _: () = {
                #placeholders
            };
        };
    }
    let apply = if methods.iter().all(EventMethod::is_apply) {
        apply_impls(&imp.item, &methods, &krate, false)
    } else {
        TokenStream::new()
    };
    let handler = event_handler_impl(&imp.item, &methods, &krate);
    quote! {
        #original
        const _: () = {
            #apply
            #handler
        };
    }
}

fn apply_impls(
    item: &ItemImpl,
    methods: &[EventMethod],
    krate: &syn::Path,
    placeholder: bool,
) -> TokenStream {
    let self_ty = &item.self_ty;
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    let impls = methods.iter().map(|m| {
        let (event, ident) = (&m.event, &m.ident);
        let body = if placeholder {
            quote!(let _ = event;)
        } else {
            quote!(Self::#ident(self, event))
        };
        quote_spanned! {event.span()=>
            #[automatically_derived]
            impl #impl_generics #krate::Apply<#event> for #self_ty #where_clause {
                #[inline]
                fn apply(&mut self, event: &#event) {
                    #body
                }
            }
        }
    });
    let list = methods.iter().rev().fold(quote!(()), |tail, m| {
        let event = &m.event;
        quote!((#event, #tail))
    });
    quote! {
        #(#impls)*

        #[automatically_derived]
        impl #impl_generics #krate::__private::AppliedEvents for #self_ty #where_clause {
            type List = #list;
        }
    }
}

/// Replaces `'_` in a context type by fresh named lifetimes, so the impl covers every lifetime.
struct NameLifetimes {
    declared: Vec<Lifetime>,
    added: Vec<Lifetime>,
}

impl VisitMut for NameLifetimes {
    fn visit_lifetime_mut(&mut self, lifetime: &mut Lifetime) {
        if lifetime.ident == "_" {
            let fresh = Lifetime::new(&format!("'__es_ctx{}", self.added.len()), Span::call_site());
            *lifetime = fresh.clone();
            self.added.push(fresh);
        } else if lifetime.ident != "static"
            && !self.declared.iter().any(|d| d.ident == lifetime.ident)
            && !self.added.iter().any(|d| d.ident == lifetime.ident)
        {
            self.added.push(lifetime.clone());
        }
    }

    fn visit_type_reference_mut(&mut self, reference: &mut syn::TypeReference) {
        if reference.lifetime.is_none() {
            let fresh = Lifetime::new(&format!("'__es_ctx{}", self.added.len()), Span::call_site());
            reference.lifetime = Some(fresh.clone());
            self.added.push(fresh);
        }
        syn::visit_mut::visit_type_reference_mut(self, reference);
    }
}

fn event_handler_impl(item: &ItemImpl, methods: &[EventMethod], krate: &syn::Path) -> TokenStream {
    let self_ty = &item.self_ty;
    let mut generics: Generics = item.generics.clone();
    let ctx_ty: Type = match methods.iter().find_map(|m| m.ctx.clone()) {
        Some(mut ctx) => {
            let mut namer = NameLifetimes {
                declared: generics.lifetimes().map(|l| l.lifetime.clone()).collect(),
                added: Vec::new(),
            };
            namer.visit_type_mut(&mut ctx);
            for (i, lifetime) in namer.added.into_iter().enumerate() {
                generics
                    .params
                    .insert(i, GenericParam::Lifetime(LifetimeParam::new(lifetime)));
            }
            ctx
        }
        None => {
            generics
                .params
                .push(syn::parse_quote!(__EsCtx: ::core::marker::Send + ?::core::marker::Sized));
            syn::parse_quote!(__EsCtx)
        }
    };
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    let events: Vec<&Type> = methods.iter().map(|m| &m.event).collect();
    let branches = methods.iter().map(|m| {
        let (event, ident) = (&m.event, &m.ident);
        let args = m.roles.iter().map(|role| match role {
            ArgRole::Event => quote!(&decoded.event),
            ArgRole::Meta => quote!(&decoded.meta),
            ArgRole::Ctx => quote!(&mut *ctx),
        });
        let call = if m.is_async {
            quote!(Self::#ident(self, #(#args),*).await)
        } else {
            quote!(Self::#ident(self, #(#args),*))
        };
        let convert = match &m.output {
            Some(output) => quote_spanned! {output.span()=>
                <#output as #krate::IntoHandlerResult>::into_handler_result
            },
            None => quote!(<() as #krate::IntoHandlerResult>::into_handler_result),
        };
        quote! {
            if <#event as #krate::DomainEvent>::handles(event_type) {
                let decoded = event.decode::<#event>()?;
                return #convert(#call);
            }
        }
    });
    quote! {
        #[#krate::__private::async_trait]
        #[automatically_derived]
        impl #impl_generics #krate::EventHandler<#ctx_ty> for #self_ty #where_clause {
            fn event_types(&self) -> ::std::vec::Vec<&'static str> {
                let mut names: ::std::vec::Vec<&'static str> = ::std::vec::Vec::new();
                #(
                    for name in <#events as #krate::DomainEvent>::event_types() {
                        if !names.contains(&name) {
                            names.push(name);
                        }
                    }
                )*
                names
            }

            async fn handle(
                &mut self,
                event: &#krate::RecordedEvent,
                ctx: &mut #ctx_ty,
            ) -> ::core::result::Result<(), #krate::HandlerError> {
                let event_type = event.meta.event_type.as_str();
                #(#branches)*
                let _ = ctx;
                ::core::result::Result::Ok(())
            }
        }
    }
}
