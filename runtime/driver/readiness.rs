//! The epoll driver's readiness registry, and the attempt protocol built on
//! it: how every epoll op runs.
//!
//! # The protocol
//!
//! An op tries its non-blocking syscall. On `EAGAIN` the driver clears that
//! direction's ready bit, parks the op's waker and asks the kernel for the
//! next event ([`Readiness::arm`]); the op stays in its future, so the
//! kernel holds nothing of it. Only the worker's thread reaps events, so
//! readiness cannot change between the failed syscall and the clearing of
//! the bit. A short read or write clears the bit too (`Attempt::Drained`), so
//! the next op waits for an edge instead of trying a syscall bound to fail.
//! An fd the registry does not know counts as ready: its first op tries.
//!
//! Because bytes, datagrams and connections are only ever taken by a poll
//! that returns them, dropping such an op's future loses nothing: what the
//! kernel holds waits in the socket for the next call.
//!
//! # Events
//!
//! An fd is registered once, edge-triggered, for both directions, the
//! first time an op must wait on it. A registration ends with its fd (the
//! kernel drops a closed file from the epoll set); a number reused by a new
//! descriptor (a new id) starts a new one.

use std::io;
use std::os::fd::RawFd;
use std::task::{Context, Poll, Waker};

use super::op_state::{DriverId, OpState, Phase, Wait};
use super::operation::{Attempt, Interest, Operation};
use super::waiters::Waiters;
use crate::metrics::{bump, Counters};

/// Readiness of one registered fd.
#[derive(Debug)]
struct FdState {
    /// Which `SharedFd` registered it; a different id means the number was reused.
    id: u64,
    /// Set by an event, cleared by an `EAGAIN` or a short transfer.
    readable: bool,
    /// Set by an event, cleared by an `EAGAIN` or a short transfer.
    writable: bool,
    /// The peer shut down its side, or the fd failed: reads return at once
    /// from now on, and no edge will follow, so a short read must not clear
    /// `readable`.
    read_closed: bool,
    /// The fd failed or hung up: writes return at once from now on.
    write_closed: bool,
    /// Events for this registration come: the fd is in the epoll set.
    armed: bool,
    /// Per direction: the ready bit was set by an event and no transfer has
    /// happened since, so `readable()` may trust it without a syscall (a bit
    /// left set after a transfer that filled its buffer may be stale).
    fresh: [bool; 2],
    /// Ops waiting to read.
    readers: Waiters,
    /// Ops waiting to write.
    writers: Waiters,
}

/// Index of a direction in `FdState::fresh`.
fn dir(interest: Interest) -> usize {
    match interest {
        Interest::Readable => 0,
        Interest::Writable => 1,
    }
}

/// What the driver must ask of the kernel after [`Registry::wait`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arm {
    /// Nothing: events for this fd already come.
    Nothing,
    /// Start events for the fd, for both directions.
    Start,
}

/// Registered fds, indexed by fd number (fds are small and dense).
#[derive(Debug)]
pub(crate) struct Registry {
    /// By fd number.
    fds: Vec<Option<FdState>>,
    /// Wakers to run once the driver's borrow ends.
    pub(crate) woken: Vec<Waker>,
}

impl Registry {
    /// An empty registry.
    pub(crate) fn new() -> Self {
        Registry {
            fds: Vec::new(),
            woken: Vec::new(),
        }
    }

    fn get(&self, fd: RawFd, id: u64) -> Option<&FdState> {
        match self.fds.get(usize::try_from(fd).ok()?) {
            Some(Some(st)) if st.id == id => Some(st),
            _ => None,
        }
    }

    fn get_mut(&mut self, fd: RawFd, id: u64) -> Option<&mut FdState> {
        match self.fds.get_mut(usize::try_from(fd).ok()?) {
            Some(Some(st)) if st.id == id => Some(st),
            _ => None,
        }
    }

    /// What the registry knows of `fd`'s readiness for `interest`:
    /// `Some(true)` for an event not yet followed by a transfer,
    /// `Some(false)` for a known wait, `None` when only a syscall can tell
    /// (an fd it does not know, or a bit left set after a full transfer).
    pub(crate) fn known(&self, fd: RawFd, id: u64, interest: Interest) -> Option<bool> {
        let st = self.get(fd, id)?;
        let ready = match interest {
            Interest::Readable => st.readable,
            Interest::Writable => st.writable,
        };
        match (ready, st.fresh[dir(interest)]) {
            (false, _) => Some(false),
            (true, true) => Some(true),
            (true, false) => None,
        }
    }

    /// A transfer on `fd` for `interest` finished: the event that set its
    /// ready bit may be used up.
    pub(crate) fn transferred(&mut self, fd: RawFd, id: u64, interest: Interest) {
        if let Some(st) = self.get_mut(fd, id) {
            st.fresh[dir(interest)] = false;
        }
    }

