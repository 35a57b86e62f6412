//! The smallest `runtime` program: `#[runtime::main]`, spawned tasks, timers, a `JoinHandle`.
//!
//! ```text
//! cargo run --example hello
//! RUNTIME_DRIVER=epoll cargo run --example hello   # the fallback driver, same output
//! ```

use std::time::{Duration, Instant};

#[runtime::main]
async fn main() {
    // Which driver this worker runs, and why the other one was not chosen.
    println!("{}", runtime::driver_info());

    let start = Instant::now();
    let greeters: Vec<_> = ["world", "io_uring", "epoll"]
        .into_iter()
        .zip(1u64..)
        .map(|(name, n)| {
            runtime::spawn(async move {
                runtime::time::sleep(Duration::from_millis(50 * n)).await;
                format!("hello, {name}")
            })
        })
        .collect();

    // The tasks sleep concurrently, so this takes about 150 ms, not 300.
    for greeter in greeters {
        let greeting = greeter.await.expect("a greeter never panics");
        println!("{greeting} ({:?})", start.elapsed());
    }
}
