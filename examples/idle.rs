//! An idle runtime: one task sleeps 10 s, nothing else happens. It should use
//! (almost) no CPU, because the worker waits in the kernel with the timer's
//! deadline as its timeout instead of polling.
//!
//! ```text
//! cargo build --release --example idle
//! RUNTIME_DRIVER=uring /usr/bin/time -f "%U user %S sys %P cpu" target/release/examples/idle
//! RUNTIME_DRIVER=epoll /usr/bin/time -f "%U user %S sys %P cpu" target/release/examples/idle
//! ```
//!
//! Pass a number of seconds to sleep for another length: `idle 30`.

use std::time::{Duration, Instant};

#[path = "support/cli.rs"]
mod cli;

const USAGE: &str = "usage: idle [SECS]";

/// The command line: how long to sleep (10 s).
fn parse_args() -> Result<u64, lexopt::Error> {
    use lexopt::prelude::*;
    let mut secs = None;
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Short('h') | Long("help") => cli::help(USAGE),
            Value(n) if secs.is_none() => secs = Some(n.parse()?),
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(secs.unwrap_or(10))
}

#[runtime::main]
async fn main() {
    let secs = cli::parse(USAGE, parse_args);
    println!("{}", runtime::driver_info());
    let start = Instant::now();
    let sleeper = runtime::spawn(runtime::time::sleep(Duration::from_secs(secs)));
    sleeper.await.expect("a sleep never panics");
    // Parks counts the worker's kernel waits: a handful, not thousands.
    let parks: u64 = runtime::metrics().iter().map(|w| w.parks).sum();
    println!(
        "slept {:?}; the worker parked {parks} times",
        start.elapsed()
    );
}
