//! The part of a worker other threads reach: its inbox and wake-up eventfd.
//!
//! # No lost wake-ups
//!
//! Before blocking in the kernel, the worker sets `parked` and then looks at
//! the inbox once more, and at the flags that bypass the inbox (the main
//! future's wake, a stop request). A remote sender pushes to the inbox (or
//! sets its flag) and then swaps `parked` to false, writing the eventfd if it
//! was set. Both sides use SeqCst, so either the worker sees the new item or
//! the sender sees `parked` and wakes the kernel wait. The worker looks at
//! `queued`, which the sender stores (under the lock, SeqCst) after pushing,
//! so an empty inbox costs the worker no lock.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::task::Runnable;
use crate::driver::cvt;
use crate::metrics::Counters;

/// Something sent to a worker from another thread.
pub(crate) enum Remote {
    /// A task to run on this worker.
    Task(Arc<dyn Runnable>),
    /// A blocking-pool op finished (epoll driver).
    Completion(usize, io::Result<u32>),
}

/// See [`Shared::inbox`].
#[derive(Default)]
struct Inbox {
    /// Items in arrival order.
    items: Vec<Remote>,
    /// The worker shut down: tasks are dropped on arrival.
    closed: bool,
}

/// A worker's cross-thread endpoint.
pub(crate) struct Shared {
    /// Tasks woken and completions posted by other threads.
    inbox: Mutex<Inbox>,
    /// How many items the inbox holds, readable without the lock.
    queued: AtomicUsize,
    /// The worker is (about to be) blocked in the kernel.
    parked: AtomicBool,
    /// Written to end the worker's kernel wait (read by both drivers).
    pub(crate) wake_fd: OwnedFd,
    /// The worker's counters.
    pub(crate) counters: Arc<Counters>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("wake_fd", &self.wake_fd)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: eventfd takes no pointers.
        let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) } as isize)?;
        Ok(Shared {
            inbox: Mutex::new(Inbox::default()),
            queued: AtomicUsize::new(0),
            parked: AtomicBool::new(false),
            // SAFETY: eventfd(2) returned a new fd that nothing else owns.
            wake_fd: unsafe { OwnedFd::from_raw_fd(fd as i32) },
            counters: Arc::new(Counters::default()),
        })
    }

    fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends an item from another thread and wakes the worker if it sleeps.
    pub(crate) fn push_remote(&self, item: Remote) {
        let mut inbox = self.inbox();
        if inbox.closed && matches!(item, Remote::Task(_)) {
            drop(inbox);
            return;
        }
        inbox.items.push(item);
        self.queued.store(inbox.items.len(), Ordering::SeqCst);
        drop(inbox);
        // Many threads push here, so this counter needs a real atomic add.
        self.counters.remote_wakes.fetch_add(1, Ordering::Relaxed);
        self.notify();
    }

    /// Ends the worker's kernel wait, if it is in one.
    pub(crate) fn notify(&self) {
        if self.parked.swap(false, Ordering::SeqCst) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a local u64 to the open eventfd.
            unsafe { libc::write(self.wake_fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }

    /// Worker: announces an imminent kernel wait; false if work arrived
    /// meanwhile, in the inbox or as a flag `wanted` reports. A flag set
    /// before `parked` was stored wrote no eventfd: only this look sees it.
    pub(crate) fn prepare_park(&self, wanted: &dyn Fn() -> bool) -> bool {
        self.parked.store(true, Ordering::SeqCst);
        if self.queued.load(Ordering::SeqCst) != 0 || wanted() {
            self.parked.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Worker: back from the kernel.
    pub(crate) fn unparked(&self) {
        self.parked.store(false, Ordering::SeqCst);
    }

    /// Worker: takes everything sent so far.
    pub(crate) fn take_inbox(&self) -> Vec<Remote> {
        if self.queued.load(Ordering::SeqCst) == 0 {
            return Vec::new();
        }
        let mut inbox = self.inbox();
        self.queued.store(0, Ordering::SeqCst);
        std::mem::take(&mut inbox.items)
    }

    /// Worker shutdown: later tasks are dropped on arrival; returns what was queued.
    pub(crate) fn close(&self) -> Vec<Remote> {
        let mut inbox = self.inbox();
        inbox.closed = true;
        self.queued.store(0, Ordering::SeqCst);
        std::mem::take(&mut inbox.items)
    }
}
