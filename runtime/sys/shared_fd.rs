//! `SharedFd`: a descriptor that stays open until every op using it is done,
//! with its receive side (`driver::Source`); and [`FdHandle`], a user's
//! handle on it.
//!
//! Each op (and each armed multishot receive) holds a `SharedFd` clone, so
//! the fd number cannot be closed and reused while the kernel (or the
//! blocking pool) may still act on it. The types users hold (sockets,
//! files) hold an [`FdHandle`]: when the last handle goes, on any thread,
//! the descriptor's receive side is closed (`driver::close_source`): what it
//! queued is freed and its receive in a kernel is cancelled, which lets go
//! of the last clones. The last clone closes the fd. An epoll registration
//! needs no word from here: the kernel drops a closed file from every epoll
//! set, and a driver tells a reused number apart by its new id.
//!
//! Nothing here reaches a driver through the thread-local worker: the
//! receive side knows the worker whose ring holds its receive, and asks it
//! through that worker's release queue (`driver::close_source`).

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use crate::driver::{self, Descriptor, Owner, Source};

/// Source of registration ids: an fd number can be reused, an id cannot.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// `nowait_reads`: not yet known (the first file read finds out).
const NOWAIT_UNKNOWN: u8 = 0;
/// `nowait_reads`: epoll file reads try `RWF_NOWAIT` inline first.
const NOWAIT_YES: u8 = 1;
/// `nowait_reads`: epoll file reads go straight to the blocking pool.
const NOWAIT_NO: u8 = 2;

/// A reference-counted file descriptor.
#[derive(Clone, Debug)]
pub(crate) struct SharedFd {
    /// The descriptor and what we know of it.
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The descriptor, closed on drop unless released.
    fd: RawFd,
    /// Tells this descriptor apart from a later one with the same number.
    id: u64,
    /// A regular file or block device: epoll cannot wait on it.
    is_file: bool,
    /// `O_NONBLOCK` is set (needed before any epoll attempt).
    nonblocking: AtomicBool,
    /// Set when the fd was handed back to its owner instead of closed.
    released: AtomicBool,
    /// Files only: whether an epoll read may try `preadv2(RWF_NOWAIT)` on the
    /// worker before the pool. `NOWAIT_NO` once the file system refused the
    /// flag, or for `O_DIRECT`, where a synchronous `RWF_NOWAIT` read still
    /// waits for the device. A hint only: a wrong value costs a hand-off.
    nowait_reads: AtomicU8,
    /// Set once the kernel refused a zero-copy send on it (`EOPNOTSUPP`:
    /// Unix sockets): its sends copy from then on.
    no_zerocopy: AtomicBool,
    /// Live [`FdHandle`]s; the last one closes `source`.
    handles: AtomicU32,
    /// What the kernel received for this descriptor and nobody read yet,
    /// and the receive it has in a kernel.
    source: Source,
}

impl SharedFd {
    /// Wraps a socket, pipe or other pollable descriptor.
    pub(crate) fn new(fd: OwnedFd) -> Self {
        Self::with_kind(fd, false)
    }

    /// Wraps a regular file: on epoll its ops run on the blocking pool.
    pub(crate) fn new_file(fd: OwnedFd) -> Self {
        Self::with_kind(fd, true)
    }

    fn with_kind(fd: OwnedFd, is_file: bool) -> Self {
        SharedFd {
            inner: Arc::new(Inner {
                fd: fd.into_raw_fd(),
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                is_file,
                nonblocking: AtomicBool::new(false),
                released: AtomicBool::new(false),
                nowait_reads: AtomicU8::new(NOWAIT_UNKNOWN),
                no_zerocopy: AtomicBool::new(false),
                handles: AtomicU32::new(0),
                source: Source::default(),
            }),
        }
    }

    /// The raw descriptor, valid while `self` lives.
    pub(crate) fn raw(&self) -> RawFd {
        self.inner.fd
    }

    /// The registration id (see `Attempt::WouldBlock`).
    pub(crate) fn id(&self) -> u64 {
        self.inner.id
    }

    /// Whether ops on it must go to the blocking pool under epoll.
    pub(crate) fn is_file(&self) -> bool {
        self.inner.is_file
    }

    /// Whether an epoll read of this file may try `RWF_NOWAIT` inline; the
    /// first call looks for `O_DIRECT` (one `fcntl`).
    pub(crate) fn nowait_reads(&self) -> bool {
        match self.inner.nowait_reads.load(Ordering::Relaxed) {
            NOWAIT_YES => true,
            NOWAIT_NO => false,
            _ => {
                // SAFETY: F_GETFL on a descriptor we keep open takes no pointers.
                let flags = unsafe { libc::fcntl(self.inner.fd, libc::F_GETFL) };
                let ok = flags >= 0 && flags & libc::O_DIRECT == 0;
                let state = if ok { NOWAIT_YES } else { NOWAIT_NO };
                self.inner.nowait_reads.store(state, Ordering::Relaxed);
                ok
            }
        }
    }

