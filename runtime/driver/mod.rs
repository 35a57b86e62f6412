//! The proactor, a leaf layer: one `Driver` per worker thread, io_uring or
//! epoll. Nothing here knows of the executor, the clock, sockets or files.
//!
//! # What a driver provides
//!
//! - `poll_op` / `drop_op`: the one protocol an op's future runs, whatever
//!   the driver (`protocol.rs`). io_uring queues its entry (boxing the op
//!   into a slot unless it runs in place); every epoll op attempts the
//!   syscall, waits for readiness in the driver's registry (`registry.rs`)
//!   and retries; epoll sends regular-file ops to its blocking pool.
//!   An op carries the id of the driver that holds it (`id.rs`), so no
//!   other driver is ever asked about its slot.
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
//! - One release queue, in that handle (`releases.rs`): what only this
//!   driver may let go, given back from any thread (ops dropped elsewhere,
//!   receives of sockets closed elsewhere, registered slots), taken in
//!   `park`. Registered files and buffers are a service reached through the
//!   [`FixedTables`] handle made at registration (`fixed_tables.rs`).
//! - `shutdown`: cancel and reap everything in flight; leak, never free, what
//!   the kernel does not give back.
//! - [`close_source`]: the last user handle of a descriptor, on any thread,
//!   frees its queue and cancels what its kernel receive holds, by way of
//!   the owning worker's [`Unpark`] when that worker is elsewhere.
//!
//! Driver choice and its reasons live in `detect.rs`. The methods of
//! [`Driver`] only pick the driver and forward: the protocol lives in
//! `protocol.rs`, each mechanism in its own file.

mod buf_pool;
mod deferred;
mod descriptor;
pub(crate) mod detect;
pub(crate) use detect::accept_dontwait_supported;
mod emptied;
mod epoll;
mod fixed_tables;
mod hand_back;
// Only `http::serve` passes descriptors between workers.
#[cfg_attr(not(feature = "hyper"), allow(dead_code))]
mod hand_off;
mod id;
mod lifecycle;
mod op_box;
mod operation;
mod owner;
mod protocol;
pub(crate) mod recvmsg_out;
mod registry;
#[cfg(test)]
mod registry_tests;
mod releases;
#[cfg(test)]
mod releases_tests;
mod ring_enter;
pub(crate) mod send_queue;
mod side_lock;
#[cfg(test)]
mod slot_tests;
mod source;
mod unpark;
#[cfg(test)]
mod unpark_tests;
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
pub(crate) use deferred::{Collected, Deferred};
pub(crate) use descriptor::{Descriptor, Received, RecvConfig};
pub(crate) use emptied::Emptied;
pub(crate) use fixed_tables::{FixedTables, OnThisThread};
#[cfg_attr(not(feature = "hyper"), allow(unused_imports))]
pub(crate) use hand_off::Arrival;
pub(crate) use id::DriverId;
pub(crate) use operation::{cvt, Attempt, Interest, Operation};
pub(crate) use owner::Owner;
pub(crate) use protocol::{hand_back, timed_out, OpState, Phase};
pub(crate) use source::{closed, Chunk, Datagram, Lent, Multishot, RecvSide, Source, Take, Taker};
pub(crate) use unpark::Unpark;

