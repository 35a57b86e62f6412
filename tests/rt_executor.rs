//! The executor on both drivers: spawning, joining, aborting, panics,
//! cross-thread wake-ups, fairness and parking.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use runtime::task::yield_now;

#[runtime::test]
async fn spawn_runs_local_futures_and_join_returns_output() {
    let counter = Rc::new(Cell::new(0)); // !Send: fine for a local task
    let c = counter.clone();
    let h = runtime::spawn(async move {
        c.set(c.get() + 1);
        "done"
    });
    assert_eq!(h.await.unwrap(), "done");
    assert_eq!(counter.get(), 1);
}

#[runtime::test]
async fn a_panicking_task_reports_through_its_handle_and_the_runtime_goes_on() {
    let h = runtime::spawn(async { panic!("boom") });
    let err = h.await.unwrap_err();
    assert!(err.is_panic());
    assert!(err.to_string().contains("boom"));
    assert_eq!(runtime::spawn(async { 7 }).await.unwrap(), 7);
}

#[runtime::test]
async fn abort_cancels_a_pending_task() {
    let h = runtime::spawn(async {
        runtime::time::sleep(Duration::from_secs(3600)).await;
    });
    yield_now().await;
    assert!(!h.is_finished());
    h.abort();
    let err = h.await.unwrap_err();
    assert!(err.is_cancelled());
}

#[runtime::test]
async fn dropping_the_handle_detaches_the_task() {
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    drop(runtime::spawn(async move {
        yield_now().await;
        r.set(true);
    }));
    for _ in 0..10 {
        yield_now().await;
    }
    assert!(ran.get());
}

#[runtime::test]
async fn is_finished_turns_true_after_completion() {
    let h = runtime::spawn(async {});
    for _ in 0..3 {
        yield_now().await;
    }
    assert!(h.is_finished());
    h.await.unwrap();
}

#[runtime::test(workers = 2)]
async fn spawn_on_builds_the_future_on_the_other_worker() {
    let here = std::thread::current().id();
    let h = runtime::spawn_on(1, || {
        let local = Rc::new(5); // built on worker 1: need not be Send
        async move { (*local, std::thread::current().id(), runtime::driver_kind()) }
    });
    let (v, there, kind) = h.await.unwrap();
    assert_eq!(v, 5);
    assert_ne!(here, there);
    assert_eq!(kind, runtime::driver_kind());
}

#[runtime::test(workers = 2)]
async fn tasks_on_two_workers_wake_each_other() {
    for i in 0..200u32 {
        let h = runtime::spawn_on(1, move || async move {
            yield_now().await;
            i * 2
        });
        assert_eq!(h.await.unwrap(), i * 2);
    }
    assert!(
        runtime::metrics()[1].remote_wakes > 0,
        "spawn_on reaches worker 1 through its inbox"
    );
}

#[runtime::test]
async fn spawn_blocking_runs_off_the_worker_and_reports_panics() {
    let worker = std::thread::current().id();
    let other = runtime::spawn_blocking(move || std::thread::current().id())
        .await
        .unwrap();
    assert_ne!(worker, other);
    let err = runtime::spawn_blocking(|| panic!("blocking boom"))
        .await
        .unwrap_err();
    assert!(err.is_panic());
}

/// A one-shot signal set from any thread, awaited by a task.
#[derive(Default)]
struct Signal {
    state: Mutex<(bool, Option<Waker>)>,
}

impl Signal {
    fn set(&self) {
        let mut g = self.state.lock().unwrap();
        g.0 = true;
        if let Some(w) = g.1.take() {
            w.wake();
        }
    }
}

impl Future for &Signal {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut g = self.state.lock().unwrap();
        if g.0 {
            return Poll::Ready(());
        }
        g.1 = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[runtime::test]
async fn wakes_from_plain_threads_are_never_lost() {
    for _ in 0..2000 {
        let sig = Arc::new(Signal::default());
        let s = sig.clone();
        let t = std::thread::spawn(move || s.set());
        (&*sig).await;
        t.join().unwrap();
    }
}

#[runtime::test]
async fn a_task_woken_from_a_thread_runs_on_its_own_worker() {
    let sig = Arc::new(Signal::default());
    let s = sig.clone();
    let home = std::thread::current().id();
    let h = runtime::spawn(async move {
        (&*s).await;
        std::thread::current().id()
    });
    yield_now().await;
    let s2 = sig.clone();
    std::thread::spawn(move || s2.set()).join().unwrap();
    assert_eq!(h.await.unwrap(), home);
}

#[runtime::test]
async fn an_always_ready_task_cannot_starve_a_timer() {
    let fired = Arc::new(AtomicBool::new(false));
    let f = fired.clone();
    let timer = runtime::spawn(async move {
        runtime::time::sleep(Duration::from_millis(10)).await;
        f.store(true, Ordering::SeqCst);
    });
    // Always-ready work: a zero-length sleep never waits, yet the budget makes it yield.
    let start = Instant::now();
    let mut spins = 0u64;
    while !fired.load(Ordering::SeqCst) {
        runtime::time::sleep(Duration::ZERO).await;
        spins += 1;
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timer starved after {spins} spins"
        );
    }
    timer.await.unwrap();
}

