//! Parsing and expansion of `#[runtime::main]` and `#[runtime::test]`.
//!
//! Both macros share one option parser. Every misuse becomes a `syn::Error` spanned on the
//! offending token and is emitted as `compile_error!`, never a panic. Errors from several
//! options are combined so the user sees them all at once. Where the function itself is
//! usable, the output still carries an expansion beside the errors (with the bad options left
//! out), so one typo does not add "`main` function not found" or unresolved-name noise.

use proc_macro2::{Literal, TokenStream};
use quote::{format_ident, quote, ToTokens};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ExprUnary, ItemFn, Lit, Meta, Token, UnOp};

/// `#[runtime::main]`: see the crate docs.
pub(crate) fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    let (mut out, err) = expand_main(args, item);
    out.extend(err.map(|e| e.to_compile_error()));
    out
}

/// `#[runtime::test]`: see the crate docs.
pub(crate) fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    let (mut out, err) = expand_test(args, item);
    out.extend(err.map(|e| e.to_compile_error()));
    out
}

/// Which macro is expanding; the options are shared, the checks differ slightly.
#[derive(Clone, Copy)]
enum Entry {
    Main,
    Test,
}

impl Entry {
    fn name(self) -> &'static str {
        match self {
            Entry::Main => "#[runtime::main]",
            Entry::Test => "#[runtime::test]",
        }
    }
}

/// A `driver = "..."` value; mirrors `runtime::DriverKind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Driver {
    Auto,
    Uring,
    Epoll,
}

impl Driver {
    /// The `DriverKind` variant; also, lowercased, the generated test's name.
    fn variant(self) -> &'static str {
        match self {
            Driver::Auto => "Auto",
            Driver::Uring => "Uring",
            Driver::Epoll => "Epoll",
        }
    }

    fn kind_path(self, root: &TokenStream) -> TokenStream {
        let variant = format_ident!("{}", self.variant());
        quote!(#root::DriverKind::#variant)
    }
}

/// The parsed attribute arguments; `None` means "not given, use the runtime's default".
#[derive(Default)]
struct Options {
    /// Unsuffixed, with the user's span so a type error points at their literal.
    workers: Option<Literal>,
    driver: Option<Driver>,
    entries: Option<Literal>,
    /// The path of the runtime crate, for a renamed dependency (`crate = "rt"`).
    krate: Option<syn::Path>,
}

impl Options {
    /// The path the expansion names the runtime crate by: `::runtime`
    /// unless `crate = "…"` says otherwise.
    fn root(&self) -> TokenStream {
        match &self.krate {
            Some(path) => path.to_token_stream(),
            None => quote!(::runtime),
        }
    }
}

/// An option's name.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Key {
    Workers,
    Driver,
    Entries,
    Crate,
}

impl Key {
    fn from_name(name: &str) -> Option<Key> {
        match name {
            "workers" => Some(Key::Workers),
            "driver" => Some(Key::Driver),
            "entries" => Some(Key::Entries),
            "crate" => Some(Key::Crate),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Key::Workers => "workers",
            Key::Driver => "driver",
            Key::Entries => "entries",
            Key::Crate => "crate",
        }
    }

    /// A valid use, quoted in error messages.
    fn example(self) -> &'static str {
        match self {
            Key::Workers => "workers = 4",
            Key::Driver => r#"driver = "epoll""#,
            Key::Entries => "entries = 1024",
            Key::Crate => r#"crate = "rt""#,
        }
    }
}

