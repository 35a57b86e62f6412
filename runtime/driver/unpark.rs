//! `Unpark`: how other threads end a worker's wait in the kernel, the queue
//! through which blocking-pool completions reach the epoll driver, and the
//! worker's one release queue (`releases.rs`): ops dropped elsewhere,
//! receives of sockets closed elsewhere, registered slots let go.
//!
//! # No lost wake-ups
//!
//! Before blocking, the worker calls [`Unpark::prepare_park`], which sets
//! `parked` and then looks once more at what could have arrived (pool
//! completions here; the executor then looks at its inbox and flags; the
//! driver at its release queue, in `park`). A sender publishes its item
//! first and then calls [`Unpark::unpark`], which swaps `parked` to false
//! and writes the eventfd if it was set. Both sides use SeqCst, so either
//! the worker sees the item or the sender sees `parked` and ends the kernel
//! wait: the eventfd is read by both drivers (a read in the ring, or an
//! epoll registration). [`Unpark::send`] is that protocol for releases.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::operation::cvt;
use super::releases::{Release, Releases, Sent};

/// A worker's wake-up eventfd, its pool-completion queue and its release
/// queue; shared (in an `Arc`) by the driver, the executor, the pool
/// threads and every holder of a registered slot.
pub(crate) struct Unpark {
    /// Written to end the worker's kernel wait.
    fd: OwnedFd,
    /// The worker is (about to be) blocked in the kernel.
    parked: AtomicBool,
    /// Blocking-pool results, by slot key, not yet handed to the driver.
    completions: Mutex<Vec<(usize, io::Result<u32>)>>,
    /// Whether `completions` may be non-empty, readable without the lock.
    posted: AtomicBool,
    /// What only this worker's driver may let go (`releases.rs`).
    pub(crate) releases: Releases,
    /// The worker's ring, if it takes `IORING_OP_MSG_RING` messages
    /// (`hand_off.rs`); -1 otherwise (epoll, or an old kernel).
    ring_fd: AtomicI32,
}

impl std::fmt::Debug for Unpark {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unpark")
            .field("fd", &self.fd.as_raw_fd())
            .field("parked", &self.parked)
            .finish_non_exhaustive()
    }
}

impl Unpark {
    /// Creates the eventfd.
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: eventfd takes no pointers.
        let fd = cvt(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) } as isize)?;
        Ok(Unpark {
            // SAFETY: eventfd(2) returned a new fd that nothing else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd as RawFd) },
            parked: AtomicBool::new(false),
            completions: Mutex::new(Vec::new()),
            posted: AtomicBool::new(false),
            releases: Releases::new(),
            ring_fd: AtomicI32::new(-1),
        })
    }

    /// The io_uring driver: its ring takes descriptors by `MSG_RING`.
    pub(crate) fn set_ring_fd(&self, fd: RawFd) {
        self.ring_fd.store(fd, Ordering::Release);
    }

    #[cfg_attr(not(feature = "hyper"), allow(dead_code))]
    /// Any thread: the worker's ring for `MSG_RING`, if it takes them (the
    /// ring lives as long as its worker, which outlives its runtime's tasks).
    pub(crate) fn ring_fd(&self) -> Option<RawFd> {
        Some(self.ring_fd.load(Ordering::Acquire)).filter(|fd| *fd >= 0)
    }

    /// The eventfd, for the driver to wait on.
    pub(crate) fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// Worker: its loop starts (true) or stops (false) running.
    pub(crate) fn set_active(&self, active: bool) {
        self.releases.set_active(active);
    }

    /// Whether the worker's loop is running, so that it will reap what its
    /// ring completes.
    pub(crate) fn is_active(&self) -> bool {
        self.releases.is_active()
    }

    /// Any thread: ends the worker's kernel wait, if it is in one.
    pub(crate) fn unpark(&self) {
        if self.parked.swap(false, Ordering::SeqCst) {
            let one: u64 = 1;
            // SAFETY: writes 8 bytes from a local u64 to the open eventfd.
            unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
        }
    }

    /// Worker: announces an imminent kernel wait; false (and not parked) if a
    /// pool completion is already waiting.
    pub(crate) fn prepare_park(&self) -> bool {
        self.parked.store(true, Ordering::SeqCst);
        if self.posted.load(Ordering::SeqCst) {
            self.parked.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Worker: back from the kernel (or not going after all).
    ///
    /// A plain store, not SeqCst: a sender that still sees `parked` set only
    /// writes a spare eventfd count, and the next `prepare_park` (SeqCst)
    /// orders what the worker looks at before it blocks again.
    #[inline]
    pub(crate) fn unparked(&self) {
        self.parked.store(false, Ordering::Release);
    }

    fn queue(&self) -> MutexGuard<'_, Vec<(usize, io::Result<u32>)>> {
        self.completions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Pool thread: posts the result of the op in slot `key`.
    pub(crate) fn post(&self, key: usize, res: io::Result<u32>) {
        self.queue().push((key, res));
        self.posted.store(true, Ordering::SeqCst);
        self.unpark();
    }

    /// Worker: takes the posted results into `out` (keeping its capacity).
    pub(crate) fn take_posted(&self, out: &mut Vec<(usize, io::Result<u32>)>) {
        if !self.posted.load(Ordering::SeqCst) {
            return;
        }
        let mut queue = self.queue();
        self.posted.store(false, Ordering::SeqCst);
        out.append(&mut queue);
    }

    /// Any thread: publishes `item` to the worker's release queue, then
    /// lets `here` have the owning driver take it on this thread (true if
    /// it did) or else wakes the worker (see `releases.rs`).
    pub(crate) fn send(&self, item: Release, here: impl FnOnce() -> bool) -> Sent {
        if !self.releases.push(item) {
            return Sent::Refused;
        }
        if here() {
            return Sent::TakenHere;
        }
        self.unpark();
        Sent::Queued
    }

    /// Any thread: the socket with id `sid` was closed, so the worker must
    /// cancel its receive `user_data` (which keeps the socket open). Nothing
    /// to do once the worker's driver is gone.
    pub(crate) fn release(&self, user_data: u64, sid: u64) {
        self.send(Release::Receive { user_data, sid }, || false);
    }
}
