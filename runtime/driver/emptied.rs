//! [`Emptied`]: the signal a `File::close` waits on until the worker that
//! registered the file has emptied its slot in the ring's file table, or
//! has said why it could not yet.
//!
//! A slot in a ring's file table holds the file open in the kernel, past a
//! `close(2)` of its descriptor (a `flock` stays held, a deleted file keeps
//! its blocks), so a close that wants the file gone waits for the slot.
//! The first outcome given counts; later ones are ignored, so a worker that
//! empties the slot and a releaser that finds the worker idle may both
//! speak without a race deciding what the close hears.

use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

/// Whether a file's slot was emptied, for the `close` that waits on it.
#[derive(Debug, Default)]
pub(crate) struct Emptied {
    /// See [`EmptiedState`].
    state: Mutex<EmptiedState>,
}

/// What [`Emptied`] guards.
#[derive(Debug, Default)]
struct EmptiedState {
    /// The outcome once known (the first one counts): `Err` says why the
    /// file is still open.
    outcome: Option<Result<(), String>>,
    /// The close waiting for it.
    waiter: Option<Waker>,
}

impl Emptied {
    /// A signal nobody has given yet.
    pub(crate) fn new() -> Arc<Emptied> {
        Arc::default()
    }

    fn lock(&self) -> MutexGuard<'_, EmptiedState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ready with the outcome: `Err` says why the file is still open.
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        let mut state = self.lock();
        if let Some(outcome) = state.outcome.clone() {
            return Poll::Ready(outcome);
        }
        state.waiter = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Records `outcome` (unless one was); returns the waiter to wake.
    #[must_use = "the waiter must be woken"]
    pub(crate) fn give(&self, outcome: Result<(), String>) -> Option<Waker> {
        let mut state = self.lock();
        if state.outcome.is_some() {
            return None;
        }
        state.outcome = Some(outcome);
        state.waiter.take()
    }

    /// Gives `outcome` to `done`, if anyone waits, and wakes the waiter now
    /// (never call it while a driver is borrowed: the driver collects the
    /// waker from [`give`](Emptied::give) instead).
    pub(crate) fn tell(done: Option<Arc<Emptied>>, outcome: Result<(), String>) {
        if let Some(waker) = done.and_then(|d| d.give(outcome)) {
            waker.wake();
        }
    }
}
