//! The worker's event loop: run tasks within a budget, submit and reap, fire
//! timers, repeat. Also worker shutdown.
//!
//! One turn polls at most `event_interval` tasks, then parks the driver:
//! without waiting if tasks are still runnable, otherwise until the next timer
//! deadline or a completion. So always-ready tasks cannot starve I/O or
//! timers, and an idle worker sleeps in the kernel.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use super::coop;
use super::failure::worker_died;
use super::shared::Shared;
use crate::context::Worker;
use crate::driver::Collected;
use crate::metrics::bump;

/// The waker of the future passed to `block_on`.
struct MainWaker {
    /// Set by a wake, cleared before each poll.
    woken: AtomicBool,
    /// To end the worker's kernel wait when woken from another thread.
    shared: Arc<Shared>,
}

impl Wake for MainWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.shared.notify();
    }
}

/// Runs `fut` to completion on `worker`, running its tasks meanwhile.
///
/// # Panics
///
/// With a dead worker's message once `fut` cannot finish without it (see
/// `failure.rs`).
pub(crate) fn block_on_worker<F: Future>(worker: &Worker, fut: F) -> F::Output {
    let _attended = Attended::new(worker);
    let main = Arc::new(MainWaker {
        woken: AtomicBool::new(true),
        shared: worker.shared.clone(),
    });
    let waker = Waker::from(main.clone());
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        // Loaded first: the swap is a locked instruction, and most turns
        // run tasks, not the main future.
        if main.woken.load(Ordering::SeqCst) && main.woken.swap(false, Ordering::SeqCst) {
            coop::reset();
            if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
                return out;
            }
        }
        let failures = &worker.handle.failures;
        // A dead worker delivered what it owed (its tasks' results) before
        // recording its death, waking `fut` for them: not woken now, `fut`
        // saw them all and still waits, maybe for that worker.
        if failures.any() && !main.woken.load(Ordering::SeqCst) {
            failures.report();
        }
        turn(worker, &|| {
            main.woken.load(Ordering::SeqCst) || failures.any()
        });
    }
}

/// Runs a worker thread's loop until `stop` is set, then shuts the worker
/// down. A panic outside any task ends the worker (`failure.rs`).
pub(crate) fn run_worker(worker: &Worker, stop: &AtomicBool) {
    // For good: a worker thread turns until it stops, and its driver goes then.
    worker.driver.borrow_mut().attend(true);
    let ran = catch_unwind(AssertUnwindSafe(|| {
        while !stop.load(Ordering::SeqCst) {
            turn(worker, &|| stop.load(Ordering::SeqCst));
        }
    }));
    match ran {
        Ok(()) => shutdown_worker(worker),
        Err(payload) => worker_died(worker, &*payload),
    }
}

/// Tells the driver that its worker turns its loop, until dropped: work
/// other threads send it (registered files to let go) is then done in a
/// turn, and otherwise when it turns again or goes.
struct Attended<'a>(&'a Worker);

impl<'a> Attended<'a> {
    fn new(worker: &'a Worker) -> Self {
        worker.driver.borrow_mut().attend(true);
        Attended(worker)
    }
}

impl Drop for Attended<'_> {
    fn drop(&mut self) {
        // Borrowed only if a caller up the stack holds the driver, which
        // none does around `block_on`; then it stays attended until it goes.
        let Ok(mut driver) = self.0.driver.try_borrow_mut() else {
            return;
        };
        driver.attend(false);
        drop(driver);
        // What that did (closes told), before `block_on` returns; not while
        // unwinding, where a waker that panics too would abort.
        if !std::thread::panicking() {
            run_deferred(self.0);
        }
    }
}