impl Options {
    /// Parses `name = value, ...`, keeping the valid options and collecting the errors of the
    /// others, so the caller can still expand.
    fn parse(args: TokenStream, entry: Entry) -> (Options, Errors) {
        let mut opts = Options::default();
        let mut errors = Errors::default();
        let metas = match Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args) {
            Ok(metas) => metas,
            Err(e) => {
                errors.push(Err(e));
                return (opts, errors);
            }
        };
        // By name, not by value: a repeat is reported even when the first one was invalid.
        let mut seen = Vec::new();
        for meta in metas {
            errors.push(opts.set(meta, entry, &mut seen));
        }
        (opts, errors)
    }

    fn set(&mut self, meta: Meta, entry: Entry, seen: &mut Vec<Key>) -> syn::Result<()> {
        let path = meta.path();
        let Some(key) = path
            .get_ident()
            .and_then(|name| Key::from_name(&name.to_string()))
        else {
            let name = path.to_token_stream();
            let msg = format!(
                "unknown option `{name}`; expected `workers`, `driver`, `entries` or `crate`"
            );
            return Err(syn::Error::new_spanned(path, msg));
        };
        if seen.contains(&key) {
            let msg = format!("duplicate option `{}`", key.name());
            return Err(syn::Error::new_spanned(path, msg));
        }
        seen.push(key);
        let Meta::NameValue(nv) = meta else {
            let msg = format!("`{}` needs a value, as in `{}`", key.name(), key.example());
            return Err(syn::Error::new_spanned(meta, msg));
        };
        match key {
            Key::Workers => self.workers = Some(positive_int(&nv.value, key)?),
            Key::Entries => self.entries = Some(positive_int(&nv.value, key)?),
            Key::Driver => self.driver = Some(driver(&nv.value, entry)?),
            Key::Crate => self.krate = Some(crate_path(&nv.value)?),
        }
        Ok(())
    }
}

fn lit(value: &Expr) -> Option<&Lit> {
    match value {
        Expr::Lit(ExprLit { lit, .. }) => Some(lit),
        _ => None,
    }
}

fn positive_int(value: &Expr, key: Key) -> syn::Result<Literal> {
    // A compile error beats `Builder`'s InvalidInput at run time.
    let at_least_one = || format!("`{}` must be at least 1", key.name());
    let int = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => int,
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_), ..
        }) => {
            return Err(syn::Error::new_spanned(value, at_least_one()));
        }
        _ => {
            let (name, example) = (key.name(), key.example());
            let msg = format!("`{name}` expects an integer literal, as in `{example}`");
            return Err(syn::Error::new_spanned(value, msg));
        }
    };
    // Outside rustc (in the unit tests) proc-macro2 lexes `-1` as one literal.
    let negative = int.base10_digits().starts_with('-');
    if negative || int.base10_parse::<u64>()? == 0 {
        return Err(syn::Error::new(int.span(), at_least_one()));
    }
    // Unsuffixed, so it takes whatever integer type the `Builder` method wants.
    let mut out = Literal::u64_unsuffixed(int.base10_parse()?);
    out.set_span(int.span());
    Ok(out)
}

/// The path in `crate = "path"`, as tokio's macros take it.
fn crate_path(value: &Expr) -> syn::Result<syn::Path> {
    let Some(Lit::Str(s)) = lit(value) else {
        let msg =
            r#"`crate` expects a string literal naming the runtime crate, as in `crate = "rt"`"#;
        return Err(syn::Error::new_spanned(value, msg));
    };
    s.parse()
}

fn driver(value: &Expr, entry: Entry) -> syn::Result<Driver> {
    let Some(Lit::Str(s)) = lit(value) else {
        let msg = r#"`driver` expects a string literal: "uring", "epoll" or "auto""#;
        return Err(syn::Error::new_spanned(value, msg));
    };
    let driver = match s.value().as_str() {
        "uring" => Driver::Uring,
        "epoll" => Driver::Epoll,
        "auto" => Driver::Auto,
        other => {
            let msg = format!(r#"unknown driver "{other}"; expected "uring", "epoll" or "auto""#);
            return Err(syn::Error::new(s.span(), msg));
        }
    };
    if let (Entry::Test, Driver::Auto) = (entry, driver) {
        let msg = r#"#[runtime::test] runs every driver by default; "uring" or "epoll" picks one"#;
        return Err(syn::Error::new(s.span(), msg));
    }
    Ok(driver)
}

/// Accumulates errors so one expansion reports every problem, not only the first.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    /// Keeps the error, if any; returns whether `result` was fine.
    fn push(&mut self, result: syn::Result<()>) -> bool {
        let Err(e) = result else { return true };
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
        false
    }

    fn into_error(self) -> Option<syn::Error> {
        self.0
    }
}

fn check_async(func: &ItemFn, entry: Entry) -> syn::Result<()> {
    if func.sig.asyncness.is_some() {
        return Ok(());
    }
    let msg = format!("{} needs an `async fn`", entry.name());
    Err(syn::Error::new_spanned(func.sig.fn_token, msg))
}

fn check_no_args(func: &ItemFn, entry: Entry) -> syn::Result<()> {
    let inputs = &func.sig.inputs;
    if inputs.is_empty() {
        return Ok(());
    }
    let msg = format!("{} functions take no arguments", entry.name());
    Err(syn::Error::new_spanned(inputs, msg))
}

