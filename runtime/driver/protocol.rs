//! The op protocol, whole: what an op's future holds ([`OpState`]), the
//! steps both drivers share ([`Protocol`]: poll, drop, hand-back) and the
//! readiness half epoll runs ([`Readiness`]: attempt, wait for an edge,
//! retry), so that nothing above the driver names a driver. `mod.rs` only
//! forwards to it; the registry the readiness half reads is `registry.rs`.
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
//! back to its own driver ([`hand_back`]), which cancels and frees it as if
//! it had been dropped at home.
//!
//! Polled outside any runtime, an `Unheld` op completes with an error; a
//! `Held` or `InKernel` op panics likewise: no driver is there to keep its
//! waker, so it could only return `Pending` forever.

//!
//! # The readiness protocol (epoll)
//!
//! An op tries its non-blocking syscall. On `EAGAIN` the driver clears that
//! direction's ready bit, parks the op's waker and asks the kernel for the
//! next event ([`Readiness::arm`]); the op stays in its future, so the
//! kernel holds nothing of it. Only the worker's thread reaps events, so
//! readiness cannot change between the failed syscall and the clearing of
//! the bit. A short read or write clears the bit too (`Attempt::Drained`), so
//! the next op waits for an edge instead of trying a syscall bound to fail.
//!
//! Because bytes, datagrams and connections are only ever taken by a poll
//! that returns them, dropping such an op's future loses nothing: what the
//! kernel holds waits in the socket for the next call.

