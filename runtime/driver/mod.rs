//! The proactor, a leaf layer: one `Driver` per worker thread, io_uring or
//! epoll. Nothing here knows of the executor, the clock, sockets or files.
//!
//! # What a driver provides
//!
//! - `poll_op` / `drop_op`: the one protocol an op's future runs, whatever
//!   the driver (`op_state.rs`). io_uring queues its entry (boxing the op
//!   into a slot unless it runs in place); every epoll op attempts the
//!   syscall, waits for readiness in the driver's registry and retries
//!   (`readiness.rs`); epoll sends regular-file ops to its blocking pool.
//!   An op carries the id of the driver that holds it, so no other driver is
//!   ever asked about its slot.
//! - `poll_receive` / `poll_readable`: the receive protocol of a socket's
//!   [`Source`] (`source.rs`): reads take what the kernel already received
//!   for the socket; an empty queue starts a receive (io_uring: a multishot
//!   receive or accept into the socket's queue, or a one-shot into the
//!   caller's buffer; epoll: the readiness protocol).
//! - `park(timeout)`: submit, wait for completions or readiness up to the next
//!   timer deadline, and collect the wakers to run. Wakers and finished orphans
//!   are handed out ([`Driver::next_deferred`]) and run after the driver's
//!   `RefCell` borrow ends, so nothing they do can re-enter the driver.
//! - An [`Unpark`] handle through which other threads end the wait, and
//!   through which the blocking pool posts the epoll driver's completions.
//! - `shutdown`: cancel and reap everything in flight; leak, never free, what
//!   the kernel does not give back.
//! - [`close_source`]: the last user handle of a descriptor, on any thread,
//!   frees its queue and cancels what its kernel receive holds, by way of
//!   the owning worker's [`Unpark`] when that worker is elsewhere.
//!
//! Driver choice and its reasons live in `detect.rs`.

mod buf_pool;
pub(crate) mod detect;
pub(crate) use detect::accept_dontwait_supported;
mod epoll;
mod file_releases;
mod hand_back;
// Only `http::serve` passes descriptors between workers.
#[cfg_attr(not(feature = "hyper"), allow(dead_code))]
mod hand_off;
mod lifecycle;
mod op_box;
mod op_state;
mod operation;
mod readiness;
pub(crate) mod recvmsg_out;
mod ring_enter;
pub(crate) mod send_queue;
mod source;
mod unpark;
mod uring;
mod uring_recv;
mod uring_send;
mod uring_zc;
mod waiters;

use std::fmt;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

pub(crate) use buf_pool::PoolMemory;
pub(crate) use file_releases::{Emptied, FileReleases};
pub(crate) use hand_back::hand_back;
#[cfg_attr(not(feature = "hyper"), allow(unused_imports))]
pub(crate) use hand_off::Arrival;
pub(crate) use op_state::{timed_out, OpState, Phase};
pub(crate) use operation::{cvt, Attempt, Interest, Operation};
pub(crate) use source::{closed, Chunk, Datagram, Lent, Multishot, RecvSide, Source, Take};
pub(crate) use unpark::Unpark;

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

/// How a worker's receives queue up (`Builder::recv_buffers` and friends).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecvConfig {
    /// Provided buffers per io_uring worker (a power of two).
    pub(crate) buffers: u16,
    /// Bytes per provided buffer.
    pub(crate) buffer_size: u32,
    /// Unread bytes a socket's queue may hold before its multishot receive
    /// is paused (the rest waits in the kernel's socket buffer).
    pub(crate) max_queued: usize,
    /// Unaccepted connections a listener's queue may hold before its
    /// multishot accept is paused (the rest waits in the kernel's backlog).
    pub(crate) max_conns: usize,
}

impl Default for RecvConfig {
    fn default() -> Self {
        RecvConfig {
            buffers: 256,
            buffer_size: 16 * 1024,
            max_queued: 64 * 1024,
            max_conns: 256,
        }
    }
}

