//! The task cell: a future, its cached waker and its output rendezvous, in one
//! allocation.
//!
//! # Threads
//!
//! A task belongs to one worker (its `owner`). The future, the cached waker
//! and `owned_key` are touched only on that worker's thread: when it runs the
//! task, and when it drops the future (completion, abort or shutdown). Other
//! threads touch only the atomic `state`, the `owner` handle (to push the task
//! to the owner's inbox) and the mutex-guarded `JoinState`. The output lives in
//! the `JoinState`; when it is `!Send`, so is the `JoinHandle`, which keeps the
//! output on the owner's thread.
//!
//! # State bits
//!
//! - `SCHEDULED`: the task is in a run queue or inbox; set by whoever enqueues
//!   it (only the first waker enqueues), cleared by the owner just before polling.
//! - `COMPLETE`: the future is gone; wakes are ignored from then on.
//! - `CANCELLED`: `abort()` was called; the owner drops the future on its next run.

use std::cell::UnsafeCell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use super::coop;
use super::join::{JoinError, JoinState, Joinable};
use super::Shared;
use crate::context;
use crate::metrics::bump;

const SCHEDULED: u8 = 1;
const COMPLETE: u8 = 2;
const CANCELLED: u8 = 4;

/// `owned_key` of a task not yet registered with its worker (spawned from another thread).
pub(crate) const NOT_OWNED: usize = usize::MAX;

/// What the run queue and inboxes hold.
pub(crate) trait Runnable: Send + Sync + 'static {
    /// Owner thread: polls the task once (or finishes it if cancelled).
    fn run(self: Arc<Self>);
    /// Owner thread: drops the future at shutdown; the handle sees `Cancelled`.
    fn shutdown(&self);
    /// The part any thread may touch.
    fn header(&self) -> &Header;
}

/// The thread-safe part of a task.
pub(crate) struct Header {
    /// `SCHEDULED | COMPLETE | CANCELLED`.
    state: AtomicU8,
    /// The worker that runs the task.
    pub(crate) owner: Arc<Shared>,
    /// Key in the owner's `owned` slab; `NOT_OWNED` until registered.
    pub(crate) owned_key: AtomicUsize,
}

/// A spawned future and its output rendezvous.
pub(crate) struct TaskCell<F: Future> {
    /// State bits and owner.
    header: Header,
    /// The future, until it completes or is dropped (owner thread only).
    future: UnsafeCell<Option<F>>,
    /// This task's waker, built on first poll (owner thread only); cleared at
    /// completion to break the cycle it forms with the cell.
    waker: UnsafeCell<Option<Waker>>,
    /// Output hand-over to the `JoinHandle`.
    join: JoinState<F::Output>,
}

// SAFETY: other threads touch only `header` (atomics and an `Arc<Shared>`)
// and `join` (mutex-guarded; its output is `!Send` only when the `JoinHandle`
// is too). `future` and `waker` are touched only on the owner's thread (module docs).
unsafe impl<F: Future> Send for TaskCell<F> {}
// SAFETY: as for `Send`: shared access goes through atomics and a mutex only.
unsafe impl<F: Future> Sync for TaskCell<F> {}

impl<F: Future + 'static> TaskCell<F> {
    /// A new task owned by `owner`, not yet scheduled.
    pub(crate) fn new(future: F, owner: Arc<Shared>) -> Arc<Self> {
        Arc::new(TaskCell {
            header: Header {
                state: AtomicU8::new(0),
                owner,
                owned_key: AtomicUsize::new(NOT_OWNED),
            },
            future: UnsafeCell::new(Some(future)),
            waker: UnsafeCell::new(None),
            join: JoinState::new(),
        })
    }

    /// Ends a task its owner refused (see [`send_new`]) with the owner's
    /// stop error, dropping its future on this thread.
    ///
    /// # Safety
    ///
    /// The task never ran and is in no queue, and its future may be dropped
    /// on this thread (a `spawn_on` future that never ran is its `Send`
    /// closure).
    pub(crate) unsafe fn fail_unstarted(&self) {
        self.header.state.fetch_or(COMPLETE, Ordering::AcqRel);
        // SAFETY: the caller's promise: nothing else touches the future.
        let dropped = catch_unwind(AssertUnwindSafe(|| unsafe { *self.future.get() = None }));
        let err = match dropped {
            Ok(()) => self.header.owner.stop_error(),
            Err(payload) => JoinError::panic(payload),
        };
        self.join.complete(Err(err));
    }

    /// Owner thread: drops the future and publishes the output.
    fn finish(&self, out: Result<F::Output, JoinError>) {
        self.header.state.fetch_or(COMPLETE, Ordering::AcqRel);
        // Dropped where it lies, never moved out first: it was pinned there,
        // and a polled future may point into itself (a borrow across an await).
        // SAFETY: owner thread (module docs); nothing else borrows the future now.
        let dropped = catch_unwind(AssertUnwindSafe(|| unsafe { *self.future.get() = None }));
        // SAFETY: owner thread; the cached waker is not borrowed outside `run`.
        let waker = unsafe { (*self.waker.get()).take() };
        drop(waker);
        let removed = context::with_current(|worker| {
            let key = self.header.owned_key.swap(NOT_OWNED, Ordering::Relaxed);
            // Counted as finished where it was counted as spawned: on the
            // worker that registered it (shutdown counts the ones it unregisters).
            (key != NOT_OWNED)
                .then(|| {
                    bump(&worker.shared.counters.tasks_finished);
                    worker.owned.borrow_mut().try_remove(key)
                })
                .flatten()
        });
        // Dropped outside the worker's borrow: it may be the last reference.
        drop(removed);
        let out = match (out, dropped) {
            (Ok(_), Err(payload)) => Err(JoinError::panic(payload)),
            (out, _) => out,
        };
        self.join.complete(out);
    }
}

