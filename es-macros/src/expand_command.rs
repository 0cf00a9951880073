//! Code generation for `#[command_handler]`: one `Handle<Command>` impl per method.

use crate::ast::HandlerImpl;
use crate::errors::Errors;
use crate::expand_event::default_crate;
use crate::valid::{self, CommandOutput};
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ItemImpl;
use syn::spanned::Spanned;

/// Entry point of `#[command_handler]`.
pub(crate) fn command_handler(args: TokenStream, item: ItemImpl) -> TokenStream {
    let mut errors = Errors::default();
    let imp = HandlerImpl::parse("command_handler", args, item, &mut errors);
    let methods = valid::command_handler(&imp, &mut errors);
    crate::crate_path::check_renamed(
        imp.args.krate.is_some(),
        "#[command_handler(crate = {})]",
        &mut errors,
    );
    // `#[command]` is this macro's own marker: the method is kept without it.
    let mut original = imp.item.clone();
    for item in &mut original.items {
        if let syn::ImplItem::Fn(f) = item {
            f.attrs.retain(|a| !a.path().is_ident("command"));
        }
    }
    let original = &original;
    if let Err(error) = errors.finish() {
        let error = error.into_compile_error();
        return quote!(#original #error);
    }
    let krate = imp.args.krate.clone().unwrap_or_else(default_crate);
    let self_ty = &imp.item.self_ty;
    let (impl_generics, _, where_clause) = imp.item.generics.split_for_impl();
    let impls = methods.iter().map(|m| {
        let (ident, command, cfgs) = (&m.ident, &m.command, &m.cfgs);
        let (unpack, args) = match &m.inline {
            Some(inline) => {
                let (name, fields) = (&inline.name, inline.fields.iter().map(|(f, _)| f));
                let names = inline.fields.iter().map(|(f, _)| f);
                (
                    quote!(let #name { #(#fields),* } = command;),
                    quote!(#(#names),*),
                )
            }
            None => (TokenStream::new(), quote!(command)),
        };
        let call = if m.is_async {
            quote!(Self::#ident(self, #args).await)
        } else {
            quote!(Self::#ident(self, #args))
        };
        let (ok, err, result) = match &m.output {
            CommandOutput::Split { ok, err } => (quote!(#ok), quote!(#err), call),
            CommandOutput::Alias(output) => {
                let split = quote_spanned!(output.span()=> <#output as #krate::__private::CommandResult>);
                (
                    quote!(#split::Ok),
                    quote!(#split::Err),
                    quote!(#split::into_result(#call)),
                )
            }
        };
        let ok_span = match &m.output {
            CommandOutput::Split { ok, .. } => ok.span(),
            CommandOutput::Alias(output) => output.span(),
        };
        let into_events = quote_spanned! {ok_span=>
            <#ok as #krate::IntoEvents<<Self as #krate::Aggregate>::Event>>::into_events
        };
        quote! {
            #(#cfgs)*
            #[automatically_derived]
            impl #impl_generics #krate::Handle<#command> for #self_ty #where_clause {
                type Error = #err;

                async fn handle(
                    &self,
                    command: #command,
                ) -> ::core::result::Result<::std::vec::Vec<<Self as #krate::Aggregate>::Event>, #err> {
                    #unpack
                    match #result {
                        ::core::result::Result::Ok(events) => ::core::result::Result::Ok(#into_events(events)),
                        ::core::result::Result::Err(error) => ::core::result::Result::Err(error),
                    }
                }
            }
        }
    });
    let structs = methods.iter().filter_map(|m| {
        let inline = m.inline.as_ref()?;
        let (name, vis, docs, cfgs) = (&inline.name, &inline.vis, &inline.docs, &m.cfgs);
        let doc = (docs.is_empty()).then(|| {
            let text = format!(
                "The command handled by `{}::{}`.",
                valid::pretty(self_ty),
                m.ident
            );
            quote!(#[doc = #text])
        });
        let fields = inline.fields.iter().map(|(field, ty)| {
            let text = format!("`{field}` of `{}::{}`.", valid::pretty(self_ty), m.ident);
            quote!(#[doc = #text] #vis #field: #ty)
        });
        Some(quote! {
            #(#cfgs)*
            #doc
            #(#docs)*
            #[derive(::core::clone::Clone, ::core::fmt::Debug)]
            #vis struct #name {
                #(#fields,)*
            }
        })
    });
    quote! {
        #original
        #(#structs)*
        const _: () = {
            #(#impls)*
        };
    }
}
