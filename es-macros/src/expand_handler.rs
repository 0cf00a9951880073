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
    crate::crate_path::check_renamed(
        imp.args.krate.is_some(),
        "#[event_handler(crate = {})]",
        &mut errors,
    );
    let original = &imp.item;
    let krate = imp.args.krate.clone().unwrap_or_else(default_crate);
    if let Err(error) = errors.finish() {
        // Still declare the apply impls the user meant (with empty bodies), so the aggregate's
        // own checks do not add "no handler" errors on top of the real mistake.
        let mut seen = Vec::new();
        let meant: Vec<EventMethod> = methods
            .into_iter()
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
        read_model_marker(&imp.item, &krate)
    };
    // An apply block (without `#[cfg]`'d methods, which its type list leaves out) handles
    // events through its type list: a few lines whatever the number of events.
    let handler = if methods.iter().all(|m| m.is_apply() && m.cfgs.is_empty()) {
        apply_list_handler_impl(&imp.item, &krate)
    } else {
        event_handler_impl(&imp.item, &methods, &krate)
    };
    let overlap = overlap_check(&imp.item, &methods, &krate);
    quote! {
        #original
        const _: () = {
            #apply
            #handler
            #overlap
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
        let (event, ident, cfgs) = (&m.event, &m.ident, &m.cfgs);
        let body = if placeholder {
            quote!(let _ = event;)
        } else {
            quote!(Self::#ident(self, event))
        };
        quote_spanned! {event.span()=>
            #(#cfgs)*
            #[automatically_derived]
            impl #impl_generics #krate::Apply<#event> for #self_ty #where_clause {
                #[inline]
                fn apply(&mut self, event: &#event) {
                    #body
                }
            }
        }
    });
    // A `#[cfg]`'d method is left out of the list the aggregate checks against its set (a type
    // list cannot be cfg'd per element); its `Apply` impl carries the cfg.
    let list = methods
        .iter()
        .rev()
        .filter(|m| m.cfgs.is_empty())
        .fold(quote!(()), |tail, m| {
            let event = &m.event;
            quote!((#event, #tail))
        });
    quote! {
        #(#impls)*

        #[automatically_derived]
        impl #impl_generics #krate::__private::AppliedEvents for #self_ty #where_clause {
            type List = #list;
            type Mode = #krate::__private::ApplyBlock;
        }
    }
}

/// A read model's block (not every method is a plain apply method): an aggregate that has it as
/// its apply block fails with the message of `AppliedEvents`' marker instead of "no handler".
fn read_model_marker(item: &ItemImpl, krate: &syn::Path) -> TokenStream {
    let self_ty = &item.self_ty;
    let (impl_generics, _, where_clause) = item.generics.split_for_impl();
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::__private::AppliedEvents for #self_ty #where_clause {
            type List = #krate::__private::ReadModelBlock;
            type Mode = #krate::__private::ReadModelBlock;
        }
    }
}

