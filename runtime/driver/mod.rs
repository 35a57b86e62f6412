//! The proactor, a leaf layer: one `Driver` per worker thread, io_uring or
//! epoll. Nothing here knows of the executor, the clock, sockets or files.
//!
//! # What a driver provides
//!
//! - `poll_op` / `drop_op`: the one protocol an op's future runs, whatever
//!   the driver (`op_state.rs`). io_uring boxes the op into a slot and queues
//!   its entry; receive-side ops and every epoll op attempt the syscall, wait
//!   for readiness in the driver's registry and retry (`readiness.rs`); epoll
//!   sends regular-file ops to its blocking pool.
//!   An op carries the id of the driver that holds it, so no other driver is
//!   ever asked about its slot.
//! - `park(timeout)`: submit, wait for completions or readiness up to the next
//!   timer deadline, and collect the wakers to run. Wakers and finished orphans
//!   are handed out ([`Driver::next_deferred`]) and run after the driver's
//!   `RefCell` borrow ends, so nothing they do can re-enter the driver.
//! - An [`Unpark`] handle through which other threads end the wait, and
//!   through which the blocking pool posts the epoll driver's completions.
//! - `shutdown`: cancel and reap everything in flight; leak, never free, what
//!   the kernel does not give back.
//! - [`release_fd`]: the last handle of an fd forgets it in every driver
//!   whose kernel registration would keep it open (io_uring's polls).
//!
//! Driver choice and its reasons live in `detect.rs`.

pub(crate) mod detect;
mod epoll;
mod hand_back;
// Only `http::serve` passes descriptors between workers.
#[cfg_attr(not(feature = "hyper"), allow(dead_code))]
mod hand_off;
mod lifecycle;
mod op_box;
mod op_state;
mod operation;
mod poll_owners;
mod readiness;
mod ring_enter;
mod unpark;
mod uring;

use std::fmt;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

pub(crate) use hand_back::hand_back;
#[cfg_attr(not(feature = "hyper"), allow(unused_imports))]
pub(crate) use hand_off::Arrival;
pub(crate) use op_state::{timed_out, wrong_driver, OpState, Phase};
pub(crate) use operation::{cvt, Attempt, Interest, Operation};
pub(crate) use unpark::Unpark;
pub(crate) use uring::registered::FileReleases;

use crate::blocking::BlockingPool;
use crate::metrics::Counters;
use epoll::EpollDriver;
use lifecycle::Finished;
use op_state::DriverId;
use readiness::Readiness;
use uring::UringDriver;

/// Which I/O driver a worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DriverKind {
    /// io_uring if this machine allows it, else epoll (`RUNTIME_DRIVER` may override).
    #[default]
    Auto,
    /// io_uring: the kernel performs each operation and reports its completion.
    Uring,
    /// epoll: non-blocking syscalls retried on readiness; files on the blocking pool.
    Epoll,
}

impl fmt::Display for DriverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DriverKind::Auto => "auto",
            DriverKind::Uring => "io_uring",
            DriverKind::Epoll => "epoll",
        })
    }
}

/// A worker's driver.
#[derive(Debug)]
// One per worker; boxing the larger variant would add an indirection to every op.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Driver {
    /// Completion-based: the kernel performs the operations.
    Uring(UringDriver),
    /// Readiness-based: non-blocking syscalls retried on readiness.
    Epoll(EpollDriver),
}

/// Work collected inside the driver, run after its borrow ends.
#[derive(Default)]
pub(crate) struct Deferred {
    /// Wakers of ops that completed, in completion order.
    pub(crate) wakers: Vec<Waker>,
    /// Orphaned ops that finished: dropping their output closes any fd it owns.
    pub(crate) frees: Vec<Finished>,
}

/// One piece of collected work, handed out by [`Driver::next_deferred`].
pub(crate) enum Collected {
    /// Wake it.
    Wake(Waker),
    /// Wake every waker now in the caller's batch vector.
    Batch,
    /// Drop it (an orphan's output).
    Free(Finished),
}

impl fmt::Debug for Deferred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deferred")
            .field("wakers", &self.wakers.len())
            .field("frees", &self.frees.len())
            .finish()
    }
}