use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use super::id::DriverId;
use super::lifecycle::Ops;
use super::operation::{Attempt, Erased, Interest, Operation};
use super::registry::{Arm, Registry};
use super::releases::{Adopted, HandBack, Release};
use super::unpark::Unpark;
use crate::metrics::{bump, Counters};

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
    fn take_unheld(&mut self) -> Option<T> {
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
    fn unheld_mut(&mut self) -> Option<(&mut T, &mut Option<Wait>)> {
        match &mut self.phase {
            Phase::Unheld(wait) => self.op.as_mut().map(|op| (op, wait)),
            _ => None,
        }
    }

    /// Hands the op to a slot: it leaves the future.
    fn give(&mut self) -> T {
        let Some(op) = self.op.take() else {
            unreachable!("an op is given to one slot")
        };
        op
    }

    /// io_uring: `queue` moves the op into a slot of `driver` and returns
    /// its key; `timed`: a linked timeout guards it.
    #[inline]
    pub(crate) fn submit(
        &mut self,
        driver: DriverId,
        timed: bool,
        queue: impl FnOnce(T) -> usize,
    ) -> Poll<io::Result<u32>> {
        let key = queue(self.give());
        self.phase = Phase::Held { driver, key, timed };
        Poll::Pending
    }

    /// io_uring: `queue` submits an `IN_PLACE` op from where it is (the op
    /// stays here) from a slot of `driver` and returns its key.
    #[inline]
    pub(crate) fn submit_in_place(
        &mut self,
        driver: DriverId,
        timed: bool,
        queue: impl FnOnce(&mut T) -> usize,
    ) -> Poll<io::Result<u32>> {
        let Some(op) = self.op.as_mut() else {
            unreachable!("an unheld op is in its future")
        };
        let key = queue(op);
        self.phase = Phase::InKernel { driver, key, timed };
        Poll::Pending
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
fn wrong_driver() -> ! {
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

/// What both drivers provide for the shared part of the protocol; its
/// provided methods are the protocol. `Driver` forwards to them, so one
/// match on the driver picks a monomorphised copy and nothing is dynamic.
pub(crate) trait Protocol {
    /// This driver's identity, which the ops it holds carry.
    fn id(&self) -> DriverId;
    /// The slots of its ops in flight.
    fn ops_mut(&mut self) -> &mut Ops;
    /// The worker's wake-up handle, which holds its release queue.
    fn unpark(&self) -> &Arc<Unpark>;
    /// Lets go of one item of the release queue (`releases.rs`), on the
    /// driver's own thread.
    fn released(&mut self, item: Release);
    /// Starts an op no slot holds (`Phase::Unheld`): io_uring submits it,
    /// epoll attempts it ([`Readiness::poll_unheld`]).
    fn start<T: Operation>(
        &mut self,
        st: &mut OpState<T>,
        deadline: Option<Duration>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<u32>>;
    /// The future of the op in slot `key` went away: cancel it in the kernel
    /// if `cancel` (its `CANCEL_ON_DROP`), or free it.
    fn drop_slot(&mut self, key: usize, cancel: bool);
    /// The future of the in-place op of slot `key` went away: the slot keeps
    /// `op` until the kernel lets go.
    fn drop_in_place(&mut self, key: usize, op: Box<dyn Erased>, cancel: bool);
    /// An op waiting for readiness went away (its fd's registration stays).
    fn abandoned(&mut self);

    /// Drives a single-shot op: submits it, waits for readiness and retries,
    /// or takes its completion. `Ready` gives the result; the finished op is
    /// then in `st` ([`OpState::take_finished`]), for the caller to
    /// complete after the driver's borrow ends.
    ///
    /// `deadline` bounds the op in the kernel where the driver can (a linked
    /// timeout on io_uring); otherwise the caller races a timer while
    /// [`OpState::needs_timer`] says so.
    #[inline]
    fn poll_op<T: Operation>(
        &mut self,
        st: &mut OpState<T>,
        deadline: Option<Duration>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<u32>> {
        match st.phase {
            Phase::Held { driver, key, timed } => {
                if driver != self.id() {
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
                if driver != self.id() {
                    wrong_driver();
                }
                let Poll::Ready(res) = self.ops_mut().poll_result(key, cx) else {
                    return Poll::Pending;
                };
                st.phase = Phase::Finished;
                Poll::Ready(deadline_result(res, timed))
            }
            Phase::Finished => Poll::Pending,
            Phase::Unheld(_) => self.start(st, deadline, cx),
        }
    }

    /// Takes back an op this driver does not hold in a slot (its readiness
    /// wait timed out), to complete it with an error.
    fn abandon_op<T>(&mut self, st: &mut OpState<T>) -> Option<T> {
        if let Phase::Unheld(Some(_)) = st.phase {
            self.abandoned();
        }
        st.take_unheld()
    }

    /// The op's future is being dropped on this driver's thread. Returns
    /// false, leaving `st` as it is, for an op another driver holds: the
    /// caller hands it back to that driver ([`hand_back`]).
    fn drop_op<T: Operation>(&mut self, st: &mut OpState<T>) -> bool {
        match st.phase {
            Phase::Held { driver, key, .. } if driver == self.id() => {
                self.drop_slot(key, T::CANCEL_ON_DROP)
            }
            Phase::InKernel { driver, key, .. } if driver == self.id() => {
                let Some(op) = st.op.take() else {
                    unreachable!("an in-place op is in its future")
                };
                self.drop_in_place(key, Box::new(op), T::CANCEL_ON_DROP);
            }
            Phase::Held { .. } | Phase::InKernel { .. } => return false,
            Phase::Unheld(Some(_)) => self.abandoned(),
            Phase::Unheld(None) | Phase::Finished => {}
        }
        st.phase = Phase::Finished;
        true
    }

    /// An op whose future was dropped elsewhere comes back: its slot is
    /// orphaned as if the future had been dropped here.
    fn take_back(&mut self, item: HandBack) {
        match item {
            HandBack::Slot(key, cancel) => self.drop_slot(key, cancel),
            HandBack::InPlace(key, op, cancel) => self.drop_in_place(key, op.into_op(), cancel),
        }
    }

    /// Takes the release queue (`releases.rs`): in `park`, after the
    /// executor's `prepare_park`, and wherever the module doc of
    /// `releases.rs` lists. Whether anything was taken (a load when not).
    #[inline]
    fn take_releases(&mut self) -> bool {
        let items = self.unpark().releases.take();
        if items.is_empty() {
            return false;
        }
        for item in items {
            self.released(item);
        }
        true
    }

    /// The worker starts (`true`) or stops turning its loop, which decides
    /// who waits for it (`releases.rs`, "A worker that does not turn");
    /// stopping, it takes what is queued now. The caller runs the collected
    /// wakers afterwards.
    fn attend(&mut self, on: bool) {
        self.unpark().set_active(on);
        if !on {
            self.take_releases();
        }
    }

    /// `shutdown`, first: no more hand-backs find this driver; takes what
    /// was released so far. Later items wait in the queue until the driver
    /// goes, which refuses them (`Release::refuse`).
    fn stop_releases(&mut self) {
        super::hand_back::unregister(self.id());
        self.take_releases();
    }
}

/// The future of `st` is dropped where its driver cannot take it: sends the
/// op's slot (and an in-place op itself) to that driver (`hand_back.rs`).
/// An op whose driver is gone is leaked if a kernel may still hold it,
/// never freed.
pub(crate) fn hand_back<T: Operation>(st: &mut OpState<T>) {
    let (driver, item) = match st.phase {
        Phase::Held { driver, key, .. } => (driver, HandBack::Slot(key, T::CANCEL_ON_DROP)),
        Phase::InKernel { driver, key, .. } => {
            let op: Box<dyn Erased> = Box::new(st.give());
            (
                driver,
                HandBack::InPlace(key, Adopted::new(op), T::CANCEL_ON_DROP),
            )
        }
        // Nothing of it is in a kernel; a readiness registration left behind
        // wakes nobody who cares.
        Phase::Unheld(_) | Phase::Finished => {
            st.phase = Phase::Finished;
            return;
        }
    };
    st.phase = Phase::Finished;
    super::hand_back::send(driver, item);
}

/// A guarded op's result: `ECANCELED` from its linked timeout is `TimedOut`.
#[inline]
fn deadline_result(res: io::Result<u32>, timed: bool) -> io::Result<u32> {
    match res {
        Err(e) if timed && e.raw_os_error() == Some(libc::ECANCELED) => Err(timed_out()),
        res => res,
    }
}

/// One step of the protocol.
#[derive(Debug)]
pub(crate) enum Step {
    /// The syscall finished.
    Done(io::Result<u32>),
    /// The op waits for this edge.
    Wait(Wait),
    /// The op must run on the blocking pool.
    Blocking,
}

/// A driver that runs the readiness protocol (see the module doc): owns a
/// registry and can ask the kernel for events.
pub(crate) trait Readiness: Protocol {
    /// Its registry.
    fn registry(&mut self) -> &mut Registry;
    /// Asks the kernel for events of `fd`, both directions.
    fn arm(&mut self, fd: RawFd) -> io::Result<()>;
    /// Puts an op that must not run on the worker into a slot (epoll: the
    /// blocking pool); returns the slot key.
    fn hold<T: Operation>(&mut self, op: T, waker: Waker) -> usize;
    /// The worker's counters.
    fn counters(&self) -> &Counters;

    /// Drives an op not in a slot by the protocol, in place: the op moves
    /// only into a slot (blocking pool). `Ready`: the finished op is in `st`.
    fn poll_unheld<T: Operation>(
        &mut self,
        st: &mut OpState<T>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<u32>> {
        let Some((op, wait)) = st.unheld_mut() else {
            unreachable!("poll_unheld on an op in a slot")
        };
        if wait.is_none() {
            bump(&self.counters().ops_submitted);
        }
        match self.step(op, *wait, cx) {
            Step::Wait(next) => {
                *wait = Some(next);
                Poll::Pending
            }
            Step::Done(res) => {
                bump(&self.counters().ops_completed);
                st.phase = Phase::Finished;
                Poll::Ready(res)
            }
            Step::Blocking => {
                let key = self.hold(st.give(), cx.waker().clone());
                st.phase = Phase::Held {
                    driver: self.id(),
                    key,
                    timed: false,
                };
                Poll::Pending
            }
        }
    }

    /// Parks the waker until `fd` reports `interest`, arming as needed.
    fn wait_ready(
        &mut self,
        fd: RawFd,
        fd_id: u64,
        interest: Interest,
        cx: &mut Context<'_>,
    ) -> io::Result<Wait> {
        if let Arm::Start = self.registry().wait(fd, fd_id, interest, cx.waker())? {
            if let Err(e) = self.arm(fd) {
                self.registry().arm_failed(fd, fd_id);
                return Err(e);
            }
        }
        Ok(Wait {
            fd,
            fd_id,
            interest,
            driver: self.id(),
        })
    }

    /// Runs `io`, a non-blocking syscall the caller makes itself (poll-based
    /// streams), if `fd` may be ready for `interest`; on `WouldBlock`, or
    /// when `fd` is known not to be ready, parks the waker until the next edge.
    fn poll_io<R>(
        &mut self,
        fd: RawFd,
        fd_id: u64,
        interest: Interest,
        cx: &mut Context<'_>,
        io: impl FnOnce() -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        if self.registry().is_ready(fd, fd_id, interest) {
            match io() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                res => return Poll::Ready(res),
            }
        }
        match self.wait_ready(fd, fd_id, interest, cx) {
            Ok(_) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    /// As [`poll_io`](Readiness::poll_io) for a transfer of up to `asked`
    /// bytes: a short one (some, but fewer) means the socket is now empty
    /// (read) or full (write), so the next call waits for an edge instead of
    /// trying a syscall bound to fail, as `Attempt::Drained` does for ops.
    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "futures-io", feature = "hyper")),
        allow(dead_code)
    )]
    fn poll_transfer(
        &mut self,
        fd: RawFd,
        fd_id: u64,
        interest: Interest,
        asked: usize,
        cx: &mut Context<'_>,
        io: impl FnOnce() -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let polled = self.poll_io(fd, fd_id, interest, cx, io);
        match polled {
            Poll::Ready(Ok(n)) if n > 0 && n < asked => {
                self.registry().clear_ready(fd, fd_id, interest)
            }
            Poll::Ready(_) => self.registry().transferred(fd, fd_id, interest),
            Poll::Pending => {}
        }
        polled
    }

    /// Ready once `fd` reported `interest` since it was last found drained;
    /// for an fd the registry does not know yet, `probe` (a non-blocking
    /// syscall that takes nothing) decides. May be spurious after a transfer
    /// that filled its buffer exactly: the next op then waits.
    fn poll_ready(
        &mut self,
        fd: RawFd,
        fd_id: u64,
        interest: Interest,
        cx: &mut Context<'_>,
        probe: impl FnOnce() -> io::Result<()>,
    ) -> Poll<io::Result<()>> {
        match self.registry().known(fd, fd_id, interest) {
            Some(true) => Poll::Ready(Ok(())),
            Some(false) => match self.wait_ready(fd, fd_id, interest, cx) {
                Ok(_) => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
            None => self.poll_io(fd, fd_id, interest, cx, probe),
        }
    }

    /// One step for `op`: wait for an edge, attempt the syscall, or report
    /// that it must go to the blocking pool.
    fn step<T: Operation>(&mut self, op: &mut T, wait: Option<Wait>, cx: &mut Context<'_>) -> Step {
        let id = self.id();
        let target = wait
            .filter(|w| w.driver == id)
            .map(|w| (w.fd, w.fd_id, w.interest))
            .or_else(|| op.epoll_target());
        // An fd known not to be ready waits for its next edge rather than try
        // a syscall bound to return EAGAIN. A registration error falls
        // through: the attempt reports it.
        if let Some((fd, fd_id, interest)) = target {
            if !self.registry().is_ready(fd, fd_id, interest) {
                if let Ok(wait) = self.wait_ready(fd, fd_id, interest, cx) {
                    return Step::Wait(wait);
                }
            }
        }
        match op.epoll_attempt() {
            Attempt::Done(res) => {
                if let Some((fd, fd_id, interest)) = target {
                    self.registry().transferred(fd, fd_id, interest);
                }
                Step::Done(res)
            }
            Attempt::Drained {
                res,
                fd,
                fd_id,
                interest,
            } => {
                self.registry().clear_ready(fd, fd_id, interest);
                Step::Done(res)
            }
            Attempt::WouldBlock {
                fd,
                fd_id,
                interest,
            } => match self.wait_ready(fd, fd_id, interest, cx) {
                Ok(wait) => Step::Wait(wait),
                Err(e) => Step::Done(Err(e)),
            },
            Attempt::Blocking => Step::Blocking,
        }
    }
}
