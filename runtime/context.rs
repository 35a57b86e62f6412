//! The thread-local current worker: its driver, timers and task queues.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

use slab::Slab;

use crate::driver::Driver;
use crate::executor::{Handle, Runnable, Shared};
use crate::time::Timers;

/// Everything one worker thread owns.
pub(crate) struct Worker {
    /// This worker's index in the runtime.
    pub(crate) index: usize,
    /// The proactor.
    pub(crate) driver: RefCell<Driver>,
    /// Pending sleeps.
    pub(crate) timers: RefCell<Timers>,
    /// Tasks ready to run, woken from this thread.
    pub(crate) run_queue: RefCell<VecDeque<Arc<dyn Runnable>>>,
    /// Every live task of this worker, so shutdown can drop them all.
    pub(crate) owned: RefCell<Slab<Arc<dyn Runnable>>>,
    /// The part other threads reach: inbox, wake-up fd, counters.
    pub(crate) shared: Arc<Shared>,
    /// The runtime this worker belongs to.
    pub(crate) handle: Arc<Handle>,
    /// Tasks polled per loop turn before completions are reaped.
    pub(crate) event_interval: usize,
    /// Wakers the driver collected, swapped out of it in batches and woken
    /// after its borrow ends; kept for its capacity.
    pub(crate) wake_batch: RefCell<Vec<std::task::Waker>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// The worker running on this thread, if any: a pointer borrowed from the
    /// `Rc` an [`EnterGuard`] holds. A const-initialised `Cell` of a raw
    /// pointer has no destructor to register, so reading it is a plain load
    /// (the hot paths read it several times per op).
    static CURRENT: Cell<*const Worker> = const { Cell::new(std::ptr::null()) };
}

/// The error of I/O started where no worker runs (outside `block_on` and
/// the runtime's threads).
pub(crate) fn no_runtime() -> std::io::Error {
    std::io::Error::other("no runtime on this thread: run I/O inside runtime::block_on or a task")
}

/// The worker running on this thread.
pub(crate) fn current() -> Option<Rc<Worker>> {
    let ptr = CURRENT.try_with(Cell::get).ok()?;
    if ptr.is_null() {
        return None;
    }
    // The guard that set a non-null `CURRENT` (from `Rc::into_raw` in `enter`)
    // holds that strong count until it restores `CURRENT`.
    // SAFETY: so the allocation is live; this adds a count for the new `Rc`.
    unsafe {
        Rc::increment_strong_count(ptr);
        Some(Rc::from_raw(ptr))
    }
}

/// Runs `f` on the worker running on this thread, if any, without cloning
/// its handle (the hot paths call this once per poll, wake and op).
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(&Worker) -> R) -> Option<R> {
    let ptr = CURRENT.try_with(Cell::get).ok()?;
    // SAFETY: see `current`: a non-null pointer is kept alive by the active
    // `EnterGuard`, which outlives this call (guards are dropped in reverse
    // order of creation on this thread, and `f` cannot drop one it did not make).
    unsafe { ptr.as_ref() }.map(f)
}

/// The worker running on this thread, for the `Op` hot path: no closure,
/// so a poll's output is not threaded through an `Option`.
///
/// # Safety
///
/// The caller must not keep the reference past the call that asked for it
/// (a poll): the `EnterGuard` keeping the worker alive lives on this thread's
/// stack below that call, and may be dropped once it returns.
#[inline]
pub(crate) unsafe fn current_in_call<'a>() -> Option<&'a Worker> {
    let ptr = CURRENT.try_with(Cell::get).ok()?;
    // SAFETY: a non-null pointer is kept alive by the guard that set it, which
    // outlives the caller's call (the caller's contract); a guard made and
    // dropped inside that call restores the pointer before returning.
    unsafe { ptr.as_ref() }
}

/// Makes `worker` current until the guard drops.
pub(crate) fn enter(worker: Rc<Worker>) -> EnterGuard {
    let ptr = Rc::into_raw(worker);
    let prev = CURRENT.with(|c| c.replace(ptr));
    EnterGuard { ptr, prev }
}

/// Restores the previous worker (normally none) on drop.
pub(crate) struct EnterGuard {
    /// The worker this guard made current; a strong count owned by the guard.
    ptr: *const Worker,
    /// The worker that was current before (owned by an outer guard).
    prev: *const Worker,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let _ = CURRENT.try_with(|c| c.set(self.prev));
        // SAFETY: `ptr` came from `Rc::into_raw` in `enter` and this guard owns
        // that count; `CURRENT` no longer points at it (restored above).
        drop(unsafe { Rc::from_raw(self.ptr) });
    }
}