impl Deferred {
    /// The next piece of work: completion wakers first, then the readiness
    /// wakers `woken`, then finished orphans. A lone waker is handed out as
    /// it is; several are swapped into `batch` (which must be empty), so a
    /// busy turn moves vectors, not each waker, and neither side allocates
    /// once warmed up.
    #[inline]
    pub(crate) fn next(
        &mut self,
        woken: &mut Vec<Waker>,
        batch: &mut Vec<Waker>,
    ) -> Option<Collected> {
        for wakers in [&mut self.wakers, woken] {
            match wakers.len() {
                0 => {}
                1 => return wakers.pop().map(Collected::Wake),
                _ => {
                    std::mem::swap(wakers, batch);
                    return Some(Collected::Batch);
                }
            }
        }
        self.frees.pop().map(Collected::Free)
    }
}

impl Driver {
    /// Starts the driver that `detect::choose` picked: io_uring on `ring`,
    /// else epoll, whose regular-file ops run on `pool`.
    pub(crate) fn new(
        ring: Option<io_uring::IoUring>,
        unpark: Arc<Unpark>,
        pool: Arc<BlockingPool>,
        counters: Arc<Counters>,
    ) -> std::io::Result<Driver> {
        let driver = match ring {
            Some(ring) => Driver::Uring(UringDriver::new(ring, unpark, counters)),
            None => Driver::Epoll(EpollDriver::new(unpark, pool, counters)?),
        };
        hand_back::register(driver.id(), driver.unpark());
        Ok(driver)
    }

    /// Which driver this is.
    pub(crate) fn kind(&self) -> DriverKind {
        match self {
            Driver::Uring(_) => DriverKind::Uring,
            Driver::Epoll(_) => DriverKind::Epoll,
        }
    }

    /// This driver's identity, which its ops carry.
    fn id(&self) -> DriverId {
        match self {
            Driver::Uring(d) => d.id(),
            Driver::Epoll(d) => d.id(),
        }
    }

    /// Ops holding a slot (in the kernel or on the blocking pool).
    pub(crate) fn in_flight(&self) -> usize {
        match self {
            Driver::Uring(d) => d.in_flight(),
            Driver::Epoll(d) => d.in_flight(),
        }
    }

    /// Submits and waits up to `timeout` (None: until something happens).
    pub(crate) fn park(&mut self, timeout: Option<Duration>) {
        // After the executor's `prepare_park` (see `hand_back.rs`).
        for item in self.unpark().hand_backs.take() {
            self.take_back(item);
        }
        match self {
            Driver::Uring(d) => d.park(timeout),
            Driver::Epoll(d) => d.park(timeout),
        }
    }

    /// Takes everything collected so far (at shutdown, once the tasks are
    /// gone), to drop after the driver's borrow ends.
    pub(crate) fn take_deferred(&mut self) -> Deferred {
        let (deferred, woken) = self.deferred_mut();
        let mut out = std::mem::take(deferred);
        out.wakers.append(woken);
        out
    }

    /// The next waker (or batch of wakers, swapped into the empty `batch`)
    /// to wake, or orphan to drop, to run after this borrow ends.
    #[inline]
    pub(crate) fn next_deferred(&mut self, batch: &mut Vec<Waker>) -> Option<Collected> {
        let (deferred, woken) = self.deferred_mut();
        deferred.next(woken, batch)
    }

    /// The collected work and the readiness wakers.
    #[inline]
    fn deferred_mut(&mut self) -> (&mut Deferred, &mut Vec<Waker>) {
        match self {
            Driver::Uring(d) => d.deferred_mut(),
            Driver::Epoll(d) => d.deferred_mut(),
        }
    }

    /// Runs `io`, a non-blocking transfer of up to `asked` bytes on `fd`
    /// that the caller makes itself, under the readiness protocol (see
    /// `Readiness::poll_transfer`); `io` runs while the driver is borrowed,
    /// so it must not reach the driver.
    pub(crate) fn poll_transfer(
        &mut self,
        fd: RawFd,
        fd_id: u64,
        interest: Interest,
        asked: usize,
        cx: &mut Context<'_>,
        io: impl FnOnce() -> std::io::Result<usize>,
    ) -> Poll<std::io::Result<usize>> {
        match self {
            Driver::Uring(d) => d.poll_transfer(fd, fd_id, interest, asked, cx, io),
            Driver::Epoll(d) => d.poll_transfer(fd, fd_id, interest, asked, cx, io),
        }
    }