impl<F: Future + 'static> Runnable for TaskCell<F> {
    fn run(self: Arc<Self>) {
        let prev = self.header.state.fetch_and(!SCHEDULED, Ordering::AcqRel);
        if prev & COMPLETE != 0 {
            return;
        }
        if prev & CANCELLED != 0 {
            self.finish(Err(JoinError::cancelled()));
            return;
        }
        if self.header.owned_key.load(Ordering::Relaxed) == NOT_OWNED {
            register(&(self.clone() as Arc<dyn Runnable>));
        }
        // SAFETY: owner thread (module docs); `run` is not re-entered for one task.
        let waker_slot = unsafe { &mut *self.waker.get() };
        let waker = waker_slot.get_or_insert_with(|| Waker::from(self.clone()));
        let mut cx = Context::from_waker(waker);
        // SAFETY: owner thread; the future is never moved out while `Some`
        // (it is only dropped in place by `finish`), so pinning it is sound.
        let future = unsafe { &mut *self.future.get() };
        let Some(future) = future.as_mut() else {
            return;
        };
        coop::reset();
        let polled = catch_unwind(AssertUnwindSafe(|| {
            // SAFETY: see above: the future stays where it is until dropped.
            unsafe { Pin::new_unchecked(future) }.poll(&mut cx)
        }));
        match polled {
            Ok(Poll::Pending) => {}
            Ok(Poll::Ready(v)) => self.finish(Ok(v)),
            Err(payload) => self.finish(Err(JoinError::panic(payload))),
        }
    }

    fn shutdown(&self) {
        if self.header.state.fetch_or(COMPLETE, Ordering::AcqRel) & COMPLETE == 0 {
            self.finish(Err(self.header.owner.stop_error()));
        }
    }

    fn header(&self) -> &Header {
        &self.header
    }
}

impl<F: Future + 'static> Joinable<F::Output> for TaskCell<F> {
    fn join_state(&self) -> &JoinState<F::Output> {
        &self.join
    }

    fn abort(self: Arc<Self>) {
        let prev = self.header.state.fetch_or(CANCELLED, Ordering::AcqRel);
        if prev & (COMPLETE | CANCELLED) == 0 {
            schedule(self);
        }
    }
}

impl<F: Future + 'static> Wake for TaskCell<F> {
    fn wake(self: Arc<Self>) {
        schedule_cell(self);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.header.state.load(Ordering::Acquire) & (SCHEDULED | COMPLETE) == 0 {
            schedule_cell(self.clone());
        }
    }
}

/// [`schedule`] for a cell of known type: the wake of every I/O completion,
/// so its header is reached without a virtual call.
#[inline]
fn schedule_cell<F: Future + 'static>(cell: Arc<TaskCell<F>>) {
    let prev = cell.header.state.fetch_or(SCHEDULED, Ordering::AcqRel);
    if prev & (SCHEDULED | COMPLETE) != 0 {
        return;
    }
    let mut slot = Some(cell);
    context::with_current(|worker| {
        if let Some(cell) = slot.take_if(|c| Arc::ptr_eq(&worker.shared, &c.header.owner)) {
            worker.run_queue.borrow_mut().push_back(cell);
        }
    });
    if let Some(cell) = slot {
        let owner = cell.header.owner.clone();
        // Refused by a worker that stopped: the task already finished there.
        let _ = owner.push_remote(cell);
    }
}

/// Puts a task on its owner's run queue (same thread) or inbox (other thread).
pub(crate) fn schedule(task: Arc<dyn Runnable>) {
    let header = task.header();
    let prev = header.state.fetch_or(SCHEDULED, Ordering::AcqRel);
    if prev & (SCHEDULED | COMPLETE) != 0 {
        return;
    }
    let mut slot = Some(task);
    context::with_current(|worker| {
        if let Some(task) = slot.take_if(|t| Arc::ptr_eq(&worker.shared, &t.header().owner)) {
            worker.run_queue.borrow_mut().push_back(task);
        }
    });
    if let Some(task) = slot {
        let owner = task.header().owner.clone();
        // Refused by a worker that stopped: the task already finished there
        // (a new `spawn_on` task goes through `send_new` instead).
        let _ = owner.push_remote(task);
    }
}

/// Sends a task `spawn_on` just made to its owner, another worker; false
/// if the owner stopped (shut down or died) and refused it.
pub(crate) fn send_new(task: Arc<dyn Runnable>) -> bool {
    task.header().state.fetch_or(SCHEDULED, Ordering::AcqRel);
    let owner = task.header().owner.clone();
    owner.push_remote(task).is_ok()
}

/// Owner thread: records a task in the worker's `owned` set (for shutdown)
/// and counts it as spawned there: the metrics count a task on the worker
/// that runs it, whichever worker spawned it.
pub(crate) fn register(task: &Arc<dyn Runnable>) {
    if let Some(worker) = context::current() {
        let key = worker.owned.borrow_mut().insert(task.clone());
        task.header().owned_key.store(key, Ordering::Relaxed);
        bump(&worker.shared.counters.tasks_spawned);
    }
}

/// Erases a cell for the run queue.
pub(crate) fn as_runnable<F: Future + 'static>(cell: &Arc<TaskCell<F>>) -> Arc<dyn Runnable> {
    cell.clone()
}

/// Erases a cell for a `JoinHandle`.
pub(crate) fn as_joinable<F: Future + 'static>(
    cell: Arc<TaskCell<F>>,
) -> Arc<dyn Joinable<F::Output>> {
    cell
}
