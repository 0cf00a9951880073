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
    let original = &imp.item;
    if let Err(error) = errors.finish() {
        let error = error.into_compile_error();
        return quote!(#original #error);
    }
    let krate = imp.args.krate.clone().unwrap_or_else(default_crate);
    let self_ty = &imp.item.self_ty;
    let (impl_generics, _, where_clause) = imp.item.generics.split_for_impl();
    let impls = methods.iter().map(|m| {
        let (ident, command, cfgs) = (&m.ident, &m.command, &m.cfgs);
        let call = if m.is_async {
            quote!(Self::#ident(self, command).await)
        } else {
            quote!(Self::#ident(self, command))
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
                    match #result {
                        ::core::result::Result::Ok(events) => ::core::result::Result::Ok(#into_events(events)),
                        ::core::result::Result::Err(error) => ::core::result::Result::Err(error),
                    }
                }
            }
        }
    });
    quote! {
        #original
        const _: () = {
            #(#impls)*
        };
    }
}