    /// Ready once `fd` may be ready for `interest` (see
    /// `Readiness::poll_ready`); `probe` decides for an fd not yet known.
    pub(crate) fn poll_ready(
        &mut self,
        fd: RawFd,
        fd_id: u64,
        interest: Interest,
        cx: &mut Context<'_>,
        probe: impl FnOnce() -> std::io::Result<()>,
    ) -> Poll<std::io::Result<()>> {
        match self {
            Driver::Uring(d) => d.poll_ready(fd, fd_id, interest, cx, probe),
            Driver::Epoll(d) => d.poll_ready(fd, fd_id, interest, cx, probe),
        }
    }

    /// Forgets an fd's readiness state before the fd is closed.
    pub(crate) fn deregister(&mut self, fd: RawFd, id: u64) {
        match self {
            Driver::Uring(d) => d.deregister(fd, id),
            Driver::Epoll(d) => d.deregister(fd, id),
        }
    }

    /// An op whose future was dropped elsewhere comes back: its slot is
    /// orphaned as if the future had been dropped here.
    fn take_back(&mut self, item: hand_back::HandBack) {
        match (self, item) {
            (Driver::Uring(d), hand_back::HandBack::Slot(key)) => d.drop_slot(key),
            (Driver::Epoll(d), hand_back::HandBack::Slot(key)) => d.drop_slot(key),
            (Driver::Uring(d), hand_back::HandBack::InPlace(key, op)) => d.drop_in_place(key, op.0),
            // Only io_uring runs ops in place; leaking is the safe answer.
            (Driver::Epoll(_), hand_back::HandBack::InPlace(_, op)) => std::mem::forget(op.0),
        }
    }

    /// Passes `fd` to the io_uring worker whose ring is `target` (see
    /// `hand_off.rs`); gives it back when this driver cannot (epoll).
    #[cfg_attr(not(feature = "hyper"), allow(dead_code))]
    pub(crate) fn send_fd(
        &mut self,
        target: RawFd,
        key: u8,
        worker: u8,
        fd: RawFd,
    ) -> Result<(), RawFd> {
        match self {
            Driver::Uring(d) => {
                d.send_fd(target, key, worker, fd);
                Ok(())
            }
            Driver::Epoll(_) => Err(fd),
        }
    }

    /// The next descriptor passed to this worker for `key` (never, on epoll:
    /// nothing is passed to it).
    #[cfg_attr(not(feature = "hyper"), allow(dead_code))]
    pub(crate) fn poll_arrival(&mut self, key: u8, cx: &mut Context<'_>) -> Poll<Arrival> {
        match self {
            Driver::Uring(d) => d.poll_arrival(key, cx),
            Driver::Epoll(_) => Poll::Pending,
        }
    }

    /// The worker's wake-up handle.
    fn unpark(&self) -> &Arc<Unpark> {
        match self {
            Driver::Uring(d) => d.unpark(),
            Driver::Epoll(d) => d.unpark(),
        }
    }

    /// Cancels and reaps everything in flight (bounded); leaks what the
    /// kernel does not give back.
    pub(crate) fn shutdown(&mut self) {
        hand_back::unregister(self.id());
        for item in self.unpark().hand_backs.close() {
            self.take_back(item);
        }
        match self {
            Driver::Uring(d) => d.shutdown(),
            Driver::Epoll(d) => d.shutdown(),
        }
    }
}

/// The last handle of `fd` (the `SharedFd` with id `id`) is about to close
/// it, on any thread: `local`, the driver of the worker on this thread if it
/// is not borrowed, forgets it at once; every other io_uring worker whose
/// ring polls it is asked to cancel that poll, which would otherwise keep
/// the file (and a socket's connection) open. The caller may close the fd
/// right after: see `poll_owners.rs` for why a reused number is safe.
pub(crate) fn release_fd(fd: RawFd, id: u64, local: Option<&mut Driver>) {
    match local {
        Some(driver) => {
            driver.deregister(fd, id);
            poll_owners::release(fd, id, Some(driver.unpark()));
        }
        None => poll_owners::release(fd, id, None),
    }
}
