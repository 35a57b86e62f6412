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

#[runtime::main]
async fn main() {
    let secs = std::env::args()
        .nth(1)
        .map_or(10, |s| s.parse().expect("seconds to sleep: a whole number"));
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