/// Returns the expansion and the errors to emit beside it.
fn expand_main(args: TokenStream, item: TokenStream) -> (TokenStream, Option<syn::Error>) {
    let (opts, mut errors) = Options::parse(args, Entry::Main);
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(e) => {
            errors.push(Err(e));
            return (item, errors.into_error());
        }
    };
    errors.push(check_async(&func, Entry::Main));
    errors.push(check_no_args(&func, Entry::Main));
    // Without `async` there is nothing to run, so the item goes back unchanged. With arguments
    // it still expands, and rustc adds only "`main` function has wrong type".
    let out = match func.sig.asyncness {
        Some(_) => expand_main_fn(func, &opts),
        None => func.into_token_stream(),
    };
    (out, errors.into_error())
}

fn expand_main_fn(mut func: ItemFn, opts: &Options) -> TokenStream {
    func.sig.asyncness = None;
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let root = opts.root();
    let workers = opts.workers.iter();
    let driver = opts.driver.map(|d| d.kind_path(&root)).into_iter();
    let entries = opts.entries.iter();
    quote! {
        #(#attrs)*
        #vis #sig {
            let body = async move #block;
            match #root::Builder::new()
                #(.workers(#workers))*
                #(.driver(#driver))*
                #(.entries(#entries))*
                .build()
            {
                ::core::result::Result::Ok(rt) => rt.block_on(body),
                ::core::result::Result::Err(e) => #root::__private::startup_failed(e),
            }
        }
    }
}

/// Returns the expansion and the errors to emit beside it.
fn expand_test(args: TokenStream, item: TokenStream) -> (TokenStream, Option<syn::Error>) {
    let (opts, mut errors) = Options::parse(args, Entry::Test);
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(e) => {
            errors.push(Err(e));
            return (item, errors.into_error());
        }
    };
    let mut usable = errors.push(check_async(&func, Entry::Test));
    usable &= errors.push(check_no_args(&func, Entry::Test));
    usable &= errors.push(check_not_generic(&func));
    usable &= errors.push(check_no_test_attr(&func));
    // A test whose signature is wrong goes back unchanged: the generated `fn uring()` would
    // only add unresolved-name errors. Bad options alone still expand, without those options.
    let out = if usable {
        expand_test_fn(func, &opts)
    } else {
        func.into_token_stream()
    };
    (out, errors.into_error())
}

fn check_not_generic(func: &ItemFn) -> syn::Result<()> {
    let generics = &func.sig.generics;
    let msg = "#[runtime::test] functions cannot be generic";
    match &generics.where_clause {
        // `Generics` prints only its `<...>` part, so a bare `where` needs its own span.
        Some(where_clause) if generics.params.is_empty() => {
            Err(syn::Error::new_spanned(where_clause, msg))
        }
        None if generics.params.is_empty() => Ok(()),
        _ => Err(syn::Error::new_spanned(generics, msg)),
    }
}

fn check_no_test_attr(func: &ItemFn) -> syn::Result<()> {
    match func.attrs.iter().find(|a| a.path().is_ident("test")) {
        None => Ok(()),
        Some(attr) => {
            let msg = "#[runtime::test] adds #[test] itself; remove this one";
            Err(syn::Error::new_spanned(attr, msg))
        }
    }
}

fn expand_test_fn(func: ItemFn, opts: &Options) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let name = &sig.ident;
    let output = &sig.output;
    let root = opts.root();
    let workers = optional(opts.workers.as_ref());
    let entries = optional(opts.entries.as_ref());
    let drivers = match opts.driver {
        Some(only) => vec![only],
        None => vec![Driver::Uring, Driver::Epoll],
    };
    let halves = drivers.into_iter().map(|driver| {
        let test_name = format_ident!("{}", driver.variant().to_lowercase());
        let kind = driver.kind_path(&root);
        // The absolute path because a `use runtime::test;` in the parent, glob-imported
        // below, would shadow the built-in `#[test]`.
        quote! {
            #[::core::prelude::v1::test]
            #(#attrs)*
            fn #test_name() #output {
                #root::__private::run_test(
                    #kind,
                    #root::__private::TestOptions { workers: #workers, entries: #entries },
                    async move #block,
                )
            }
        }
    });
    quote! {
        #[allow(non_snake_case)]
        #vis mod #name {
            #[allow(unused_imports)]
            use super::*;

            #(#halves)*
        }
    }
}

