//! What an op's future holds ([`OpState`]) and the one
//! protocol that drives it on either driver, so that nothing above the
//! driver names a driver.
//!
//! # States of a single-shot op
//!
//! - `Unheld(op, None)`: not yet handed to a driver.
//! - `Unheld(op, Some(wait))`: waiting for readiness on the driver
//!   `wait.driver`. The kernel holds nothing of the op, so it stays in the
//!   future, updated in place from poll to poll.
//! - `Held { driver, key }`: in slot `key` of driver `driver` (io_uring, or the
//!   epoll driver's blocking pool). Only that driver may be asked about it.
//! - `Finished`: the output was returned.
//!
//! # Ops on the wrong driver
//!
//! An op remembers the id of the driver that holds it. Polled on another
//! driver (another runtime on this thread, or after its own runtime is gone),
//! an `Unheld` op simply starts over there, since nothing of it is in a
//! kernel; a `Held` op panics with a message saying so, since its buffers are
//! in the other driver's slot and cannot be handed back. Dropped there, it
//! is left to its own driver, whose shutdown cancels and frees it.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use super::operation::{Interest, Operation};
use super::readiness::Readiness;
use super::Driver;

/// Tells drivers apart, for the lifetime of the process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DriverId(u64);

impl DriverId {
    /// A fresh id.
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        DriverId(NEXT.fetch_add(1, Ordering::Relaxed))
    }
}

/// What an op waits for on a readiness driver.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wait {
    /// The descriptor.
    pub(crate) fd: RawFd,
    /// Which `SharedFd` owns that number (numbers are reused, ids are not).
    pub(crate) fd_id: u64,
    /// The direction.
    pub(crate) interest: Interest,
    /// The driver whose registry holds the waker.
    pub(crate) driver: DriverId,
}

/// Where a single-shot op stands; see the module doc.
pub(crate) enum OpState<T> {
    /// Not in a slot: not yet submitted, or waiting for the readiness `Wait`.
    Unheld(T, Option<Wait>),
    /// In a driver's slot.
    Held {
        /// The driver holding the slot.
        driver: DriverId,
        /// The slot's key.
        key: usize,
        /// A linked timeout guards it: `ECANCELED` means the deadline passed.
        timed: bool,
    },
    /// The output was returned.
    Finished,
}

impl<T: Operation> OpState<T> {
    /// Whether the op (not yet in a slot) runs the readiness protocol.
    fn readiness(&self) -> bool {
        match self {
            OpState::Unheld(op, _) => op.readiness(),
            _ => false,
        }
    }
}

impl<T> OpState<T> {
    /// Whether the op waits in a state its driver cannot bound by a
    /// deadline (readiness), so its future must race a timer.
    pub(crate) fn needs_timer(&self) -> bool {
        matches!(self, OpState::Unheld(_, Some(_)))
    }

    /// Gives up an op the driver does not hold (not yet submitted, or waiting
    /// for readiness): hands it back, to complete with an error.
    pub(crate) fn take_unheld(&mut self) -> Option<T> {
        match std::mem::replace(self, OpState::Finished) {
            OpState::Unheld(op, _) => Some(op),
            other => {
                *self = other;
                None
            }
        }
    }
}

/// The panic for an op whose slot is in another driver.
#[cold]
fn wrong_driver() -> ! {
    panic!(
        "runtime: an I/O operation was polled on a different runtime than the one it was \
         started on (or after that runtime was dropped); an operation in flight belongs to \
         the worker that started it"
    )
}

/// The error a timed-out op completes with.
pub(crate) fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "operation timed out")
}

impl Driver {
    /// Drives a single-shot op: submits it, waits for readiness and retries,
    /// or takes its completion. `Ready` hands back the op and its result; the
    /// caller completes it after the driver's borrow ends.
    ///
    /// `deadline` bounds the op in the kernel where the driver can (a linked
    /// timeout on io_uring); otherwise the caller races a timer while
    /// [`OpState::needs_timer`] says so.
    #[inline]
    pub(crate) fn poll_op<T: Operation>(
        &mut self,
        st: &mut OpState<T>,
        deadline: Option<Duration>,
        cx: &mut Context<'_>,
    ) -> Poll<(T, io::Result<u32>)> {
        let id = self.id();
        match *st {
            OpState::Held { driver, key, timed } => {
                if driver != id {
                    wrong_driver();
                }
                let ops = match self {
                    Driver::Uring(d) => d.ops_mut(),
                    Driver::Epoll(d) => d.ops_mut(),
                };
                let Poll::Ready(()) = ops.poll_done(key, cx) else {
                    return Poll::Pending;
                };
                *st = OpState::Finished;
                let (op, res) = ops.take::<T>(key);
                let res = match res {
                    Err(e) if timed && e.raw_os_error() == Some(libc::ECANCELED) => {
                        Err(timed_out())
                    }
                    res => res,
                };
                Poll::Ready((op, res))
            }
            OpState::Finished => Poll::Pending,
            OpState::Unheld(..) => match self {
                Driver::Uring(d) if st.readiness() => d.poll_unheld(st, cx),
                Driver::Uring(d) => {
                    let Some(op) = st.take_unheld() else {
                        unreachable!("matched above")
                    };
                    let key = d.submit(op, cx.waker().clone(), deadline);
                    *st = OpState::Held {
                        driver: id,
                        key,
                        timed: deadline.is_some(),
                    };
                    Poll::Pending
                }
                Driver::Epoll(d) => d.poll_unheld(st, cx),
            },
        }
    }

    /// Takes back an op this driver does not hold in a slot (its readiness
    /// wait timed out), to complete it with an error.
    pub(crate) fn abandon_op<T>(&mut self, st: &mut OpState<T>) -> Option<T> {
        if let OpState::Unheld(_, Some(_)) = st {
            self.abandoned();
        }
        st.take_unheld()
    }

    /// An op waiting for readiness went away (its fd's registration stays).
    fn abandoned(&mut self) {
        match self {
            Driver::Uring(d) => d.abandoned(),
            Driver::Epoll(d) => d.abandoned(),
        }
    }

    /// The op's future is being dropped.
    pub(crate) fn drop_op<T: Operation>(&mut self, st: &mut OpState<T>) {
        match *st {
            OpState::Held { driver, key, .. } if driver == self.id() => match self {
                Driver::Uring(d) => d.drop_slot(key),
                Driver::Epoll(d) => d.drop_slot(key),
            },
            OpState::Unheld(_, Some(_)) => self.abandoned(),
            // Another driver's slot stays with it (its shutdown frees it).
            _ => {}
        }
        *st = OpState::Finished;
    }
}
