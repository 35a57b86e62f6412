//! Worker failures: a worker thread that panics outside any task (its driver
//! cannot reach the kernel, a waker or an orphan's `Drop` panics) is dead,
//! and the runtime says so instead of carrying on half alive.
//!
//! # What a death does, in order
//!
//! 1. The worker records its message on its [`Shared`](super::Shared): from
//!    then on its inbox refuses work, so a `spawn_on` to it resolves at once
//!    with a `JoinError` carrying the message.
//! 2. It drops its tasks on its own thread (their futures need not be
//!    `Send`); each `JoinHandle` resolves with that `JoinError`.
//! 3. It records the death here, runtime-wide, and wakes every worker.
//!    `block_on` then returns if its future can finish (with what steps 1
//!    and 2 delivered, which it is woken for before it can see step 3),
//!    and otherwise panics with the message; `Runtime`'s `Drop` panics with
//!    it if `block_on` never did, as `std::thread::scope` does for a thread
//!    that panicked.
//! 4. It lets its driver go; if that panics too, the worker and everything
//!    it owns are leaked, never freed under the kernel.

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::run_loop::{drop_tasks, release_driver};
use crate::context::{self, Worker};

/// The deaths of a runtime's workers.
#[derive(Debug, Default)]
pub(crate) struct Failures {
    /// Set once any worker died: one load per `block_on` turn.
    any: AtomicBool,
    /// The first death, which is the one reported.
    first: Mutex<Option<Death>>,
}

/// A worker's death, as the user hears of it.
#[derive(Debug)]
struct Death {
    /// Which worker, and its panic message.
    msg: String,
    /// `block_on` or `Drop` panicked with it already.
    reported: bool,
}

impl Failures {
    fn first(&self) -> std::sync::MutexGuard<'_, Option<Death>> {
        self.first.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a death (the first one's message is the one reported).
    pub(crate) fn record(&self, msg: &str) {
        self.first().get_or_insert_with(|| Death {
            msg: msg.to_owned(),
            reported: false,
        });
        self.any.store(true, Ordering::SeqCst);
    }

    /// Whether any worker died.
    #[inline]
    pub(crate) fn any(&self) -> bool {
        self.any.load(Ordering::SeqCst)
    }

    /// `block_on`: panics with the first death's message.
    #[cold]
    #[track_caller]
    pub(crate) fn report(&self) -> ! {
        let msg = match self.first().as_mut() {
            Some(death) => {
                death.reported = true;
                death.msg.clone()
            }
            None => "runtime: a worker stopped".to_owned(),
        };
        panic!("{msg}")
    }

    /// `Drop`: the first death's message, if nothing reported it yet.
    pub(crate) fn take_unreported(&self) -> Option<String> {
        let mut first = self.first();
        let death = first.as_mut().filter(|d| !d.reported)?;
        death.reported = true;
        Some(death.msg.clone())
    }
}

/// A panic payload's message, when it is a string.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// The worker on this thread panicked outside any task with `payload`:
/// steps 1 to 4 of the module doc. It must be current on this thread.
pub(crate) fn worker_died(worker: &Worker, payload: &(dyn Any + Send)) {
    let msg = format!(
        "runtime: worker {} panicked outside a task and stopped: {}",
        worker.index,
        panic_message(payload)
    );
    worker.shared.die(&msg);
    let dropped = catch_unwind(AssertUnwindSafe(|| drop_tasks(worker)));
    worker.handle.failures.record(&msg);
    for other in &worker.handle.workers {
        other.notify();
    }
    let released =
        dropped.is_ok() && catch_unwind(AssertUnwindSafe(|| release_driver(worker))).is_ok();
    if !released {
        // Something panicked again: what is left (tasks, ops the kernel may
        // still write into, the driver) is leaked, never freed.
        std::mem::forget(context::current());
    }
}