fn optional(value: Option<&Literal>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

#[cfg(test)]
mod tests {
    //! Expansion and error tests on token streams, so this crate tests without `runtime`.
    //! The behavioural tests are the `runtime` crate's `tests/macros_entry.rs`.

    use super::*;

    type Expand = fn(TokenStream, TokenStream) -> (TokenStream, Option<syn::Error>);

    /// Parsed from a string, so spans carry source text (proc-macro2 `span-locations`).
    fn tokens(src: &str) -> TokenStream {
        src.parse().expect("test input tokenizes")
    }

    fn expands_to(expand: Expand, args: &str, item: &str, expected: TokenStream) {
        let (out, err) = expand(tokens(args), tokens(item));
        assert!(err.is_none(), "unexpected error: {}", err.unwrap());
        assert_eq!(out.to_string(), expected.to_string());
    }

    /// Each error as (message, the source text it points at), and the expansion beside them.
    fn errors(expand: Expand, args: &str, item: &str) -> (Vec<(String, String)>, String) {
        let (out, err) = expand(tokens(args), tokens(item));
        let err = err.unwrap_or_else(|| panic!("no error for ({args}) {item}"));
        let errors = err
            .into_iter()
            .map(|e| (e.to_string(), e.span().source_text().unwrap_or_default()))
            .collect();
        (errors, out.to_string())
    }

    /// Asserts exactly one error, with this message fragment, pointing at `at`.
    fn fails(expand: Expand, args: &str, item: &str, message: &str, at: &str) {
        let (errors, _) = errors(expand, args, item);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let (msg, text) = &errors[0];
        assert!(msg.contains(message), "message {msg:?} lacks {message:?}");
        assert_eq!(text, at, "error {msg:?} points at the wrong tokens");
    }

    #[test]
    fn main_without_options_uses_builder_defaults() {
        let expected = quote! {
            fn main() {
                let body = async move { work().await; };
                match ::runtime::Builder::new().build() {
                    ::core::result::Result::Ok(rt) => rt.block_on(body),
                    ::core::result::Result::Err(e) => ::runtime::__private::startup_failed(e),
                }
            }
        };
        expands_to(
            expand_main,
            "",
            "async fn main() { work().await; }",
            expected,
        );
    }

    #[test]
    fn main_with_every_option() {
        let expected = quote! {
            fn main() {
                let body = async move {};
                match ::runtime::Builder::new()
                    .workers(4)
                    .driver(::runtime::DriverKind::Epoll)
                    .entries(1024)
                    .build()
                {
                    ::core::result::Result::Ok(rt) => rt.block_on(body),
                    ::core::result::Result::Err(e) => ::runtime::__private::startup_failed(e),
                }
            }
        };
        // Emitted in builder order whatever the attribute's order.
        let args = r#"entries = 1024, driver = "epoll", workers = 4"#;
        expands_to(expand_main, args, "async fn main() {}", expected);
    }

    #[test]
    fn crate_names_a_renamed_dependency() {
        let expected = quote! {
            fn main() {
                let body = async move {};
                match my::rt::Builder::new()
                    .driver(my::rt::DriverKind::Epoll)
                    .build()
                {
                    ::core::result::Result::Ok(rt) => rt.block_on(body),
                    ::core::result::Result::Err(e) => my::rt::__private::startup_failed(e),
                }
            }
        };
        let args = r#"crate = "my::rt", driver = "epoll""#;
        expands_to(expand_main, args, "async fn main() {}", expected);
        let (out, err) = expand_test(tokens(r#"crate = "rt2""#), tokens("async fn t() {}"));
        assert!(err.is_none());
        let out = out.to_string();
        assert!(out.contains("rt2 :: __private :: run_test"), "{out}");
        assert!(!out.contains(":: runtime ::"), "{out}");
        let (_, err) = expand_main(tokens("crate = rt"), tokens("async fn main() {}"));
        assert!(err.unwrap().to_string().contains("string literal"));
    }

    #[test]
    fn main_maps_each_driver_name() {
        for (name, variant) in [("uring", "Uring"), ("epoll", "Epoll"), ("auto", "Auto")] {
            let (out, err) = expand_main(
                tokens(&format!("driver = {name:?}")),
                tokens("async fn main() {}"),
            );
            assert!(err.is_none());
            let call = format!(". driver (:: runtime :: DriverKind :: {variant})");
            assert!(out.to_string().contains(&call), "{out}");
        }
    }

    #[test]
    fn main_keeps_attributes_visibility_and_return_type() {
        let expected = quote! {
            #[doc = " Entry point."]
            #[allow(unused)]
            pub fn main() -> std::io::Result<()> {
                let body = async move { Ok(()) };
                match ::runtime::Builder::new().workers(2).build() {
                    ::core::result::Result::Ok(rt) => rt.block_on(body),
                    ::core::result::Result::Err(e) => ::runtime::__private::startup_failed(e),
                }
            }
        };
        let item = "/// Entry point.\n#[allow(unused)] pub async fn main() -> std::io::Result<()> { Ok(()) }";
        expands_to(expand_main, "workers = 2", item, expected);
    }

    #[test]
    fn integer_suffixes_are_dropped() {
        // Unsuffixed, the literal takes whatever type `Builder::workers` has.
        let (out, _) = expand_main(tokens("workers = 4usize"), tokens("async fn main() {}"));
        assert!(out.to_string().contains(". workers (4)"), "{out}");
    }

    #[test]
    fn function_shape_errors() {
        let main = expand_main as Expand;
        fails(
            main,
            "",
            "fn main() {}",
            "#[runtime::main] needs an `async fn`",
            "fn",
        );
        fails(
            main,
            "",
            "async fn main(x: u32) {}",
            "take no arguments",
            "x: u32",
        );
        let test = expand_test as Expand;
        fails(
            test,
            "",
            "fn t() {}",
            "#[runtime::test] needs an `async fn`",
            "fn",
        );
        fails(
            test,
            "",
            "async fn t(a: u8, b: u8) {}",
            "take no arguments",
            "a: u8, b: u8",
        );
        fails(test, "", "async fn t<T>() {}", "cannot be generic", "<T>");
        fails(
            test,
            "",
            "async fn t() where u8: Copy {}",
            "cannot be generic",
            "where u8: Copy",
        );
        fails(
            test,
            "",
            "#[test] async fn t() {}",
            "adds #[test] itself",
            "#[test]",
        );
    }

    #[test]
    fn option_errors_point_at_the_offending_token() {
        for expand in [expand_main as Expand, expand_test] {
            let item = "async fn main() {}";
            let fail = |args, message, at| fails(expand, args, item, message, at);
            fail(r#"flavor = "x""#, "unknown option `flavor`", "flavor");
            fail(
                "a::workers = 4",
                "unknown option `a :: workers`",
                "a::workers",
            );
            fail(
                r#"workers = "4""#,
                "`workers` expects an integer literal",
                r#""4""#,
            );
            fail("workers = -1", "`workers` must be at least 1", "-1");
            fail(
                "entries = 1.5",
                "`entries` expects an integer literal",
                "1.5",
            );
            fail("entries = N", "`entries` expects an integer literal", "N");
            fail("driver = 1", "`driver` expects a string literal", "1");
            fail(
                "driver = epoll",
                "`driver` expects a string literal",
                "epoll",
            );
            fail(
                r#"driver = "io_uring""#,
                r#"unknown driver "io_uring""#,
                r#""io_uring""#,
            );
            fail("workers = 0", "`workers` must be at least 1", "0");
            fail("entries = 0", "`entries` must be at least 1", "0");
            fail(
                "workers",
                "`workers` needs a value, as in `workers = 4`",
                "workers",
            );
            fail("entries(8)", "`entries` needs a value", "entries(8)");
            fail(
                "entries = 99999999999999999999999",
                "too large",
                "99999999999999999999999",
            );
            fail("workers = 4 4", "expected `,`", "4");
        }
    }

    #[test]
    fn duplicate_points_at_the_repeat() {
        // Reported even when the first was itself invalid.
        let (errors, _) = errors(
            expand_main,
            "workers = 0, workers = 2",
            "async fn main() {}",
        );
        let msgs: Vec<_> = errors.iter().map(|(m, _)| m.as_str()).collect();
        assert_eq!(
            msgs,
            ["`workers` must be at least 1", "duplicate option `workers`"]
        );
        let args = tokens(r#"driver = "uring", driver = "epoll""#);
        let (_, err) = expand_main(args, tokens("async fn main() {}"));
        let span = err.unwrap().span();
        assert_eq!(span.source_text().as_deref(), Some("driver"));
        assert_eq!(span.start().column, 18, "the second `driver`");
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let args = r#"workers = 0, flavor = 1, driver = "io_uring""#;
        let (errors, _) = errors(expand_main, args, "fn main(x: u8) {}");
        let texts: Vec<_> = errors.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(texts, ["0", "flavor", r#""io_uring""#, "fn", "x: u8"]);
    }

    #[test]
    fn bad_options_still_expand_without_them() {
        // So the user sees the option error, not also "`main` function not found".
        let (_, out) = errors(
            expand_main,
            "workers = 0, entries = 8",
            "async fn main() {}",
        );
        assert!(out.contains("fn main ()"), "{out}");
        assert!(!out.contains("async fn"), "{out}");
        assert!(
            out.contains(". entries (8)") && !out.contains("workers"),
            "{out}"
        );
        let (_, out) = errors(expand_test, "flavor = 1", "async fn t() {}");
        assert!(out.contains("mod t") && out.contains("fn uring") && out.contains("fn epoll"));
    }

    #[test]
    fn unusable_functions_come_back_unchanged() {
        for (expand, item) in [
            (expand_main as Expand, "fn main() {}"),
            (expand_main, "struct NotAFunction;"),
            (expand_test, "fn t() {}"),
            (expand_test, "async fn t(x: u8) {}"),
            (expand_test, "#[test] async fn t() {}"),
            (expand_test, "async fn t<T>() {}"),
        ] {
            let (_, out) = errors(expand, "", item);
            assert_eq!(out, tokens(item).to_string());
        }
        let (errors, _) = errors(expand_test, "", "const X: u8 = 1;");
        assert!(errors[0].0.contains("expected `fn`"), "{errors:?}");
    }

    #[test]
    fn test_runs_each_driver_in_its_own_test() {
        let expected = quote! {
            #[allow(non_snake_case)]
            mod echo_roundtrip {
                #[allow(unused_imports)]
                use super::*;

                #[::core::prelude::v1::test]
                fn uring() {
                    ::runtime::__private::run_test(
                        ::runtime::DriverKind::Uring,
                        ::runtime::__private::TestOptions {
                            workers: ::core::option::Option::None,
                            entries: ::core::option::Option::None
                        },
                        async move { check().await; },
                    )
                }

                #[::core::prelude::v1::test]
                fn epoll() {
                    ::runtime::__private::run_test(
                        ::runtime::DriverKind::Epoll,
                        ::runtime::__private::TestOptions {
                            workers: ::core::option::Option::None,
                            entries: ::core::option::Option::None
                        },
                        async move { check().await; },
                    )
                }
            }
        };
        expands_to(
            expand_test,
            "",
            "async fn echo_roundtrip() { check().await; }",
            expected,
        );
    }

    #[test]
    fn test_with_options_attributes_and_return_type() {
        let expected = quote! {
            #[allow(non_snake_case)]
            pub(crate) mod slow {
                #[allow(unused_imports)]
                use super::*;

                #[::core::prelude::v1::test]
                #[ignore = "slow"]
                #[should_panic]
                fn epoll() -> std::io::Result<()> {
                    ::runtime::__private::run_test(
                        ::runtime::DriverKind::Epoll,
                        ::runtime::__private::TestOptions {
                            workers: ::core::option::Option::Some(2),
                            entries: ::core::option::Option::Some(4)
                        },
                        async move { Ok(()) },
                    )
                }
            }
        };
        let args = r#"workers = 2, entries = 4, driver = "epoll""#;
        let item = r#"#[ignore = "slow"] #[should_panic]
            pub(crate) async fn slow() -> std::io::Result<()> { Ok(()) }"#;
        expands_to(expand_test, args, item, expected);
    }

    #[test]
    fn test_driver_option_keeps_only_that_half() {
        for (driver, kept, dropped) in [("uring", "uring", "epoll"), ("epoll", "epoll", "uring")] {
            let args = tokens(&format!("driver = {driver:?}"));
            let (out, err) = expand_test(args, tokens("async fn t() {}"));
            assert!(err.is_none());
            let out = out.to_string();
            assert!(out.contains(&format!("fn {kept} ()")), "{out}");
            assert!(!out.contains(&format!("fn {dropped}")), "{out}");
        }
        let item = "async fn t() {}";
        fails(
            expand_test,
            r#"driver = "auto""#,
            item,
            "runs every driver by default",
            r#""auto""#,
        );
    }
}