use crate::blocking::BlockingPool;
use crate::metrics::Counters;
use epoll::EpollDriver;
use protocol::{Protocol, Readiness};
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
        take: impl Taker<T>,
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

    /// Takes its release queue (after the executor's `prepare_park`: see
    /// `releases.rs`), then submits and waits up to `timeout` (None: until
    /// something happens); not at all if releases were taken, whose wakers
    /// (a close told its file is let go) must not wait for this wait.
    pub(crate) fn park(&mut self, timeout: Option<Duration>) {
        let timeout = match self.take_releases() {
            true => Some(Duration::ZERO),
            false => timeout,
        };
        match self {
            Driver::Uring(d) => d.park(timeout),
            Driver::Epoll(d) => d.park(timeout),
        }
    }

    /// Takes its release queue (see [`Protocol::take_releases`]).
    fn take_releases(&mut self) -> bool {
        match self {
            Driver::Uring(d) => d.take_releases(),
            Driver::Epoll(d) => d.take_releases(),
        }
    }

    /// On the releasing thread ([`OnThisThread`]): takes its release queue
    /// now if this is the driver `id`; whether it was.
    pub(crate) fn take_releases_of(&mut self, id: DriverId) -> bool {
        if self.id() != id {
            return false;
        }
        self.take_releases();
        true
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
    pub(crate) fn poll_transfer<D: Descriptor>(
        &mut self,
        fd: &D,
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
            Driver::Epoll(d) => d.poll_transfer(fd.raw(), fd.id(), interest, asked, cx, io),
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

    /// Takes what was released so far (no hand-back finds it from now on),
    /// then cancels and reaps everything in flight (bounded); leaks what the
    /// kernel does not give back.
    pub(crate) fn shutdown(&mut self) {
        match self {
            Driver::Uring(d) => {
                d.stop_releases();
                d.shutdown()
            }
            Driver::Epoll(d) => {
                d.stop_releases();
                d.shutdown()
            }
        }
    }

    /// Drives a single-shot op (see [`Protocol::poll_op`]).
    #[inline]
    pub(crate) fn poll_op<T: Operation>(
        &mut self,
        st: &mut OpState<T>,
        deadline: Option<Duration>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<u32>> {
        match self {
            Driver::Uring(d) => d.poll_op(st, deadline, cx),
            Driver::Epoll(d) => d.poll_op(st, deadline, cx),
        }
    }

    /// Takes back an op waiting for readiness, to complete it with an error
    /// (see [`Protocol::abandon_op`]).
    pub(crate) fn abandon_op<T>(&mut self, st: &mut OpState<T>) -> Option<T> {
        match self {
            Driver::Uring(d) => d.abandon_op(st),
            Driver::Epoll(d) => d.abandon_op(st),
        }
    }

    /// The op's future is dropped here; false if another driver holds it
    /// (see [`Protocol::drop_op`]).
    pub(crate) fn drop_op<T: Operation>(&mut self, st: &mut OpState<T>) -> bool {
        match self {
            Driver::Uring(d) => d.drop_op(st),
            Driver::Epoll(d) => d.drop_op(st),
        }
    }
}

impl Driver {
    /// The id of this driver's registered-file and -buffer tables; `None` on
    /// epoll, which has none.
    #[inline]
    pub(crate) fn fixed_id(&self) -> Option<DriverId> {
        match self {
            Driver::Uring(d) => Some(d.id),
            Driver::Epoll(_) => None,
        }
    }

    /// Registers buffers; returns the first slot and the handle to give
    /// them back through (`here` finds this driver on the releasing
    /// thread), or why they stay plain.
    ///
    /// # Safety
    ///
    /// The memory each iovec describes stays allocated until it is handed
    /// back with the slots ([`FixedTables::release_buffers`]) or the ring
    /// is gone.
    pub(crate) unsafe fn register_buffers(
        &mut self,
        iovecs: &[libc::iovec],
        here: OnThisThread,
    ) -> Result<(u32, FixedTables), String> {
        match self {
            // SAFETY: the caller's promise, passed on.
            Driver::Uring(d) => unsafe { d.register_buffers_with(iovecs, here) },
            Driver::Epoll(_) => Err("the epoll driver has no registered buffers".into()),
        }
    }

    /// Registers `fd`; returns its slot and the handle to give it back
    /// through, or why it stays a plain descriptor.
    pub(crate) fn register_file(
        &mut self,
        fd: RawFd,
        here: OnThisThread,
    ) -> Result<(u32, FixedTables), String> {
        match self {
            Driver::Uring(d) => d.register_file_with(fd, here),
            Driver::Epoll(_) => Err("the epoll driver has no registered files".into()),
        }
    }

    /// The worker starts (`true`) or stops turning its loop (see
    /// [`Protocol::attend`]).
    pub(crate) fn attend(&mut self, on: bool) {
        match self {
            Driver::Uring(d) => d.attend(on),
            Driver::Epoll(d) => d.attend(on),
        }
    }
}

/// The last user handle of `fd` let go of it, on any thread: its receive
/// side is closed (readers wake and fail), what it queued is freed (pooled
/// buffers go back to their ring by way of its return queue, queued
/// connections close) and the receive it has in a kernel is cancelled by
/// the worker whose ring holds it, asked through that worker's release
/// queue (taken at its next turn, before it submits). The descriptor itself
/// closes when its last reference goes, once the kernel let go of it.
pub(crate) fn close_source<D: Descriptor>(fd: &D) {
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
            (Chunk::Pooled { bid, .. }, Some(memory)) => memory.give_back_remote(bid),
            // Dropping a queued connection closes it.
            (chunk, _) => drop::<Chunk>(chunk),
        }
    }
    // A one-shot not yet submitted is cancelled when its key is reported.
    if let Some((owner, user_data)) = closed.cancel {
        if let Some(owner) = owner.upgrade() {
            owner.release(user_data, fd.id());
        }
    }
}
