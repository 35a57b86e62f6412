//! Spawning and joining trivial tasks: `runtime` on io_uring and on epoll
//! against tokio's current_thread runtime, side by side in one criterion group.
//!
//! - `spawn_join_1000`: one iteration is a `block_on` that spawns 1,000 tasks
//!   returning their index, then awaits every `JoinHandle` in order.
//! - `spawn_join_1`: inside one `block_on`, each iteration spawns one task and
//!   awaits it before the next (`iter_custom`, so `block_on` is not measured).
//!
//! ```text
//! taskset -c 1 cargo bench --bench spawn -- --noplot
//! ```

use std::hint::black_box;
use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};

mod support;

/// Tasks per iteration of `spawn_join_1000`.
const BATCH: usize = 1000;

fn spawn_join_batch(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_join_1000");
    support::configure(&mut group);
    for (name, rt) in support::runtimes() {
        group.bench_function(name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let handles: Vec<_> = (0..BATCH)
                        .map(|i| runtime::spawn(async move { black_box(i) }))
                        .collect();
                    for h in handles {
                        black_box(h.await.unwrap());
                    }
                })
            })
        });
    }
    let rt = support::tokio_current_thread();
    group.bench_function("tokio", |b| {
        b.iter(|| {
            rt.block_on(async {
                let handles: Vec<_> = (0..BATCH)
                    .map(|i| tokio::spawn(async move { black_box(i) }))
                    .collect();
                for h in handles {
                    black_box(h.await.unwrap());
                }
            })
        })
    });
    group.finish();
}

fn spawn_join_one(c: &mut Criterion) {
    let mut group = c.benchmark_group("spawn_join_1");
    support::configure(&mut group);
    for (name, rt) in support::runtimes() {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for i in 0..iters {
                        black_box(runtime::spawn(async move { i }).await.unwrap());
                    }
                    start.elapsed()
                })
            })
        });
    }
    let rt = support::tokio_current_thread();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for i in 0..iters {
                    black_box(tokio::spawn(async move { i }).await.unwrap());
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

criterion_group!(benches, spawn_join_batch, spawn_join_one);
criterion_main!(benches);