/// A compile-time check that no handler of the block is dead: the first method whose event type
/// matches runs, so a handler whose every event an earlier one already receives (an event after
/// its whole set, two events with one stored name) would never run. A handler of one event
/// before the whole set is fine: the set's handler gets the others. One constant over all
/// handlers; left out for generic blocks and `#[cfg]`'d methods.
fn overlap_check(item: &ItemImpl, methods: &[EventMethod], krate: &syn::Path) -> TokenStream {
    let methods: Vec<&EventMethod> = methods.iter().filter(|m| m.cfgs.is_empty()).collect();
    if !item.generics.params.is_empty() || methods.len() < 2 {
        return TokenStream::new();
    }
    let events = methods.iter().map(|m| &m.event);
    let handlers = methods.iter().map(|m| {
        format!(
            "`{}` (`&{}`)",
            syn::ext::IdentExt::unraw(&m.ident),
            valid::pretty(&m.event)
        )
    });
    let arms = methods.iter().enumerate().map(
        |(j, m)| quote_spanned!(m.event.span()=> #j => ::core::panic!("{}", message.as_str()),),
    );
    quote! {
        const _: () = {
            let groups: &[&[(&'static str, &'static [&'static str])]] = &[
                #(<#events as #krate::__private::StoredNames>::NAMES,)*
            ];
            let handlers: &[&str] = &[#(#handlers),*];
            if let ::core::option::Option::Some((i, j)) = #krate::__private::first_shadowed(groups) {
                let message = #krate::__private::ConstMessage::new(&[
                    "the handler ", handlers[j], " never runs: the earlier handler ", handlers[i],
                    " already receives its events (the first matching method of an `#[event_handler]` block runs). Remove it and handle its events in the earlier handler; or, if the earlier one takes a whole event set, move this one above it to handle its event on its own; or, if two event types share a stored name, give one of them another `#[event(name = \"...\")]`",
                ]);
                match j {
                    #(#arms)*
                    _ => ::core::panic!("{}", message.as_str()),
                }
            }
        };
    }
}

/// The `EventHandler<Ctx>` impl of an apply block, for every `Ctx`: walks the block's
/// `AppliedEvents::List`.
fn apply_list_handler_impl(item: &ItemImpl, krate: &syn::Path) -> TokenStream {
    let self_ty = &item.self_ty;
    let mut generics: Generics = item.generics.clone();
    generics
        .params
        .push(syn::parse_quote!(__EsCtx: ::core::marker::Send + ?::core::marker::Sized));
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    let list = quote!(<Self as #krate::__private::AppliedEvents>::List);
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::EventHandler<__EsCtx> for #self_ty #where_clause {
            fn event_types(&self) -> ::std::vec::Vec<&'static str> {
                #krate::__private::apply_list_names::<Self, #list>()
            }

            fn handle<'__es_self, '__es_event, '__es_ctx, '__es_async>(
                &'__es_self mut self,
                event: &'__es_event #krate::RecordedEvent,
                ctx: &'__es_ctx mut __EsCtx,
            ) -> ::core::pin::Pin<::std::boxed::Box<
                dyn ::core::future::Future<Output = ::core::result::Result<(), #krate::HandlerError>>
                    + ::core::marker::Send
                    + '__es_async,
            >>
            where
                '__es_self: '__es_async,
                '__es_event: '__es_async,
                '__es_ctx: '__es_async,
                Self: '__es_async,
            {
                let _ = ctx;
                let result = #krate::__private::apply_list_handle::<Self, #list>(self, event);
                ::std::boxed::Box::pin(::core::future::ready(result))
            }
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

/// Whether a context type names a type without its generic arguments (`Tx` for `struct
/// Tx<'c>`): an impl header cannot name it (`E0726`), so the impl is generic over the context and
/// reaches the methods through a dispatcher function, whose parameter may elide the lifetime.
fn names_bare_path(ctx: &Type, generics: &Generics) -> bool {
    struct Bare<'g> {
        generics: &'g Generics,
        found: bool,
    }
    impl VisitMut for Bare<'_> {
        fn visit_type_path_mut(&mut self, path: &mut syn::TypePath) {
            let last = path.path.segments.last();
            if path.qself.is_none()
                && last.is_some_and(|s| s.arguments.is_none())
                && !self
                    .generics
                    .type_params()
                    .any(|p| path.path.is_ident(&p.ident))
                && !path.path.is_ident("Self")
            {
                self.found = true;
            }
            syn::visit_mut::visit_type_path_mut(self, path);
        }
    }
    let mut bare = Bare {
        generics,
        found: false,
    };
    bare.visit_type_mut(&mut ctx.clone());
    bare.found
}

fn event_handler_impl(item: &ItemImpl, methods: &[EventMethod], krate: &syn::Path) -> TokenStream {
    let self_ty = &item.self_ty;
    let mut generics: Generics = item.generics.clone();
    // The context as one method writes it with all its arguments if any does; else, in a block of
    // plain methods (an `async fn` cannot elide a lifetime anyway: rustc's E0726 at the user's
    // parameter), through a dispatcher.
    let ctxs: Vec<&Type> = methods.iter().filter_map(|m| m.ctx.as_ref()).collect();
    let ctx = match ctxs.iter().find(|ctx| !names_bare_path(ctx, &generics)) {
        Some(ctx) => Some((*ctx).clone()),
        None if methods.iter().all(|m| !m.is_async) && !ctxs.is_empty() => {
            return dispatcher_handler_impl(item, methods, ctxs[0], krate);
        }
        None => ctxs.first().map(|ctx| (*ctx).clone()),
    };
    let ctx_ty: Type = match ctx {
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
    let branches = branches(methods, quote!(Self), quote!(self), krate);
    let name_loops = name_loops(methods, krate);
    // The signature `#[async_trait]` gives the trait's method, written out with absolute paths
    // (the expansion of `#[async_trait]` itself names `Box`, which `#![no_implicit_prelude]`
    // crates do not have).
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::EventHandler<#ctx_ty> for #self_ty #where_clause {
            fn event_types(&self) -> ::std::vec::Vec<&'static str> {
                let mut names: ::std::vec::Vec<&'static str> = ::std::vec::Vec::new();
                #(#name_loops)*
                names
            }

            fn handle<'__es_self, '__es_event, '__es_ctx, '__es_async>(
                &'__es_self mut self,
                event: &'__es_event #krate::RecordedEvent,
                ctx: &'__es_ctx mut #ctx_ty,
            ) -> ::core::pin::Pin<::std::boxed::Box<
                dyn ::core::future::Future<Output = ::core::result::Result<(), #krate::HandlerError>>
                    + ::core::marker::Send
                    + '__es_async,
            >>
            where
                '__es_self: '__es_async,
                '__es_event: '__es_async,
                '__es_ctx: '__es_async,
                Self: '__es_async,
            {
                ::std::boxed::Box::pin(async move {
                    let event_type = event.meta.event_type.as_str();
                    #(#branches)*
                    let _ = ctx;
                    ::core::result::Result::Ok(())
                })
            }
        }
    }
}