    /// Whether `fd` may be ready for `interest` (unknown fds count as ready).
    pub(crate) fn is_ready(&self, fd: RawFd, id: u64, interest: Interest) -> bool {
        self.get(fd, id).is_none_or(|st| match interest {
            Interest::Readable => st.readable,
            Interest::Writable => st.writable,
        })
    }

    /// After a short read or write: clears the ready bit of a registered fd,
    /// so the next op waits for an edge. An unknown fd stays unknown (its
    /// next op tries, and registers on `EAGAIN`).
    pub(crate) fn clear_ready(&mut self, fd: RawFd, id: u64, interest: Interest) {
        if let Some(st) = self.get_mut(fd, id) {
            st.fresh[dir(interest)] = false;
            match interest {
                Interest::Readable => st.readable = st.read_closed,
                Interest::Writable => st.writable = st.write_closed,
            }
        }
    }

    /// After `EAGAIN`: clears the ready bit and parks the waker until the
    /// next edge; says what the driver must ask of the kernel.
    pub(crate) fn wait(
        &mut self,
        fd: RawFd,
        id: u64,
        interest: Interest,
        waker: &Waker,
    ) -> io::Result<Arm> {
        let idx = usize::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        if self.fds.len() <= idx {
            self.fds.resize_with(idx + 1, || None);
        }
        let fresh = !matches!(&self.fds[idx], Some(st) if st.id == id);
        if fresh {
            if let Some(old) = self.fds[idx].take() {
                self.retire(old);
            }
            self.fds[idx] = Some(FdState {
                id,
                readable: true,
                writable: true,
                read_closed: false,
                write_closed: false,
                armed: false,
                fresh: [false; 2],
                readers: Waiters::None,
                writers: Waiters::None,
            });
        }
        let st = self.fds[idx].as_mut().expect("registered above");
        let (ready, wakers) = match interest {
            Interest::Readable => (&mut st.readable, &mut st.readers),
            Interest::Writable => (&mut st.writable, &mut st.writers),
        };
        *ready = false;
        wakers.add(waker);
        st.fresh[dir(interest)] = false;
        if st.armed {
            return Ok(Arm::Nothing);
        }
        st.armed = true;
        Ok(Arm::Start)
    }

    /// The kernel refused to arm `fd`: undoes `wait`, forgetting the fd
    /// and waking its waiters (their next attempt reports the error).
    pub(crate) fn arm_failed(&mut self, fd: RawFd, id: u64) {
        let Some(st) = self.get_mut(fd, id) else {
            return;
        };
        st.armed = false;
        self.deregister(fd, id);
    }

    /// An event for `fd`'s registration with the kernel's `EPOLL*` bits.
    pub(crate) fn event(&mut self, fd: RawFd, bits: u32) {
        let Some(Some(st)) = usize::try_from(fd).ok().and_then(|i| self.fds.get_mut(i)) else {
            return;
        };
        apply(st, bits as i32, &mut self.woken);
    }

    /// Forgets `fd` before it is closed, so a reused number starts afresh;
    /// returns whether it was registered.
    pub(crate) fn deregister(&mut self, fd: RawFd, id: u64) -> bool {
        let Some(slot) = usize::try_from(fd).ok().and_then(|i| self.fds.get_mut(i)) else {
            return false;
        };
        if !matches!(slot, Some(st) if st.id == id) {
            return false;
        }
        let st = slot.take().expect("matched above");
        self.retire(st);
        true
    }

    /// A registration ends: its waiters re-poll.
    fn retire(&mut self, mut st: FdState) {
        st.readers.drain_into(&mut self.woken);
        st.writers.drain_into(&mut self.woken);
    }
}

/// Records the kernel's `bits` for `st` and moves the wakers of the
/// directions they make ready into `woken`.
// Inlined: it is most of `event`, the hottest call of a readiness driver.
#[inline(always)]
fn apply(st: &mut FdState, bits: i32, woken: &mut Vec<Waker>) {
    let errs = libc::EPOLLERR | libc::EPOLLHUP;
    if bits & (libc::EPOLLRDHUP | errs) != 0 {
        st.read_closed = true;
    }
    if bits & errs != 0 {
        st.write_closed = true;
    }
    if bits & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLPRI | errs) != 0 {
        st.readable = true;
        st.fresh[0] = true;
        st.readers.drain_into(woken);
    }
    if bits & (libc::EPOLLOUT | errs) != 0 {
        st.writable = true;
        st.fresh[1] = true;
        st.writers.drain_into(woken);
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

/// A driver that runs the protocol: owns a registry and can ask the kernel
/// for events.
pub(crate) trait Readiness {
    /// The driver's identity, recorded in each [`Wait`].
    fn driver_id(&self) -> DriverId;
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
                    driver: self.driver_id(),
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
            driver: self.driver_id(),
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
        let id = self.driver_id();
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
