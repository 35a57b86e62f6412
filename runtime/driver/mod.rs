//! The proactor: one `Driver` per worker thread, io_uring or epoll.
//!
//! # What a driver provides
//!
//! - `submit`-like entry points used by [`Op`]: io_uring boxes the op and
//!   queues its entry; epoll tries the syscall and waits for readiness, or
//!   sends regular-file ops to the blocking pool.
//! - `poll_op` / `drop_op`: the `Op` future's view of the op's slot (see
//!   `lifecycle.rs` for the state machine).
//! - `park(timeout)`: submit, wait for completions or readiness up to the next
//!   timer deadline, and collect the wakers to run. Wakers and finished orphans
//!   are handed back as [`Deferred`] and run after the driver's `RefCell` borrow
//!   ends, so nothing they do can re-enter the driver.
//! - `shutdown`: cancel and reap everything in flight; leak, never free, what
//!   the kernel does not give back.
//!
//! Driver choice and its reasons live in `detect.rs`; nothing else asks which
//! driver it runs on.

pub(crate) mod detect;
pub(crate) mod epoll;
mod future;
pub(crate) mod lifecycle;
mod multishot;
mod op_box;
pub(crate) mod operation;
pub(crate) mod uring;

use std::io;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

pub(crate) use future::Op;
pub(crate) use multishot::{Multishot, MultishotOp};
pub(crate) use operation::{cvt, Attempt, Erased, Interest, Operation};

use epoll::EpollDriver;
use lifecycle::{Lifecycle, Ops};
use uring::UringDriver;

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
    /// Wakers of ops that completed or fds that became ready.
    pub(crate) wakers: Vec<Waker>,
    /// Orphaned ops that finished: dropping their output closes any fd it owns.
    pub(crate) frees: Vec<(Box<dyn Erased>, io::Result<u32>)>,
}

impl std::fmt::Debug for Deferred {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deferred")
            .field("wakers", &self.wakers.len())
            .field("frees", &self.frees.len())
            .finish()
    }
}

impl Deferred {
    /// Whether there is nothing to run.
    pub(crate) fn is_empty(&self) -> bool {
        self.wakers.is_empty() && self.frees.is_empty()
    }

    /// Wakes the wakers and drops the finished orphans, keeping the
    /// vectors' capacity for the next batch.
    pub(crate) fn run(&mut self) {
        for w in self.wakers.drain(..) {
            w.wake();
        }
        for (op, res) in self.frees.drain(..) {
            op.discard(res);
        }
    }
}

impl Driver {
    /// Polls the slot of a single-shot op of type `T` in flight; once it is
    /// done, moves the op out of its box (keeping the cell for the next op).
    #[inline]
    pub(crate) fn poll_op<T: Operation>(
        &mut self,
        key: usize,
        cx: &mut Context<'_>,
    ) -> Poll<(T, io::Result<u32>)> {
        let ops = match self {
            Driver::Uring(d) => d.ops_mut(),
            Driver::Epoll(d) => d.ops_mut(),
        };
        let Poll::Ready((op, res)) = poll_slot(ops, key, cx) else {
            return Poll::Pending;
        };
        debug_assert!(
            op.op_type() == std::any::TypeId::of::<T>(),
            "slot holds another op type"
        );
        // An `Op<T>` polls only the key its own submission of a boxed `T`
        // returned, and only that `Op` (here) or its drop removes the slot.
        // SAFETY: so the slot holds that `Box<T>`, erased; the cast is exact.
        let op = unsafe { Box::from_raw(Box::into_raw(op).cast::<T>()) };
        Poll::Ready((ops.cells.unbox(op), res))
    }

    /// The op's future was dropped.
    pub(crate) fn drop_op(&mut self, key: usize) {
        match self {
            Driver::Uring(d) => d.drop_op(key),
            Driver::Epoll(d) => d.drop_op(key),
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
        match self {
            Driver::Uring(d) => d.park(timeout),
            Driver::Epoll(d) => d.park(timeout),
        }
    }

    /// Takes the work collected since the last call.
    pub(crate) fn take_deferred(&mut self) -> Deferred {
        let mut out = Deferred::default();
        self.swap_deferred(&mut out);
        out
    }

    /// Swaps the work collected since the last call with `spare` (which
    /// should be empty), so neither side allocates once warmed up.
    pub(crate) fn swap_deferred(&mut self, spare: &mut Deferred) {
        match self {
            Driver::Uring(d) => d.swap_deferred(spare),
            Driver::Epoll(d) => d.swap_deferred(spare),
        }
    }

    /// Forgets an fd's readiness state before the fd is closed.
    pub(crate) fn deregister(&mut self, fd: std::os::fd::RawFd, id: u64) {
        if let Driver::Epoll(d) = self {
            d.deregister(fd, id);
        }
    }
}

/// Shared by both drivers: the `Op` future's poll of a single-shot slot.
#[inline]
fn poll_slot(
    ops: &mut Ops,
    key: usize,
    cx: &mut Context<'_>,
) -> Poll<(Box<dyn Erased>, io::Result<u32>)> {
    let Some(slot) = ops.get_mut(key) else {
        unreachable!("an op's slot vanished while its future was alive")
    };
    match &mut slot.state {
        Lifecycle::Done(_) => Poll::Ready(ops.take(key)),
        Lifecycle::Waiting(w) => {
            if !w.will_wake(cx.waker()) {
                *w = cx.waker().clone();
            }
            Poll::Pending
        }
        Lifecycle::Submitted => {
            slot.state = Lifecycle::Waiting(cx.waker().clone());
            Poll::Pending
        }
        Lifecycle::Orphaned => unreachable!("a live op is never orphaned"),
    }
}

/// Shared by both drivers: the next queued completion of a multishot slot;
/// `Ready(None)` when the queue is empty and the kernel let go (re-arm).
fn poll_shots(
    ops: &mut Ops,
    key: usize,
    cx: &mut Context<'_>,
) -> Poll<Option<(io::Result<u32>, u32)>> {
    let Some(slot) = ops.get_mut(key) else {
        unreachable!("an op's slot vanished while its future was alive")
    };
    let shots = slot.shots.as_mut().expect("multishot slot");
    if let Some(item) = shots.queue.pop_front() {
        return Poll::Ready(Some(item));
    }
    if !shots.armed {
        return Poll::Ready(None);
    }
    match &mut slot.state {
        Lifecycle::Waiting(w) if w.will_wake(cx.waker()) => {}
        state => *state = Lifecycle::Waiting(cx.waker().clone()),
    }
    Poll::Pending
}
