//! The examples' command lines: each example reads its options with lexopt
//! in a `parse_args` of its own; this reports lexopt's errors with that
//! example's usage line and answers `-h`/`--help`. Included by each example
//! with `#[path = "support/cli.rs"] mod cli;` (a folder without a `main.rs`
//! is no example of its own).

/// Runs `parse_args`. On an error (an unknown option, a missing or
/// unparsable value, a check of the example's own) prints it and `usage` to
/// stderr and exits with status 2, as command-line tools do.
pub(crate) fn parse<T>(usage: &str, parse_args: impl FnOnce() -> Result<T, lexopt::Error>) -> T {
    parse_args().unwrap_or_else(|e| {
        eprintln!("{e}\n{usage}");
        std::process::exit(2)
    })
}

/// `-h`/`--help`: prints `usage` and exits.
pub(crate) fn help(usage: &str) -> ! {
    println!("{usage}");
    std::process::exit(0)
}
