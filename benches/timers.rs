//! 10,000 concurrent sleeps: `runtime` on io_uring and on epoll against
//! tokio's current_thread runtime, side by side in one criterion group.
//!
//! One iteration is a `block_on` that spawns 10,000 tasks, each sleeping
//! 1 ms, and joins them all. The floor is the 1 ms sleep itself; what is
//! above it is the cost of registering, firing and waking 10,000 timers (and
//! the timer granularity: epoll waits in whole milliseconds, tokio's wheel
//! ticks in milliseconds).
//!
//! ```text
//! taskset -c 1 cargo bench --bench timers -- --noplot
//! ```

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

mod support;

/// Concurrent sleeping tasks per iteration.
const TASKS: usize = 10_000;
/// How long each one sleeps.
const NAP: Duration = Duration::from_millis(1);

fn concurrent_sleeps(c: &mut Criterion) {
    let mut group = c.benchmark_group("sleep_10k_1ms");
    support::configure(&mut group);
    // An iteration takes milliseconds: fewer samples keep the run within its budget.
    group.sample_size(20);
    for (name, rt) in support::runtimes() {
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let sleepers: Vec<_> = (0..TASKS)
                        .map(|_| runtime::spawn(runtime::time::sleep(NAP)))
                        .collect();
                    for s in sleepers {
                        s.await.unwrap();
                    }
                })
            })
        });
    }
    let rt = support::tokio_current_thread();
    group.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(async {
                let sleepers: Vec<_> = (0..TASKS)
                    .map(|_| tokio::spawn(tokio::time::sleep(NAP)))
                    .collect();
                for s in sleepers {
                    s.await.unwrap();
                }
            })
        })
    });
    group.finish();
}

criterion_group!(benches, concurrent_sleeps);
criterion_main!(benches);