    /// Records that the file system refused `RWF_NOWAIT`: reads of this file
    /// go straight to the blocking pool from now on.
    pub(crate) fn refuse_nowait_reads(&self) {
        self.inner.nowait_reads.store(NOWAIT_NO, Ordering::Relaxed);
    }

    /// Whether sends on it may try zero-copy (no refusal seen yet).
    pub(crate) fn zerocopy_sends(&self) -> bool {
        !self.inner.no_zerocopy.load(Ordering::Relaxed)
    }

    /// Records that the kernel refused a zero-copy send on it.
    pub(crate) fn refuse_zerocopy_sends(&self) {
        self.inner.no_zerocopy.store(true, Ordering::Relaxed);
    }

    /// Sets `O_NONBLOCK` once, so epoll attempts never block the worker.
    pub(crate) fn ensure_nonblocking(&self) {
        if self.inner.nonblocking.load(Ordering::Relaxed) {
            return;
        }
        let fd = self.inner.fd;
        // SAFETY: F_GETFL/F_SETFL on a descriptor we keep open take no pointers.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags >= 0 && flags & libc::O_NONBLOCK == 0 {
                libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
            }
        }
        self.inner.nonblocking.store(true, Ordering::Relaxed);
    }

    /// Takes the descriptor back if this is the last clone (for an explicit,
    /// awaited close); otherwise returns `self` unchanged.
    pub(crate) fn try_unwrap(self) -> Result<OwnedFd, SharedFd> {
        match Arc::try_unwrap(self.inner) {
            Ok(inner) => {
                inner.released.store(true, Ordering::Relaxed);
                // SAFETY: we held the only reference; `released` stops `Inner`'s
                // drop from closing the fd, so ownership moves to the `OwnedFd`.
                Ok(unsafe { std::os::fd::FromRawFd::from_raw_fd(inner.fd) })
            }
            Err(inner) => Err(SharedFd { inner }),
        }
    }
}

impl AsRawFd for SharedFd {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.fd
    }
}

impl AsFd for SharedFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        // SAFETY: the fd stays open while `self` (a reference to `Inner`) lives.
        unsafe { BorrowedFd::borrow_raw(self.inner.fd) }
    }
}

impl Descriptor for SharedFd {
    fn raw(&self) -> RawFd {
        self.inner.fd
    }
    fn id(&self) -> u64 {
        self.inner.id
    }
    fn source(&self) -> &Source {
        &self.inner.source
    }
    fn keep(&self) -> Arc<dyn Owner> {
        self.inner.clone()
    }
}

impl Owner for Inner {}

/// A user's handle on a descriptor (what sockets and files hold): ops clone
/// the [`SharedFd`] it derefs to; the last handle, dropped on any thread,
/// closes the descriptor's receive side (see the module doc).
#[derive(Debug)]
pub(crate) struct FdHandle {
    /// The descriptor.
    fd: SharedFd,
}

impl FdHandle {
    /// The first handle of `fd`.
    #[inline]
    pub(crate) fn new(fd: SharedFd) -> Self {
        fd.inner.handles.fetch_add(1, Ordering::Relaxed);
        FdHandle { fd }
    }

    /// Lets go of the handle, keeping the descriptor: its receive side is
    /// closed if this was the last handle (for `into_std` and `close`).
    pub(crate) fn into_shared(self) -> SharedFd {
        let fd = self.fd.clone();
        drop(self);
        fd
    }
}

impl std::ops::Deref for FdHandle {
    type Target = SharedFd;
    #[inline]
    fn deref(&self) -> &SharedFd {
        &self.fd
    }
}

impl Clone for FdHandle {
    #[inline]
    fn clone(&self) -> Self {
        FdHandle::new(self.fd.clone())
    }
}

impl Drop for FdHandle {
    #[inline]
    fn drop(&mut self) {
        // AcqRel: the last handle sees every earlier handle's work done.
        if self.fd.inner.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            last_handle_dropped(&self.fd);
        }
    }
}

/// The last user handle of `fd` is gone: its receive side closes.
#[cold]
fn last_handle_dropped(fd: &SharedFd) {
    driver::close_source(fd);
}

impl Drop for Inner {
    fn drop(&mut self) {
        if self.released.load(Ordering::Relaxed) {
            return;
        }
        // SAFETY: the last reference is gone, so no op uses the fd any more and
        // nothing else owns it.
        unsafe { libc::close(self.fd) };
    }
}
