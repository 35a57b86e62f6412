//! `Unpark`: how other threads end a worker's wait in the kernel, the queue
//! through which blocking-pool completions reach the epoll driver, and the
//! one through which a socket closed elsewhere asks the io_uring driver
//! that runs its receive to cancel it (`Driver::close_source`), and the one
//! through which ops dropped elsewhere go back to their driver
//! (`hand_back.rs`).
//!
//! # No lost wake-ups
//!
//! Before blocking, the worker calls [`Unpark::prepare_park`], which sets
//! `parked` and then looks once more at what could have arrived (pool
//! completions here; the executor then looks at its inbox and flags). A
//! sender publishes its item first and then calls [`Unpark::unpark`], which
//! swaps `parked` to false and writes the eventfd if it was set. Both sides
//! use SeqCst, so either the worker sees the item or the sender sees `parked`
//! and ends the kernel wait: the eventfd is read by both drivers (a read in
//! the ring, or an epoll registration). Cancel requests follow the same
//! rule: the io_uring driver looks at them in `park`, after `prepare_park`.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Mutex, MutexGuard};

use super::operation::{cvt, Erased};

/// A worker's wake-up eventfd and its pool-completion queue; shared (in an
/// `Arc`) by the driver, the executor and the pool threads.
pub(crate) struct Unpark {
    /// Written to end the worker's kernel wait.
    fd: OwnedFd,
    /// The worker is (about to be) blocked in the kernel.
    parked: AtomicBool,
    /// Blocking-pool results, by slot key, not yet handed to the driver.
    completions: Mutex<Vec<(usize, io::Result<u32>)>>,
    /// Whether `completions` may be non-empty, readable without the lock.
    posted: AtomicBool,
    /// Receives (`user_data`, descriptor id) whose socket was closed on
    /// another thread: the io_uring driver cancels them.
    releases: Mutex<Releases>,
    /// Whether `releases` may hold any, readable without the lock.
    released: AtomicBool,
    /// The worker's loop runs (a worker thread, or worker 0 inside
    /// `block_on`): only then are its ring's completions reaped, so a
    /// socket whose receive is in that ring is served elsewhere only then.
    active: AtomicBool,
    /// Ops whose future was dropped away from this driver (`hand_back.rs`).
    pub(crate) hand_backs: HandBacks,
    /// The worker's ring, if it takes `IORING_OP_MSG_RING` messages
    /// (`hand_off.rs`); -1 otherwise (epoll, or an old kernel).
    ring_fd: AtomicI32,
}

/// See [`Unpark::release`].
#[derive(Debug, Default)]
struct Releases {
    /// In arrival order.
    items: Vec<(u64, u64)>,
    /// The driver shut down: its ring, and every receive in it, is gone.
    closed: bool,
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
            releases: Mutex::new(Releases::default()),
            released: AtomicBool::new(false),
            active: AtomicBool::new(false),
            hand_backs: HandBacks::new(),
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
        self.active.store(active, Ordering::SeqCst);
    }

    /// Whether the worker's loop is running, so that it will reap what its
    /// ring completes.
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::SeqCst)
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

    fn releases(&self) -> MutexGuard<'_, Releases> {
        self.releases.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Any thread: the socket with id `sid` was closed, so the worker must
    /// cancel its receive `user_data` (which keeps the socket open). Nothing
    /// to do once the worker has shut down.
    pub(crate) fn release(&self, user_data: u64, sid: u64) {
        let mut releases = self.releases();
        if releases.closed {
            return;
        }
        releases.items.push((user_data, sid));
        drop(releases);
        self.released.store(true, Ordering::SeqCst);
        self.unpark();
    }

    /// Worker: whether any release may be waiting (a load, once per park).
    #[inline]
    pub(crate) fn has_released(&self) -> bool {
        self.released.load(Ordering::SeqCst)
    }

    /// Worker: takes the cancel requests posted so far into `out`.
    pub(crate) fn take_released(&self, out: &mut Vec<(u64, u64)>) {
        if !self.has_released() {
            return;
        }
        let mut releases = self.releases();
        self.released.store(false, Ordering::SeqCst);
        out.append(&mut releases.items);
    }

    /// Worker, at shutdown: later cancel requests are dropped (the ring
    /// goes, and its receives with it).
    pub(crate) fn close_releases(&self) {
        let mut releases = self.releases();
        releases.closed = true;
        releases.items = Vec::new();
    }
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

/// A driver's queue of hand-backs (`hand_back.rs`), inside its [`Unpark`].
pub(crate) struct HandBacks {
    /// In arrival order; `None` once the driver shut down.
    items: Mutex<Option<Vec<HandBack>>>,
    /// Whether `items` may hold any, readable without the lock.
    posted: AtomicBool,
}

impl std::fmt::Debug for HandBacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandBacks").finish_non_exhaustive()
    }
}

impl HandBacks {
    /// A queue open for hand-backs.
    pub(crate) fn new() -> Self {
        HandBacks {
            items: Mutex::new(Some(Vec::new())),
            posted: Default::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<Vec<HandBack>>> {
        self.items.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Any thread: queues `item`; gives it back if the driver shut down.
    pub(crate) fn push(&self, item: HandBack) -> Result<(), HandBack> {
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