fn branches<'m>(
    methods: &'m [EventMethod],
    owner: TokenStream,
    this: TokenStream,
    krate: &'m syn::Path,
) -> impl Iterator<Item = TokenStream> + 'm {
    methods.iter().map(move |m| {
        let (event, ident, cfgs) = (&m.event, &m.ident, &m.cfgs);
        let args = m.roles.iter().map(|role| match role {
            ArgRole::Event => quote!(&decoded.event),
            ArgRole::Meta => quote!(&decoded.meta),
            ArgRole::Ctx => quote!(&mut *ctx),
        });
        let call = if m.is_async {
            quote!(#owner::#ident(#this, #(#args),*).await)
        } else {
            quote!(#owner::#ident(#this, #(#args),*))
        };
        let convert = match &m.output {
            Some(output) => quote_spanned! {output.span()=>
                <#output as #krate::IntoHandlerResult>::into_handler_result
            },
            None => quote!(<() as #krate::IntoHandlerResult>::into_handler_result),
        };
        quote! {
            #(#cfgs)*
            if <#event as #krate::DomainEvent>::handles(event_type) {
                let decoded = event.decode::<#event>()?;
                return #convert(#call);
            }
        }
    })
}

fn name_loops<'m>(
    methods: &'m [EventMethod],
    krate: &'m syn::Path,
) -> impl Iterator<Item = TokenStream> + 'm {
    methods.iter().map(move |m| {
        let (event, cfgs) = (&m.event, &m.cfgs);
        quote! {
            #(#cfgs)*
            for name in <#event as #krate::DomainEvent>::event_types() {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
    })
}

/// The `EventHandler` impl of a read model whose context type names a type without its generic
/// arguments: generic over the context `C`, bound by `C: ContextOf<Self, fn(.., &mut Ctx)>` on the
/// block's dispatcher function (one branch per method), which holds when `C` is the context type
/// whatever its lifetimes.
fn dispatcher_handler_impl(
    item: &ItemImpl,
    methods: &[EventMethod],
    ctx: &Type,
    krate: &syn::Path,
) -> TokenStream {
    let self_ty = &item.self_ty;
    let mut fn_generics: Generics = item.generics.clone();
    fn_generics.params.insert(0, syn::parse_quote!('__es_a));
    let (fn_generics, _, fn_where) = fn_generics.split_for_impl();
    let dispatcher = quote! {
        for<'__es_a> fn(
            &'__es_a mut #self_ty,
            &'__es_a #krate::RecordedEvent,
            &'__es_a mut #ctx,
        ) -> #krate::__private::HandleFuture<'__es_a>
    };
    let mut generics: Generics = item.generics.clone();
    generics
        .params
        .push(syn::parse_quote!(__EsCtx: ::core::marker::Send + ?::core::marker::Sized));
    generics
        .make_where_clause()
        .predicates
        .push(syn::parse_quote!(
            __EsCtx: #krate::__private::ContextOf<#self_ty, #dispatcher>
        ));
    let (impl_generics, _, where_clause) = generics.split_for_impl();
    let owner = quote!(<#self_ty>);
    let branches = branches(methods, owner, quote!(this), krate);
    let name_loops = name_loops(methods, krate);
    quote! {
        #[allow(clippy::needless_lifetimes)]
        fn __es_dispatch #fn_generics(
            this: &'__es_a mut #self_ty,
            event: &'__es_a #krate::RecordedEvent,
            ctx: &'__es_a mut #ctx,
        ) -> #krate::__private::HandleFuture<'__es_a> #fn_where {
            ::std::boxed::Box::pin(async move {
                let event_type = event.meta.event_type.as_str();
                #(#branches)*
                let _ = ctx;
                ::core::result::Result::Ok(())
            })
        }

        #[automatically_derived]
        impl #impl_generics #krate::EventHandler<__EsCtx> for #self_ty #where_clause {
            fn event_types(&self) -> ::std::vec::Vec<&'static str> {
                let mut names: ::std::vec::Vec<&'static str> = ::std::vec::Vec::new();
                #(#name_loops)*
                names
            }

            fn handle<'__es_self, '__es_event, '__es_ctx, '__es_async>(
                &'__es_self mut self,
                event: &'__es_event #krate::RecordedEvent,
                ctx: &'__es_ctx mut __EsCtx,
            ) -> #krate::__private::HandleFuture<'__es_async>
            where
                '__es_self: '__es_async,
                '__es_event: '__es_async,
                '__es_ctx: '__es_async,
                Self: '__es_async,
            {
                let dispatch: #dispatcher = __es_dispatch;
                <__EsCtx as #krate::__private::ContextOf<#self_ty, #dispatcher>>::call(
                    dispatch, self, event, ctx,
                )
            }
        }
    }
}