#[runtime::test]
async fn yield_now_lets_every_task_progress() {
    let counts: Vec<_> = (0..4).map(|_| Rc::new(Cell::new(0u32))).collect();
    let handles: Vec<_> = counts
        .iter()
        .map(|c| {
            let c = c.clone();
            runtime::spawn(async move {
                for _ in 0..100 {
                    c.set(c.get() + 1);
                    yield_now().await;
                }
            })
        })
        .collect();
    yield_now().await;
    yield_now().await;
    // Round-robin: after two turns every task has run, none has finished alone.
    for c in &counts {
        assert!(c.get() >= 1 && c.get() < 100, "count {}", c.get());
    }
    for h in handles {
        h.await.unwrap();
    }
}

#[runtime::test]
async fn an_idle_worker_parks_instead_of_spinning() {
    let before = runtime::metrics()[0].clone();
    runtime::time::sleep(Duration::from_millis(100)).await;
    let after = runtime::metrics()[0].clone();
    let turns = after.ticks - before.ticks;
    assert!(turns < 20, "{turns} loop turns while idle for 100 ms");
    assert!(after.parks > before.parks);
    assert_eq!(after.ops_in_flight, 0);
}

#[runtime::test]
async fn metrics_count_tasks() {
    let before = runtime::metrics()[0].clone();
    let hs: Vec<_> = (0..10).map(|_| runtime::spawn(async {})).collect();
    for h in hs {
        h.await.unwrap();
    }
    let after = runtime::metrics()[0].clone();
    assert_eq!(after.tasks_spawned - before.tasks_spawned, 10);
    assert_eq!(after.tasks_alive, before.tasks_alive);
}

#[runtime::test(workers = 2)]
async fn spawn_on_tasks_count_on_the_worker_that_runs_them() {
    let hs: Vec<_> = (0..100)
        .map(|i| runtime::spawn_on(i % 2, move || async move { i }))
        .collect();
    for (i, h) in hs.into_iter().enumerate() {
        assert_eq!(h.await.unwrap(), i);
    }
    let m = runtime::metrics();
    for w in &m {
        assert_eq!(w.tasks_alive, 0, "all 100 finished: {m:?}");
        assert_eq!(w.tasks_spawned, 50, "each worker ran half: {m:?}");
    }
}

#[test]
fn builder_rejects_nonsense_with_invalid_input() {
    for b in [
        runtime::Builder::new().workers(0).clone(),
        runtime::Builder::new().entries(0).clone(),
        runtime::Builder::new().entries(1 << 20).clone(),
        runtime::Builder::new().event_interval(0).clone(),
    ] {
        let err = b.build().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{b:?}: {err}");
    }
}

#[test]
fn dropping_the_runtime_drops_pending_tasks() {
    struct Flag(Arc<AtomicUsize>);
    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let dropped = Arc::new(AtomicUsize::new(0));
    for kind in [runtime::DriverKind::Epoll, runtime::DriverKind::Auto] {
        let rt = runtime::Builder::new()
            .driver(kind)
            .workers(2)
            .build()
            .unwrap();
        let d = dropped.clone();
        rt.block_on(async move {
            let f = Flag(d.clone());
            drop(runtime::spawn(async move {
                let _f = f;
                std::future::pending::<()>().await;
            }));
            let f = Flag(d.clone());
            drop(runtime::spawn_on(1, move || async move {
                let _f = f;
                runtime::time::sleep(Duration::from_secs(3600)).await;
            }));
            yield_now().await;
        });
        drop(rt);
    }
    assert_eq!(dropped.load(Ordering::SeqCst), 4);
}

/// A future that records where it was polled, and in its drop whether it
/// was moved since: a pinned future must be dropped where it lies.
struct PinWitness {
    /// The address of the first poll, or 0.
    polled_at: usize,
    /// Set by the drop if the address changed after a poll.
    moved: Arc<AtomicBool>,
    /// Makes the type `!Unpin`, as a self-borrowing `async` block is.
    _pin: std::marker::PhantomPinned,
}

impl Future for PinWitness {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: only a plain field is written; nothing is moved out.
        let this = unsafe { self.get_unchecked_mut() };
        this.polled_at = this as *mut PinWitness as usize;
        Poll::Pending
    }
}

impl Drop for PinWitness {
    fn drop(&mut self) {
        if self.polled_at != 0 && self.polled_at != self as *mut PinWitness as usize {
            self.moved.store(true, Ordering::SeqCst);
        }
    }
}

#[test]
fn tasks_left_at_shutdown_and_aborted_ones_are_dropped_in_place() {
    for kind in [runtime::DriverKind::Epoll, runtime::DriverKind::Auto] {
        let moved = Arc::new(AtomicBool::new(false));
        let rt = runtime::Builder::new().driver(kind).build().unwrap();
        let m = moved.clone();
        rt.block_on(async move {
            let witness = |moved: &Arc<AtomicBool>| PinWitness {
                polled_at: 0,
                moved: moved.clone(),
                _pin: std::marker::PhantomPinned,
            };
            let aborted = runtime::spawn(witness(&m));
            let left = runtime::spawn(witness(&m));
            yield_now().await; // both polled once
            aborted.abort();
            assert!(aborted.await.unwrap_err().is_cancelled());
            drop(left); // detached: dropped when the runtime shuts down
        });
        drop(rt);
        assert!(
            !moved.load(Ordering::SeqCst),
            "{kind:?}: a pinned task future was moved before its drop"
        );
    }
}
