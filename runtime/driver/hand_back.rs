//! Ops whose future is dropped away from their driver (on another thread,
//! under another runtime, or while the driver is borrowed) go back to that
//! driver, which orphans their slot as if the future had been dropped at
//! home: cancelled in the kernel, freed at the final completion. This file
//! finds the driver; the item travels in its [`Unpark`] queue, and the
//! protocol (`protocol.rs`) says what is sent and what the driver does.
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

use std::sync::{Arc, Mutex, MutexGuard};

use super::id::DriverId;
use super::unpark::{Adopted, HandBack, Unpark};

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

/// Sends `item` to the driver `driver` and wakes it. If that driver is
/// gone it freed or leaked the slot already; an in-place op may still be
/// in a ring being torn down, so it leaks.
pub(crate) fn send(driver: DriverId, item: HandBack) {
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
    if let HandBack::InPlace(_, Adopted(op), _) = refused {
        std::mem::forget(op);
    }
}
