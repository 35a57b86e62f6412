//! What an op's future holds ([`OpState`]) and the one
//! protocol that drives it on either driver, so that nothing above the
//! driver names a driver.
//!
//! # States of a single-shot op
//!
//! An [`OpState`] is the op (while the future owns it) and its [`Phase`]:
//!
//! - `Unheld(None)`: not yet handed to a driver.
//! - `Unheld(Some(wait))`: waiting for readiness on the driver
//!   `wait.driver`. The kernel holds nothing of the op, so it stays in the
//!   future, updated in place from poll to poll.
//! - `Held { driver, key }`: the op is in slot `key` of driver `driver`
//!   (io_uring, or the epoll driver's blocking pool). Only that driver may be
//!   asked about it.
//! - `InKernel { driver, key }`: io_uring runs an `IN_PLACE` op (its entry
//!   points into no part of the op itself) from slot `key`, while the op
//!   stays in the future, unboxed and unmoved. Dropped first, the op moves
//!   into the slot until the kernel lets go (handed back to its driver if
//!   dropped elsewhere); if that driver is gone, the op is leaked, never
//!   freed under the kernel.
//! - `Finished`: the output was returned.
//!
//! The op stays where the future put it from creation to completion unless
//! a slot takes it, so a phase change moves nothing.
//!
//! # Ops on the wrong driver
//!
//! An op remembers the id of the driver that holds it. Polled on another
//! driver (another runtime on this thread, or after its own runtime is gone),
//! an `Unheld` op simply starts over there, since nothing of it is in a
//! kernel; a `Held` or `InKernel` op panics with a message saying so, since
//! its buffers belong to the other driver until its kernel lets go. Dropped
//! there (or on any thread where its driver is not at hand), it is handed
//! back to its own driver (`hand_back.rs`), which cancels and frees it as if
//! it had been dropped at home.
//!
//! Polled outside any runtime, an `Unheld` op completes with an error; a
//! `Held` or `InKernel` op panics likewise: no driver is there to keep its
//! waker, so it could only return `Pending` forever.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use super::lifecycle::Ops;
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

/// A single-shot op's future state: the op, while the future owns it, and
/// where it stands; see the module doc.
pub(crate) struct OpState<T> {
    /// The op: `Some` while `Unheld` or `InKernel`, and once a finished op
    /// was handed back for its output; `None` while a slot holds it and
    /// after the output was taken.
    op: Option<T>,
    /// Where the op stands.
    pub(crate) phase: Phase,
}

/// Where a single-shot op stands; see the module doc.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Phase {
    /// Not in a slot: not yet submitted, or waiting for the readiness `Wait`.
    Unheld(Option<Wait>),
    /// In a driver's slot.
    Held {
        /// The driver holding the slot.
        driver: DriverId,
        /// The slot's key.
        key: usize,
        /// A linked timeout guards it: `ECANCELED` means the deadline passed.
        timed: bool,
    },
    /// io_uring runs the op from a slot while it stays here (`IN_PLACE`).
    InKernel {
        /// The driver whose ring runs it.
        driver: DriverId,
        /// The slot's key.
        key: usize,
        /// A linked timeout guards it: `ECANCELED` means the deadline passed.
        timed: bool,
    },
    /// Done: the op (if still here) only waits to be completed.
    Finished,
}

impl<T> OpState<T> {
    /// A new op, not yet handed to a driver.
    pub(crate) fn new(op: T) -> Self {
        OpState {
            op: Some(op),
            phase: Phase::Unheld(None),
        }
    }

    /// Whether the op waits in a state its driver cannot bound by a
    /// deadline (readiness), so its future must race a timer.
    pub(crate) fn needs_timer(&self) -> bool {
        matches!(self.phase, Phase::Unheld(Some(_)))
    }

    /// Gives up an op the driver does not hold (not yet submitted, or waiting
    /// for readiness): hands it back, to complete with an error.
    pub(crate) fn take_unheld(&mut self) -> Option<T> {
        match self.phase {
            Phase::Unheld(_) => {
                self.phase = Phase::Finished;
                self.op.take()
            }
            _ => None,
        }
    }

    /// Polled outside any runtime: hands back an op no driver holds, to
    /// complete with an error (`None` once it finished).
    ///
    /// # Panics
    ///
    /// If a driver holds the op (in a kernel or on its blocking pool): its
    /// result can only come through that driver, which is not here to keep
    /// a waker for it.
    pub(crate) fn take_outside_runtime(&mut self) -> Option<T> {
        if let Phase::Held { .. } | Phase::InKernel { .. } = self.phase {
            in_flight_outside_runtime();
        }
        self.take_unheld()
    }

    /// The finished op, for its output: after `poll_op` returned `Ready`.
    #[inline]
    pub(crate) fn take_finished(&mut self) -> T {
        debug_assert!(matches!(self.phase, Phase::Finished));
        let Some(op) = self.op.take() else {
            unreachable!("a finished op is handed back once")
        };
        op
    }

    /// The op, while the future owns it and it waits for readiness or has
    /// not started.
    pub(crate) fn unheld_mut(&mut self) -> Option<(&mut T, &mut Option<Wait>)> {
        match &mut self.phase {
            Phase::Unheld(wait) => self.op.as_mut().map(|op| (op, wait)),
            _ => None,
        }
    }

