//! A wake from another thread: a task on the runtime asks a plain
//! `std::thread` for an answer and awaits it; the thread, blocked on a condvar,
//! answers and wakes the task. One iteration is one such round trip, so it
//! holds two cross-thread wake-ups: the thread's (a futex) and the task's (the
//! runtime's remote wake: its inbox, and its eventfd when the worker sleeps in
//! the kernel). `runtime` on io_uring and on epoll against tokio's
//! current_thread runtime, side by side in one criterion group.
//!
//! Both runtimes use the same hand-written primitive below (std `Mutex`,
//! `Condvar` and `Waker`), so only the runtimes differ.
//!
//! ```text
//! taskset -c 1 cargo bench --bench cross_thread_wake -- --noplot
//! ```

use std::future::{poll_fn, Future};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};

mod support;

/// Questions asked by the task and answered by the thread.
#[derive(Default)]
struct State {
    /// Questions asked so far.
    asked: u64,
    /// Questions answered so far.
    answered: u64,
    /// The task waiting for an answer.
    waker: Option<Waker>,
    /// The thread should exit.
    closed: bool,
}

/// A request/response rendezvous between a task and a thread.
#[derive(Default)]
struct Pinger {
    state: Mutex<State>,
    /// Signalled when a question is asked or the pinger closes.
    asked: Condvar,
}

impl Pinger {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Task: asks a question and waits for its answer.
    fn round_trip(&self) -> impl Future<Output = ()> + '_ {
        let n = {
            let mut s = self.lock();
            s.asked += 1;
            s.asked
        };
        self.asked.notify_one();
        poll_fn(move |cx| {
            let mut s = self.lock();
            if s.answered >= n {
                return Poll::Ready(());
            }
            match &s.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => s.waker = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
    }

    /// Thread: answers every question, waking the task, until closed.
    fn serve(&self) {
        let mut s = self.lock();
        loop {
            while s.answered == s.asked && !s.closed {
                s = self.asked.wait(s).unwrap_or_else(|e| e.into_inner());
            }
            if s.closed {
                return;
            }
            s.answered = s.asked;
            let waker = s.waker.take();
            drop(s);
            if let Some(w) = waker {
                w.wake();
            }
            s = self.lock();
        }
    }
}

/// The answering thread; stops when dropped.
struct Server {
    pinger: Arc<Pinger>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Server {
    fn start() -> Self {
        let pinger = Arc::new(Pinger::default());
        let p = pinger.clone();
        let thread = thread::Builder::new()
            .name("bench-answer".into())
            .spawn(move || p.serve())
            .expect("spawn the answering thread");
        Server {
            pinger,
            thread: Some(thread),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.pinger.lock().closed = true;
        self.pinger.asked.notify_one();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `iters` round trips from a spawned task; returns their total time.
async fn round_trips(pinger: Arc<Pinger>, iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        pinger.round_trip().await;
    }
    start.elapsed()
}

fn wake_from_thread(c: &mut Criterion) {
    let mut group = c.benchmark_group("cross_thread_wake");
    support::configure(&mut group);
    for (name, rt) in support::runtimes() {
        let server = Server::start();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let pinger = server.pinger.clone();
                rt.block_on(async { runtime::spawn(round_trips(pinger, iters)).await })
                    .unwrap()
            })
        });
    }
    let rt = support::tokio_current_thread();
    let server = Server::start();
    group.bench_function("tokio", |b| {
        b.iter_custom(|iters| {
            let pinger = server.pinger.clone();
            rt.block_on(async { tokio::spawn(round_trips(pinger, iters)).await })
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, wake_from_thread);
criterion_main!(benches);
