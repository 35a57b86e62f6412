//! `runtime::task::JoinSet` on both drivers: outputs in order of completion,
//! abort on drop, `abort_all`, `detach_all`, `shutdown`, panics as
//! `JoinError`, `try_join_next`, and members on other workers and the pool.
//!
//! Completion order is forced with channels, never with sleeps.

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::rc::Rc;
use std::task::Poll;

use runtime::task::{yield_now, JoinSet};
use tokio::sync::oneshot;

/// Sends `()` when dropped: proof that a task's future was dropped.
struct DropGuard(Option<oneshot::Sender<()>>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(());
        }
    }
}

/// Polls `fut` once, then drops it.
async fn poll_once<F: Future>(fut: F) -> Poll<F::Output> {
    let mut fut = pin!(fut);
    std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await
}

#[runtime::test]
async fn outputs_come_in_order_of_completion() {
    let mut set = JoinSet::new();
    let mut gates = Vec::new();
    for i in 0..3u32 {
        let (tx, rx) = oneshot::channel::<()>();
        gates.push(Some(tx));
        set.spawn(async move {
            rx.await.unwrap();
            i
        });
    }
    assert_eq!(set.len(), 3);
    for i in [2usize, 0, 1] {
        gates[i].take().unwrap().send(()).unwrap();
        assert_eq!(set.join_next().await.unwrap().unwrap(), i as u32);
    }
    assert!(set.is_empty());
    assert!(set.join_next().await.is_none());
}

#[runtime::test]
async fn local_futures_need_not_be_send() {
    let shared = Rc::new(Cell::new(0));
    let mut set = JoinSet::new();
    for _ in 0..10 {
        let s = shared.clone();
        set.spawn(async move {
            yield_now().await;
            s.set(s.get() + 1);
        });
    }
    let mut n = 0;
    while let Some(res) = set.join_next().await {
        res.unwrap();
        n += 1;
    }
    assert_eq!((n, shared.get()), (10, 10));
}

#[runtime::test]
async fn dropping_the_set_aborts_its_tasks() {
    let (guard_tx, guard_rx) = oneshot::channel();
    let (started_tx, started_rx) = oneshot::channel();
    let mut set = JoinSet::new();
    set.spawn(async move {
        let _guard = DropGuard(Some(guard_tx));
        started_tx.send(()).unwrap();
        std::future::pending::<()>().await;
    });
    started_rx.await.unwrap();
    drop(set);
    // The guard runs when the aborted task's future is dropped.
    guard_rx.await.expect("the task's drop guard ran");
}

#[runtime::test]
async fn abort_all_yields_a_cancelled_error_per_task() {
    let mut set = JoinSet::new();
    let mut guards = Vec::new();
    for _ in 0..5 {
        let (tx, rx) = oneshot::channel();
        guards.push(rx);
        // Moved into the future: dropped with it, polled or not.
        let guard = DropGuard(Some(tx));
        set.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
    }
    yield_now().await;
    set.abort_all();
    assert_eq!(set.len(), 5);
    let mut cancelled = 0;
    while let Some(res) = set.join_next().await {
        assert!(res.unwrap_err().is_cancelled());
        cancelled += 1;
    }
    assert_eq!(cancelled, 5);
    for rx in guards {
        rx.await.expect("every guard ran");
    }
}

#[runtime::test]
async fn an_abort_handle_cancels_one_member() {
    let mut set = JoinSet::new();
    let pending = set.spawn(std::future::pending::<u8>());
    set.spawn(async { 7u8 });
    pending.abort();
    let mut outputs = Vec::new();
    while let Some(res) = set.join_next().await {
        outputs.push(res.map_err(|e| e.is_cancelled()));
    }
    outputs.sort();
    assert_eq!(outputs, [Ok(7), Err(true)]);
    assert!(pending.is_finished());
}

#[runtime::test]
async fn detach_all_lets_tasks_run_on() {
    let mut set = JoinSet::new();
    let (gate_tx, gate_rx) = oneshot::channel::<()>();
    let (done_tx, done_rx) = oneshot::channel();
    set.spawn(async move {
        gate_rx.await.unwrap();
        done_tx.send(42).unwrap();
    });
    set.detach_all();
    assert!(set.is_empty());
    assert!(set.join_next().await.is_none());
    drop(set); // nothing left to abort
    gate_tx.send(()).unwrap();
    assert_eq!(done_rx.await.unwrap(), 42);
}

