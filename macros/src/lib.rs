//! `#[runtime::main]` and `#[runtime::test]`: attribute macros that turn an `async fn` into a
//! synchronous entry point driven by a `runtime::Runtime`.
//!
//! Use them through the `runtime` crate, which re-exports both; this crate is its
//! implementation detail. Parsing and expansion live in `entry.rs`; this file holds the entry
//! points and their documentation.
//!
//! The expanded code names everything by absolute path (`::runtime::Builder`,
//! `::runtime::__private::run_test`), so it works whatever the calling module imports, and it
//! needs the `runtime` crate under that name.

mod entry;

use proc_macro::TokenStream;

/// Runs an `async fn main` on a new `runtime::Runtime`.
///
/// ```ignore
/// #[runtime::main]
/// async fn main() -> std::io::Result<()> {
///     let handle = runtime::spawn(async { 6 * 7 });
///     println!("{}", handle.await.unwrap());
///     Ok(())
/// }
/// ```
///
/// (Examples in this crate are not compiled here, because `runtime-macros` cannot depend on
/// `runtime`; `examples/hello.rs` and `tests/macros_entry.rs` in the `runtime` crate are the
/// compiled ones.)
///
/// # Options
///
/// All optional, each at most once, comma separated:
///
/// | option           | value                              | default           |
/// |------------------|------------------------------------|-------------------|
/// | `workers = 4`    | worker threads, at least 1         | `Builder`'s (1)   |
/// | `driver = "epoll"` | `"uring"`, `"epoll"` or `"auto"` | `Builder`'s (auto, or `RUNTIME_DRIVER`) |
/// | `entries = 1024` | io_uring ring size, at least 1     | `Builder`'s       |
/// | `crate = "rt"`   | the path of the runtime crate, for a renamed dependency (`rt = { package = "runtime", … }`) | `::runtime` |
///
/// ```ignore
/// #[runtime::main(workers = 4, driver = "epoll", entries = 1024)]
/// async fn main() { /* ... */ }
/// ```
///
/// # Expansion
///
/// The function keeps its attributes, visibility, name and return type and loses `async`:
///
/// ```ignore
/// fn main() -> std::io::Result<()> {
///     let body = async move { /* the original body */ };
///     match ::runtime::Builder::new()
///         .workers(4)                           // only the options given
///         .driver(::runtime::DriverKind::Epoll)
///         .entries(1024)
///         .build()
///     {
///         Ok(rt) => rt.block_on(body),
///         Err(e) => ::runtime::__private::startup_failed(e), // prints the error, exits(1)
///     }
/// }
/// ```
///
/// A runtime that cannot start (for example `driver = "uring"` where io_uring is disabled)
/// prints why and exits with status 1 rather than panicking.
///
/// # Errors
///
/// Misuse is a compile error pointing at the offending token: a function that is not `async`
/// or takes arguments, an unknown or repeated option, a value of the wrong type, an unknown
/// driver name, and `workers = 0` or `entries = 0`.
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::main(args.into(), item.into()).into()
}

/// Runs an `async fn` test once per driver, each as its own `#[test]`.
///
/// ```ignore
/// #[runtime::test]
/// async fn echo_roundtrip() -> std::io::Result<()> {
///     // ...
///     Ok(())
/// }
/// ```
///
/// expands to a module named after the test, with one test function per driver:
///
/// ```ignore
/// #[allow(non_snake_case)]
/// mod echo_roundtrip {
///     #[allow(unused_imports)]
///     use super::*;
///
///     #[test]
///     fn uring() -> std::io::Result<()> {
///         ::runtime::__private::run_test(
///             ::runtime::DriverKind::Uring,
///             ::runtime::__private::TestOptions { workers: None, entries: None },
///             async move { /* the original body */ },
///         )
///     }
///
///     #[test]
///     fn epoll() -> std::io::Result<()> { /* the same on DriverKind::Epoll */ }
/// }
/// ```
///
/// so `cargo test echo_roundtrip` runs both halves and `cargo test epoll` runs every test on
/// the epoll driver. The uring half is skipped, and says so, when io_uring is unavailable
/// (`RUNTIME_REQUIRE_URING=1` makes that a failure); failure messages name the driver.
///
/// The function's other attributes (`#[ignore]`, `#[should_panic]`, doc comments, ...) are
/// copied onto each generated test. The return type may be anything a `#[test]` may return,
/// such as `()` or `io::Result<()>`.
///
/// # Options
///
/// `workers = N`, `entries = N` and `crate = "…"` as for [`macro@main`], and `driver = "uring"` or
/// `driver = "epoll"` to generate only that half (for a test about one driver's behaviour).
///
/// ```ignore
/// #[runtime::test(workers = 2, entries = 4)]
/// async fn small_ring_backpressure() { /* ... */ }
///
/// #[runtime::test(driver = "epoll")]
/// async fn regular_files_use_the_blocking_pool() { /* ... */ }
/// ```
///
/// # Name resolution
///
/// The body moves into the generated module, which glob-imports its parent (`use super::*`),
/// so names the test used unqualified still resolve. Two catches, both from the extra module
/// level: a path starting with `super::` now starts one module lower (write `crate::...` or
/// drop the prefix), and inside the module `uring` and `epoll` name the generated tests.
///
/// # Errors
///
/// As for [`macro@main`], plus: generic test functions, `driver = "auto"` (both drivers
/// already run by default), and an extra `#[test]` attribute (this macro adds it).
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    entry::test(args.into(), item.into()).into()
}