/// One loop turn. `wanted` says whether something outside the queues (the
/// main future, a stop request) needs attention, so the turn must not block.
fn turn(worker: &Worker, wanted: &dyn Fn() -> bool) {
    bump(&worker.shared.counters.ticks);
    for _ in 0..worker.event_interval {
        let next = worker.run_queue.borrow_mut().pop_front();
        let Some(task) = next else { break };
        task.run();
    }
    drain_inbox(worker);

    let busy = !worker.run_queue.borrow().is_empty() || wanted();
    let timeout = if busy {
        Some(Duration::ZERO)
    } else {
        let mut timers = worker.timers.borrow_mut();
        match timers.is_empty() {
            true => None,
            false => timers.next_timeout(Instant::now()),
        }
    };
    let blocking = timeout != Some(Duration::ZERO);
    let timeout = if blocking && !worker.shared.prepare_park(wanted) {
        Some(Duration::ZERO)
    } else {
        timeout
    };
    if timeout != Some(Duration::ZERO) {
        bump(&worker.shared.counters.parks);
    }
    {
        let mut driver = worker.driver.borrow_mut();
        let in_flight = driver.in_flight();
        worker
            .shared
            .counters
            .ops_in_flight
            .store(in_flight as u64, Ordering::Relaxed);
        driver.park(timeout);
    }
    worker.shared.unparked();
    run_deferred(worker);
    // Most turns of a network server have no timer: skip the clock read.
    if !worker.timers.borrow().is_empty() {
        let mut fired = Vec::new();
        worker.timers.borrow_mut().fire(Instant::now(), &mut fired);
        for w in fired {
            w.wake();
        }
    }
    drain_inbox(worker);
}

/// Runs what the driver collected (wakers, finished orphans), each outside
/// the driver's borrow: a waker or a dropped output may reach the driver
/// again (and add more work, which this loop then runs).
#[inline]
fn run_deferred(worker: &Worker) {
    // Only this function touches the batch vector; were it ever re-entered,
    // the inner call would find it borrowed and leave the work to the outer.
    let Ok(mut batch) = worker.wake_batch.try_borrow_mut() else {
        return;
    };
    loop {
        let next = worker.driver.borrow_mut().next_deferred(&mut batch);
        match next {
            Some(Collected::Wake(w)) => w.wake(),
            Some(Collected::Batch) => batch.drain(..).for_each(Waker::wake),
            Some(Collected::Free(done)) => {
                if done.discard() {
                    bump(&worker.shared.counters.receives_adopted);
                }
            }
            None => return,
        }
    }
}

/// Moves tasks woken elsewhere to the run queue. Twice a turn, nearly
/// always empty: a load, with the move out of line.
#[inline(always)]
fn drain_inbox(worker: &Worker) {
    if worker.shared.has_inbox() {
        move_inbox(worker);
    }
}

/// [`drain_inbox`]'s move, for the rare turn that has one.
#[inline(never)]
fn move_inbox(worker: &Worker) {
    let items = worker.shared.take_inbox();
    worker.run_queue.borrow_mut().extend(items);
}

/// Drops every task, cancels and reaps every op, then lets the driver go.
/// The worker must be current on this thread (ops find their driver there).
pub(crate) fn shutdown_worker(worker: &Worker) {
    drop_tasks(worker);
    release_driver(worker);
}

/// Refuses new tasks and drops every task of the worker (each handle hears
/// the worker's stop error), on the worker's thread, with it current.
pub(crate) fn drop_tasks(worker: &Worker) {
    for task in worker.shared.close() {
        task.shutdown();
    }
    // Dropping a task's future can spawn or wake others: repeat until none is left.
    for _ in 0..64 {
        let owned = std::mem::take(&mut *worker.owned.borrow_mut());
        let queue = std::mem::take(&mut *worker.run_queue.borrow_mut());
        if owned.is_empty() && queue.is_empty() {
            break;
        }
        for (_, task) in owned {
            // Its key may be reused by a task spawned while it drops; so
            // `finish` will not see it, and it is counted as finished here.
            task.header()
                .owned_key
                .store(super::task::NOT_OWNED, Ordering::Relaxed);
            bump(&worker.shared.counters.tasks_finished);
            task.shutdown();
        }
        for task in queue {
            task.shutdown();
        }
        run_deferred(worker);
    }
}

/// After [`drop_tasks`]: cancels and reaps every op, then lets the driver go.
pub(crate) fn release_driver(worker: &Worker) {
    worker.timers.borrow_mut().clear();
    let mut driver = worker.driver.borrow_mut();
    driver.shutdown();
    let deferred = driver.take_deferred();
    drop(driver);
    // Tasks are gone: dropping the wakers is enough; finished orphans free their memory.
    drop(deferred.wakers);
    for done in deferred.frees {
        let _ = done.discard();
    }
}
