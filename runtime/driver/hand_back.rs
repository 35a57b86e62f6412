//! Ops whose future is dropped away from their driver (on another thread,
//! under another runtime, or while the driver is borrowed) go back to that
//! driver, which orphans their slot as if the future had been dropped at
//! home: cancelled in the kernel, freed at the final completion. This file
//! finds the driver; the item travels in its release queue
//! (`releases.rs`), and the protocol (`protocol.rs`) says what is sent and
//! what the driver does.
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
//! The item goes through [`Unpark::send`], the release queue's protocol
//! ("No lost releases" in `releases.rs`). At shutdown the owner leaves the
//! list below and takes what was queued; an item that still reaches its
//! queue is refused when the driver goes, and an op that finds no driver
//! is dropped: either way an adopted op is leaked, never freed, since a
//! ring being torn down may still hold it.
//!
//! Drivers are found by id in a small process-wide list, read only on this
//! rare path, so the per-op hot path carries no handle.

use std::sync::{Arc, Mutex, MutexGuard};

use super::id::DriverId;
use super::releases::{HandBack, Release};
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

/// Sends `item` to the driver `driver` and wakes it. If that driver is
/// gone it freed or leaked the slot already; an in-place op may still be
/// in a ring being torn down, so it leaks (dropping an `Adopted` does).
pub(crate) fn send(driver: DriverId, item: HandBack) {
    let owner = owners()
        .iter()
        .find(|(id, _)| *id == driver)
        .map(|(_, u)| u.clone());
    if let Some(unpark) = owner {
        unpark.send(Release::HandBack(item), || false);
    }
}