#[runtime::test]
async fn a_panic_comes_back_as_join_error() {
    let mut set = JoinSet::new();
    set.spawn(async { panic!("member failed") });
    let err = set.join_next().await.unwrap().unwrap_err();
    assert!(err.is_panic());
    assert!(err.to_string().contains("member failed"), "{err}");
    assert!(set.join_next().await.is_none());
    // The runtime and the set go on.
    set.spawn(async {});
    set.join_next().await.unwrap().unwrap();
}

#[runtime::test]
async fn try_join_next_never_waits() {
    let mut set = JoinSet::new();
    assert!(set.try_join_next().is_none());
    let (gate_tx, gate_rx) = oneshot::channel::<()>();
    let h = set.spawn(async move {
        gate_rx.await.unwrap();
        5
    });
    assert!(set.try_join_next().is_none());
    assert_eq!(set.len(), 1);
    gate_tx.send(()).unwrap();
    while !h.is_finished() {
        yield_now().await;
    }
    assert_eq!(set.try_join_next().unwrap().unwrap(), 5);
    assert!(set.is_empty());
}

#[runtime::test]
async fn join_next_is_cancel_safe() {
    let mut set = JoinSet::new();
    let (gate_tx, gate_rx) = oneshot::channel::<()>();
    set.spawn(async move {
        gate_rx.await.unwrap();
        "out"
    });
    // A join_next dropped while waiting loses nothing.
    assert!(poll_once(set.join_next()).await.is_pending());
    gate_tx.send(()).unwrap();
    assert_eq!(set.join_next().await.unwrap().unwrap(), "out");
}

#[runtime::test]
async fn shutdown_aborts_and_waits() {
    let mut set = JoinSet::new();
    let mut guards = Vec::new();
    for _ in 0..3 {
        let (tx, rx) = oneshot::channel();
        guards.push(rx);
        // Moved into the future: dropped with it, polled or not.
        let guard = DropGuard(Some(tx));
        set.spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await;
        });
    }
    set.shutdown().await;
    assert!(set.is_empty());
    for mut rx in guards {
        // Already sent: shutdown returned after every future was dropped.
        rx.try_recv().expect("guard ran before shutdown returned");
    }
}

#[runtime::test]
async fn many_members_all_join() {
    let mut set = JoinSet::new();
    for i in 0..1000u64 {
        set.spawn(async move {
            if i % 3 == 0 {
                yield_now().await;
            }
            i
        });
    }
    let mut sum = 0;
    while let Some(res) = set.join_next().await {
        sum += res.unwrap();
    }
    assert_eq!(sum, 999 * 1000 / 2);
}

#[runtime::test(workers = 2)]
async fn members_on_another_worker_and_the_blocking_pool() {
    let mut set = JoinSet::new();
    for _ in 0..4 {
        set.spawn_on(1, || async {
            yield_now().await;
            std::thread::current().name().map(String::from)
        });
    }
    set.spawn_blocking(|| Some(String::from("pool")));
    let here = std::thread::current().name().map(String::from);
    let mut other_worker = 0;
    let mut pool = 0;
    while let Some(res) = set.join_next().await {
        match res.unwrap() {
            Some(name) if name == "pool" => pool += 1,
            name => {
                assert_ne!(name, here, "spawn_on(1) ran on worker 0");
                other_worker += 1;
            }
        }
    }
    assert_eq!((other_worker, pool), (4, 1));
}

#[runtime::test]
async fn collect_and_extend_spawn_each_future() {
    let mut set: JoinSet<u32> = (0..3).map(|i| async move { i }).collect();
    set.extend((3..5).map(|i| async move { i }));
    assert_eq!(set.len(), 5);
    let mut got = Vec::new();
    while let Some(res) = set.join_next().await {
        got.push(res.unwrap());
    }
    got.sort();
    assert_eq!(got, [0, 1, 2, 3, 4]);
}