/// A descriptor the receive protocol runs on (`sys::SharedFd`), seen from
/// the driver, which knows nothing of sockets.
pub(crate) trait Descriptor {
    /// The fd number, valid while `self` lives.
    fn raw(&self) -> RawFd;
    /// Tells this descriptor from an earlier one with the same number.
    fn id(&self) -> u64;
    /// Its receive side.
    fn source(&self) -> &Source;
    /// A reference that keeps the descriptor open (and its side alive) for
    /// as long as a multishot holds it.
    fn keep(&self) -> Arc<dyn Owner>;
}

/// What an armed multishot holds of its descriptor (see
/// [`Descriptor::keep`]): holding it keeps the descriptor open.
pub(crate) trait Owner: Send + Sync + std::fmt::Debug + 'static {}

/// What one poll of a receive came to; see [`Driver::poll_receive`].
#[derive(Debug)]
pub(crate) enum Received<T> {
    /// Taken from the socket's queue.
    Took(T),
    /// A receive is in a kernel; the caller's waker is parked on the socket.
    Wait,
    /// Nothing queued and nothing in a kernel: the caller starts its own
    /// one-shot receive (on io_uring the socket records it, and reports its
    /// slot with [`Driver::oneshot_submitted`]).
    Start,
    /// The socket's receive is stuck in the ring of a runtime that is not
    /// running: the read fails with this error (nothing is lost).
    Fail(std::io::Error),
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
    /// Starts the driver that `detect::choose` picked: io_uring on `ring`
    /// (with its receive buffers as `recv` says), else epoll, whose
    /// regular-file ops run on `pool`.
    pub(crate) fn new(
        ring: Option<io_uring::IoUring>,
        unpark: Arc<Unpark>,
        pool: Arc<BlockingPool>,
        counters: Arc<Counters>,
        recv: RecvConfig,
    ) -> std::io::Result<Driver> {
        let driver = match ring {
            Some(ring) => Driver::Uring(UringDriver::new(ring, unpark, counters, recv)),
            None => Driver::Epoll(EpollDriver::new(unpark, pool, counters, recv)?),
        };
        hand_back::register(driver.id(), driver.unpark());
        Ok(driver)
    }

    /// Whether the kernel performs this driver's receives (io_uring), so a
    /// receive with no future to return to must be given an owned buffer;
    /// false where the caller makes the syscall itself on readiness (epoll).
    pub(crate) fn receives_in_kernel(&self) -> bool {
        matches!(self, Driver::Uring(_))
    }

    /// What `driver_info()` adds about receives.
    pub(crate) fn receive_info(&self) -> Option<String> {
        match self {
            Driver::Uring(d) => Some(d.pool_info()),
            Driver::Epoll(_) => None,
        }
    }

    /// One poll of a receive on `fd`: `take` takes from the socket's queue;
    /// an empty queue waits for the receive in a kernel or starts one (a
    /// multishot of the kind `want` names where the driver can, and where
    /// one provided buffer holds the payload size it gives; else the
    /// caller's one-shot).
    #[inline]
    pub(crate) fn poll_receive<D: Descriptor, T>(
        &mut self,
        fd: &D,
        want: Option<(Multishot, usize)>,
        cx: &mut Context<'_>,
        take: impl FnOnce(&mut RecvSide, &mut dyn FnMut(&Arc<PoolMemory>, u16)) -> Take<T>,
    ) -> Received<T> {
        match self {
            Driver::Uring(d) => d.poll_receive(fd, want, cx, take),
            Driver::Epoll(d) => d.poll_receive(fd, cx, take),
        }
    }

    /// io_uring: the one-shot receive a [`Received::Start`] began runs in
    /// slot `key`. Nothing to record on epoll (its receives run in the future).
    pub(crate) fn oneshot_submitted<D: Descriptor>(&mut self, fd: &D, key: u64) {
        if let Driver::Uring(d) = self {
            d.oneshot_submitted(fd, key);
        }
    }

