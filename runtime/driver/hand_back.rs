//! Ops whose future is dropped away from their driver (on another thread,
//! under another runtime, or while the driver is borrowed) go back to that
//! driver, which orphans their slot as if the future had been dropped at
//! home: cancelled in the kernel, freed at the final completion.
//!
//! # Why this is sound
//!
//! An `Op<T>` is `Send` exactly when `T` is, so a hand-back carries either a
//! `Send` op, or one whose future never left the thread it was polled on,
//! where its driver was current; drivers never change thread, so that op is
//! handed to a driver on its own thread. Either way the op is touched only by
//! the thread that takes it from the queue: its owner's.
//!
//! # No lost hand-back
//!
//! The owner looks at its queue in `Driver::park`, after the executor's
//! `prepare_park`; a sender publishes first and then calls
//! [`Unpark::unpark`], so either the owner sees the item or the sender ends
//! its kernel wait (the rule of `unpark.rs`). At shutdown the owner closes
//! the queue under its lock and handles what was queued; a later sender gets
//! its op back and leaks it, since a ring being torn down may still hold it.
//!
//! Drivers are found by id in a small process-wide list, read only on this
//! rare path, so the per-op hot path carries no handle.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::op_state::{DriverId, OpState, Phase};
use super::operation::{Erased, Operation};
use super::unpark::Unpark;

/// The live drivers and their wake-up handles (a handful per process).
static OWNERS: Mutex<Vec<(DriverId, Arc<Unpark>)>> = Mutex::new(Vec::new());

fn owners() -> MutexGuard<'static, Vec<(DriverId, Arc<Unpark>)>> {
    OWNERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// A driver starts: ops it holds can find it.
pub(crate) fn register(id: DriverId, unpark: &Arc<Unpark>) {
    owners().push((id, unpark.clone()));
}

/// A driver shuts down: no new hand-backs reach it.
pub(crate) fn unregister(id: DriverId) {
    owners().retain(|(d, _)| *d != id);
}

/// What a driver gets back.
pub(crate) enum HandBack {
    /// The future of the op in slot `key` was dropped; cancel it in the
    /// kernel if `bool` (its `CANCEL_ON_DROP`).
    Slot(usize, bool),
    /// The future of the in-place op of slot `key` was dropped: here is the
    /// op, for the slot to keep until the kernel lets go (cancelled there
    /// if `bool`).
    InPlace(usize, Adopted, bool),
}

/// An op on its way to its own driver's thread.
pub(crate) struct Adopted(pub(crate) Box<dyn Erased>);

// SAFETY: see the module doc: the op is `Send`, or it goes to a driver on the
// thread where it already is; only the owner's thread touches it after this.
unsafe impl Send for Adopted {}

/// A driver's queue of hand-backs, inside its [`Unpark`].
#[derive(Default)]
pub(crate) struct Queue {
    /// In arrival order; `None` once the driver shut down.
    items: Mutex<Option<Vec<HandBack>>>,
    /// Whether `items` may hold any, readable without the lock.
    posted: AtomicBool,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

impl Queue {
    /// A queue open for hand-backs.
    pub(crate) fn new() -> Self {
        Queue {
            items: Mutex::new(Some(Vec::new())),
            posted: Default::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Vec<HandBack>>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Any thread: queues `item`; gives it back if the driver shut down.
    fn push(&self, item: HandBack) -> Result<(), HandBack> {
        let mut items = self.lock();
        let Some(items) = items.as_mut() else {
            return Err(item);
        };
        items.push(item);
        self.posted.store(true, Ordering::SeqCst);
        Ok(())
    }

    /// Owner: takes what was handed back so far (a load when nothing was).
    #[inline]
    pub(crate) fn take(&self) -> Vec<HandBack> {
        if !self.posted.load(Ordering::SeqCst) {
            return Vec::new();
        }
        let mut items = self.lock();
        self.posted.store(false, Ordering::SeqCst);
        items.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Owner, at shutdown: closes the queue; returns what was queued.
    pub(crate) fn close(&self) -> Vec<HandBack> {
        self.lock().take().unwrap_or_default()
    }
}

/// The future of `st` is dropped where its driver cannot take it: sends the
/// op's slot (and an in-place op itself) to that driver. An op whose driver
/// is gone is leaked if a kernel may still hold it, never freed.
pub(crate) fn hand_back<T: Operation>(st: &mut OpState<T>) {
    let (driver, item) = match st.phase {
        Phase::Held { driver, key, .. } => (driver, HandBack::Slot(key, T::CANCEL_ON_DROP)),
        Phase::InKernel { driver, key, .. } => {
            let op: Box<dyn Erased> = Box::new(st.give());
            (
                driver,
                HandBack::InPlace(key, Adopted(op), T::CANCEL_ON_DROP),
            )
        }
        // Nothing of it is in a kernel; a readiness registration left behind
        // wakes nobody who cares.
        Phase::Unheld(_) | Phase::Finished => {
            st.phase = Phase::Finished;
            return;
        }
    };
    st.phase = Phase::Finished;
    let owner = owners()
        .iter()
        .find(|(id, _)| *id == driver)
        .map(|(_, u)| u.clone());
    let refused = match &owner {
        Some(unpark) => match unpark.hand_backs.push(item) {
            Ok(()) => {
                unpark.unpark();
                return;
            }
            Err(item) => item,
        },
        None => item,
    };
    // The driver shut down: it freed or leaked the slot; an in-place op may
    // still be in a ring being torn down, so it leaks.
    if let HandBack::InPlace(_, Adopted(op), _) = refused {
        std::mem::forget(op);
    }
}