    /// Hands the op to a slot: it leaves the future.
    pub(crate) fn give(&mut self) -> T {
        let Some(op) = self.op.take() else {
            unreachable!("an op is given to one slot")
        };
        op
    }

    /// The slot key of an op a driver holds, for a receive to record.
    pub(crate) fn key(&self) -> Option<u64> {
        match self.phase {
            Phase::Held { key, .. } | Phase::InKernel { key, .. } => Some(key as u64),
            _ => None,
        }
    }

    /// Whether dropping the future needs a driver (an op in flight or waiting).
    pub(crate) fn needs_driver_on_drop(&self) -> bool {
        !matches!(self.phase, Phase::Finished | Phase::Unheld(None))
    }
}

/// The panic for an op whose slot is in another driver.
#[cold]
pub(crate) fn wrong_driver() -> ! {
    panic!(
        "runtime: an I/O operation was polled on a different runtime than the one it was \
         started on (or after that runtime was dropped); an operation in flight belongs to \
         the worker that started it"
    )
}

/// The panic for an op in flight polled where no runtime runs.
#[cold]
fn in_flight_outside_runtime() -> ! {
    panic!(
        "runtime: an I/O operation in flight was polled outside any runtime (after its \
         block_on returned, or on a thread without one); an operation in flight belongs to \
         the worker that started it: await it there"
    )
}

/// The error a timed-out op completes with.
pub(crate) fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "operation timed out")
}

impl Driver {
    /// Drives a single-shot op: submits it, waits for readiness and retries,
    /// or takes its completion. `Ready` gives the result; the finished op is
    /// then in `st` ([`OpState::take_finished`]), for the caller to
    /// complete after the driver's borrow ends.
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
    ) -> Poll<io::Result<u32>> {
        let id = self.id();
        match st.phase {
            Phase::Held { driver, key, timed } => {
                if driver != id {
                    wrong_driver();
                }
                let ops = self.ops_mut();
                let Poll::Ready(()) = ops.poll_done(key, cx) else {
                    return Poll::Pending;
                };
                let (op, res) = ops.take::<T>(key);
                st.op = Some(op);
                st.phase = Phase::Finished;
                Poll::Ready(deadline_result(res, timed))
            }
            Phase::InKernel { driver, key, timed } => {
                if driver != id {
                    wrong_driver();
                }
                let Poll::Ready(res) = self.ops_mut().poll_result(key, cx) else {
                    return Poll::Pending;
                };
                st.phase = Phase::Finished;
                Poll::Ready(deadline_result(res, timed))
            }
            Phase::Finished => Poll::Pending,
            Phase::Unheld(_) => match self {
                Driver::Uring(d) if T::IN_PLACE => {
                    let Some(op) = st.op.as_mut() else {
                        unreachable!("an unheld op is in its future")
                    };
                    let key = d.submit_in_place(op, cx.waker().clone(), deadline);
                    st.phase = Phase::InKernel {
                        driver: id,
                        key,
                        timed: deadline.is_some(),
                    };
                    Poll::Pending
                }
                Driver::Uring(d) => {
                    let key = d.submit(st.give(), cx.waker().clone(), deadline);
                    st.phase = Phase::Held {
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
        if let Phase::Unheld(Some(_)) = st.phase {
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

    /// The op's future is being dropped on this driver's thread. Returns
    /// false, leaving `st` as it is, for an op another driver holds: the
    /// caller hands it back to that driver (`hand_back.rs`).
    pub(crate) fn drop_op<T: Operation>(&mut self, st: &mut OpState<T>) -> bool {
        match st.phase {
            Phase::Held { driver, key, .. } if driver == self.id() => match self {
                Driver::Uring(d) => d.drop_slot(key, T::CANCEL_ON_DROP),
                Driver::Epoll(d) => d.drop_slot(key),
            },
            Phase::InKernel { driver, key, .. } if driver == self.id() => {
                let Some(op) = st.op.take() else {
                    unreachable!("an in-place op is in its future")
                };
                match self {
                    Driver::Uring(d) => d.drop_in_place(key, Box::new(op), T::CANCEL_ON_DROP),
                    // Unreachable (only io_uring runs ops in place); leaking
                    // is the safe answer all the same.
                    Driver::Epoll(_) => std::mem::forget(op),
                }
            }
            Phase::Held { .. } | Phase::InKernel { .. } => return false,
            Phase::Unheld(Some(_)) => self.abandoned(),
            Phase::Unheld(None) | Phase::Finished => {}
        }
        st.phase = Phase::Finished;
        true
    }

    /// The slots of this driver's ops in flight.
    fn ops_mut(&mut self) -> &mut Ops {
        match self {
            Driver::Uring(d) => d.ops_mut(),
            Driver::Epoll(d) => d.ops_mut(),
        }
    }
}

/// A guarded op's result: `ECANCELED` from its linked timeout is `TimedOut`.
#[inline]
fn deadline_result(res: io::Result<u32>, timed: bool) -> io::Result<u32> {
    match res {
        Err(e) if timed && e.raw_os_error() == Some(libc::ECANCELED) => Err(timed_out()),
        res => res,
    }
}
