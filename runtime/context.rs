//! The thread-local current worker: its driver, timers and task queues.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::Arc;

use slab::Slab;

use crate::driver::{Deferred, Driver};
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
    /// The driver's collected work is swapped into this spare and run from
    /// it, so the two vectors keep their capacity from turn to turn.
    pub(crate) deferred: RefCell<Deferred>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

thread_local! {
    /// The worker running on this thread, if any.
    static CURRENT: RefCell<Option<Rc<Worker>>> = const { RefCell::new(None) };
}

/// The worker running on this thread.
pub(crate) fn current() -> Option<Rc<Worker>> {
    CURRENT.try_with(|c| c.borrow().clone()).ok().flatten()
}

/// Runs `f` on the worker running on this thread, if any, without cloning
/// its handle (the hot paths call this once per poll, wake and op).
pub(crate) fn with_current<R>(f: impl FnOnce(&Worker) -> R) -> Option<R> {
    CURRENT
        .try_with(|c| c.borrow().as_deref().map(f))
        .ok()
        .flatten()
}

/// Makes `worker` current until the guard drops.
pub(crate) fn enter(worker: Rc<Worker>) -> EnterGuard {
    let prev = CURRENT.with(|c| c.borrow_mut().replace(worker));
    EnterGuard { prev }
}

/// Restores the previous worker (normally none) on drop.
pub(crate) struct EnterGuard {
    /// The worker that was current before.
    prev: Option<Rc<Worker>>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        let prev = self.prev.take();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = prev);
    }
}