    /// io_uring: submits `op`, whose result nobody awaits: its completion
    /// goes to `Operation::orphaned`. Returns the op's slot key; epoll
    /// hands the op back (it runs ops only inside a future's poll).
    // Only the poll-based bridges submit ops nobody awaits.
    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "futures-io", feature = "hyper")),
        allow(dead_code)
    )]
    pub(crate) fn submit_detached<T: Operation>(&mut self, op: T) -> Result<u64, T> {
        match self {
            Driver::Uring(d) => Ok(d.submit_detached(op)),
            Driver::Epoll(_) => Err(op),
        }
    }

    /// io_uring: queues `item` (taken from the slot once queued) on `fd`'s
    /// sends (see `uring_send.rs`); `None` on epoll, whose writers write
    /// themselves.
    pub(crate) fn queue_send<D: Descriptor>(
        &mut self,
        fd: &D,
        item: &mut Option<send_queue::Queued>,
        cx: &mut Context<'_>,
    ) -> Option<Poll<std::io::Result<()>>> {
        match self {
            Driver::Uring(d) => Some(d.queue_send(fd, item, cx)),
            Driver::Epoll(_) => None,
        }
    }

    /// io_uring: copies what fits of `bytes` into `fd`'s sends (a
    /// poll-based write); `None` on epoll, whose writers write themselves.
    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "futures-io", feature = "hyper")),
        allow(dead_code)
    )]
    pub(crate) fn queue_copy<D: Descriptor>(
        &mut self,
        fd: &D,
        bytes: &[u8],
        cx: &mut Context<'_>,
    ) -> Option<Poll<std::io::Result<usize>>> {
        match self {
            Driver::Uring(d) => Some(d.queue_copy(fd, bytes, cx)),
            Driver::Epoll(_) => None,
        }
    }

    /// epoll: a buffer of its own for a zero-copy read to receive into,
    /// lent until the `RecvBuf` holding it drops. io_uring lends its
    /// buffers through its ring instead, so it has none to hand out.
    pub(crate) fn lend(&mut self) -> Option<(Arc<PoolMemory>, u16)> {
        match self {
            Driver::Uring(_) => None,
            Driver::Epoll(d) => d.lend(),
        }
    }

    /// A provided buffer is free again.
    pub(crate) fn give_back(&mut self, memory: &Arc<PoolMemory>, bid: u16) {
        match self {
            Driver::Uring(d) => d.give_back(memory, bid),
            Driver::Epoll(_) => memory.give_back_remote(bid),
        }
    }

    /// Sets the smallest `write_all` send that goes zero-copy
    /// (`Builder::send_zerocopy_threshold`); epoll always writes plainly.
    pub(crate) fn set_send_zerocopy(&mut self, min: Option<usize>) {
        if let Driver::Uring(d) = self {
            d.set_send_zerocopy(min);
        }
    }

    /// The smallest `write_all` send that goes zero-copy here (io_uring
    /// with `IORING_OP_SEND_ZC`), if any does.
    pub(crate) fn send_zerocopy_min(&self) -> Option<usize> {
        match self {
            Driver::Uring(d) => d.send_zerocopy_min(),
            Driver::Epoll(_) => None,
        }
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

    /// epoll: runs `io`, a non-blocking transfer of up to `asked` bytes on
    /// `fd` that the caller makes itself, under the readiness protocol (see
    /// `Readiness::poll_transfer`); `io` runs while the driver is borrowed,
    /// so it must not reach the driver. On io_uring the kernel performs
    /// transfers ([`receives_in_kernel`](Driver::receives_in_kernel) tells
    /// callers which way to go), so this fails there.
    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "futures-io", feature = "hyper")),
        allow(dead_code)
    )]
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
            Driver::Uring(_) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "runtime: a readiness transfer was asked of the io_uring driver",
            ))),
            Driver::Epoll(d) => d.poll_transfer(fd, fd_id, interest, asked, cx, io),
        }
    }

    /// `readable()`: ready once the socket's queue holds something, or
    /// (epoll) once `fd` may be readable; `probe` decides for an fd the
    /// epoll registry does not know yet. On io_uring an idle socket arms
    /// its multishot receive (or a one-shot poll) and waits.
    pub(crate) fn poll_readable<D: Descriptor>(
        &mut self,
        fd: &D,
        stream: bool,
        cx: &mut Context<'_>,
        probe: impl FnOnce() -> std::io::Result<()>,
    ) -> Poll<std::io::Result<()>> {
        match self {
            Driver::Uring(d) => d.poll_readable(fd, stream, cx),
            Driver::Epoll(d) => d.poll_readable(fd, cx, probe),
        }
    }

    /// Forgets an fd's readiness state before the fd is closed (epoll; an
    /// io_uring ring keeps none).
    pub(crate) fn deregister(&mut self, fd: RawFd, id: u64) {
        if let Driver::Epoll(d) = self {
            d.deregister(fd, id);
        }
    }

    /// An op whose future was dropped elsewhere comes back: its slot is
    /// orphaned as if the future had been dropped here.
    fn take_back(&mut self, item: hand_back::HandBack) {
        match (self, item) {
            (Driver::Uring(d), hand_back::HandBack::Slot(key, cancel)) => d.drop_slot(key, cancel),
            (Driver::Epoll(d), hand_back::HandBack::Slot(key, _)) => d.drop_slot(key),
            (Driver::Uring(d), hand_back::HandBack::InPlace(key, op, cancel)) => {
                d.drop_in_place(key, op.0, cancel)
            }
            // Only io_uring runs ops in place; leaking is the safe answer.
            (Driver::Epoll(_), hand_back::HandBack::InPlace(_, op, _)) => std::mem::forget(op.0),
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

    /// The worker's wake-up handle, which names this driver.
    fn unpark(&self) -> &Arc<Unpark> {
        match self {
            Driver::Uring(d) => &d.unpark,
            Driver::Epoll(d) => &d.unpark,
        }
    }

    /// Cancels a receive of this driver on behalf of a close.
    fn cancel_receive(&mut self, user_data: u64, sid: u64) {
        if let Driver::Uring(d) = self {
            d.cancel_receive(user_data, sid);
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

/// The last user handle of `fd` let go of it, on any thread: its receive
/// side is closed (readers wake and fail), what it queued is freed (pooled
/// buffers go back to their ring, queued connections close) and the receive
/// it has in a kernel is cancelled: by `local`, the driver of the worker on
/// this thread if it owns that receive (and is not borrowed), else by
/// asking the owning worker through its [`Unpark`]. The descriptor itself
/// closes when its last reference goes, once the kernel let go of it.
pub(crate) fn close_source<D: Descriptor>(fd: &D, mut local: Option<&mut Driver>) {
    let Some((mut side, addr)) = fd.source().close() else {
        return; // never read on io_uring: nothing queued, nothing in a kernel
    };
    let closed = side.close(addr);
    drop(side);
    for waker in closed.woken {
        waker.wake();
    }
    for chunk in closed.chunks {
        match (chunk, &closed.pool) {
            (Chunk::Pooled { bid, .. }, Some(memory)) => match local.as_deref_mut() {
                Some(driver) => driver.give_back(memory, bid),
                None => memory.give_back_remote(bid),
            },
            // Dropping a queued connection closes it.
            (chunk, _) => drop::<Chunk>(chunk),
        }
    }
    // A one-shot not yet submitted is cancelled when its key is reported.
    let Some((owner, user_data)) = closed.cancel else {
        return;
    };
    match local {
        Some(driver) if std::ptr::eq(owner.as_ptr(), Arc::as_ptr(driver.unpark())) => {
            driver.cancel_receive(user_data, fd.id())
        }
        _ => {
            if let Some(owner) = owner.upgrade() {
                owner.release(user_data, fd.id());
            }
        }
    }
}
