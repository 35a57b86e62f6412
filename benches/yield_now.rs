//! `yield_now`: how fast a task goes round the run queue. `runtime` on
//! io_uring and on epoll against tokio's current_thread runtime, side by side
//! in one criterion group each.
//!
//! - `yield_ping_pong`: one iteration is a `block_on` that spawns two tasks
//!   which each yield 1,000 times, so they alternate on the run queue, and
//!   joins both (2,000 yields).
//! - `yield_1000`: one iteration is a `block_on` that spawns one task yielding
//!   1,000 times and joins it (no other task to switch to).
//!
//! ```text
//! taskset -c 1 cargo bench --bench yield_now -- --noplot
//! ```

use criterion::{criterion_group, criterion_main, Criterion};

mod support;

/// Yields per task per iteration.
const YIELDS: usize = 1000;

fn ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("yield_ping_pong");
    support::configure(&mut group);
    for (name, rt) in support::runtimes() {
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let player = || async {
                        for _ in 0..YIELDS {
                            runtime::task::yield_now().await;
                        }
                    };
                    let (ping, pong) = (runtime::spawn(player()), runtime::spawn(player()));
                    ping.await.unwrap();
                    pong.await.unwrap();
                })
            })
        });
    }
    let rt = support::tokio_current_thread();
    group.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(async {
                let player = || async {
                    for _ in 0..YIELDS {
                        tokio::task::yield_now().await;
                    }
                };
                let (ping, pong) = (tokio::spawn(player()), tokio::spawn(player()));
                ping.await.unwrap();
                pong.await.unwrap();
            })
        })
    });
    group.finish();
}

fn yield_alone(c: &mut Criterion) {
    let mut group = c.benchmark_group("yield_1000");
    support::configure(&mut group);
    for (name, rt) in support::runtimes() {
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    runtime::spawn(async {
                        for _ in 0..YIELDS {
                            runtime::task::yield_now().await;
                        }
                    })
                    .await
                    .unwrap()
                })
            })
        });
    }
    let rt = support::tokio_current_thread();
    group.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(async {
                tokio::spawn(async {
                    for _ in 0..YIELDS {
                        tokio::task::yield_now().await;
                    }
                })
                .await
                .unwrap()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, ping_pong, yield_alone);
criterion_main!(benches);
