//! The readiness registry both drivers keep, and the attempt protocol built
//! on it: how an op that must not leave its result in a dropped future
//! (a receive, an accept) and every epoll op run.
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
//! # Sources of events
//!
//! Both drivers register an fd once, edge-triggered, for both directions, the
//! first time an op must wait on it. epoll adds it to its set; io_uring arms
//! one multishot `IORING_OP_POLL_ADD` (`POLLIN | POLLOUT | POLLRDHUP`, edge
//! by default), so a steady connection costs no submission per wait. The
//! kernel may end a multishot poll (a completion without
//! `IORING_CQE_F_MORE`: CQ overflow, an error); the registration is then
//! unarmed, its waiters are woken, and the next wait arms it again.
//!
//! A poll holds a reference to the file, so an armed one would keep a closed
//! socket open: a registration that ends (its fd's last handle is dropped,
//! or the number is registered anew) has its poll cancelled
//! (`Registry::to_cancel`), also when the handle goes on another thread
//! (`poll_owners.rs`). Each registration has a generation, so an event of a
//! poll for an fd number since closed and reused is recognised and ignored.

use std::io;
use std::os::fd::RawFd;
use std::task::{Context, Poll, Waker};

use super::op_state::{DriverId, OpState, Phase, Wait};
use super::operation::{Attempt, Interest, Operation};
use crate::metrics::{bump, Counters};

/// Generations wrap within 30 bits (io_uring's poll `user_data` has room for no more).
pub(crate) const GEN_MASK: u32 = 0x3fff_ffff;

/// Readiness of one registered fd.
#[derive(Debug)]
struct FdState {
    /// Which `SharedFd` registered it; a different id means the number was reused.
    id: u64,
    /// This registration's generation, carried by io_uring poll entries.
    gen: u32,
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
    /// Events for this registration come: epoll once it is added, io_uring
    /// while its multishot poll lasts.
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

/// The wakers waiting for one direction of one fd: inline for the usual
/// single waiter, so an idle connection costs no allocation here.
#[derive(Debug, Default)]
enum Waiters {
    /// Nobody waits.
    #[default]
    None,
    /// One op waits (the common case: one reader, one writer).
    One(Waker),
    /// Several ops wait (several tasks reading one socket).
    Many(Vec<Waker>),
}

impl Waiters {
    /// Adds `waker` unless it is already there.
    fn add(&mut self, waker: &Waker) {
        match self {
            Waiters::None => *self = Waiters::One(waker.clone()),
            Waiters::One(w) if w.will_wake(waker) => {}
            Waiters::One(_) => {
                let Waiters::One(first) = std::mem::take(self) else {
                    unreachable!("matched above")
                };
                *self = Waiters::Many(vec![first, waker.clone()]);
            }
            Waiters::Many(ws) => {
                if !ws.iter().any(|w| w.will_wake(waker)) {
                    ws.push(waker.clone());
                }
            }
        }
    }

    /// Moves every waker into `out`; returns 1 if there were any, 0 if not
    /// (for `Registry::waiting`).
    fn drain_into(&mut self, out: &mut Vec<Waker>) -> usize {
        match std::mem::take(self) {
            Waiters::None => return 0,
            Waiters::One(w) => out.push(w),
            Waiters::Many(ws) => out.extend(ws),
        }
        1
    }
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
    /// Start events for the fd, for both directions (registration `gen`).
    Start(u32),
}

/// Registered fds, indexed by fd number (fds are small and dense).
#[derive(Debug)]
pub(crate) struct Registry {
    /// By fd number.
    fds: Vec<Option<FdState>>,
    /// The next registration's generation.
    next_gen: u32,
    /// Whether an armed registration holds the file open until cancelled
    /// (an io_uring poll) rather than ending with the fd (epoll).
    holds_file: bool,
    /// Directions of registered fds with a waker parked (possibly one whose
    /// op has gone): while none, a turn that must not block need not ask the
    /// kernel for events.
    waiting: usize,
    /// Wakers to run once the driver's borrow ends.
    pub(crate) woken: Vec<Waker>,
    /// io_uring: polls of replaced or forgotten registrations to cancel,
    /// as (fd, generation).
    pub(crate) to_cancel: Vec<(RawFd, u32)>,
}

impl Registry {
    /// An empty registry; `holds_file` for io_uring's polls, not for epoll.
    pub(crate) fn new(holds_file: bool) -> Self {
        Registry {
            fds: Vec::new(),
            next_gen: 0,
            holds_file,
            waiting: 0,
            woken: Vec::new(),
            to_cancel: Vec::new(),
        }
    }

    /// Whether any op may be waiting for an event.
    pub(crate) fn waiting(&self) -> bool {
        self.waiting > 0
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
                self.retire(fd, old);
            }
            self.next_gen = (self.next_gen + 1) & GEN_MASK;
            self.fds[idx] = Some(FdState {
                id,
                gen: self.next_gen,
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
        if matches!(wakers, Waiters::None) {
            self.waiting += 1;
        }
        wakers.add(waker);
        st.fresh[dir(interest)] = false;
        if st.armed {
            return Ok(Arm::Nothing);
        }
        st.armed = true;
        Ok(Arm::Start(st.gen))
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

    /// An event for `fd` (epoll: its registration; io_uring: the poll of
    /// generation `gen`, `more` while it stays armed) with the kernel's
    /// `EPOLL*`/`POLL*` bits (the same values), or an error.
    pub(crate) fn event(&mut self, fd: RawFd, poll: Option<(u32, bool)>, bits: io::Result<u32>) {
        let Some(Some(st)) = usize::try_from(fd).ok().and_then(|i| self.fds.get_mut(i)) else {
            return;
        };
        let bits = match bits {
            Ok(bits) => bits as i32,
            // The kernel cancelled the poll itself: nothing became ready.
            Err(e) if e.raw_os_error() == Some(libc::ECANCELED) => 0,
            // Any other failure: let the next attempt report it.
            Err(_) => libc::EPOLLERR,
        };
        if let Some((gen, more)) = poll {
            if st.gen != gen {
                return; // a poll of an earlier registration of this number
            }
            if !more {
                return self.poll_ended(fd, bits);
            }
        }
        self.waiting -= apply(st, bits, &mut self.woken);
    }

    /// `fd`'s poll ended (io_uring, no `IORING_CQE_F_MORE`) with `bits`:
    /// every waiter is woken, ready or not, so each tries again or waits
    /// again, which arms a new poll; none is left waiting for an event that
    /// would never come.
    #[cold]
    fn poll_ended(&mut self, fd: RawFd, bits: i32) {
        let Some(Some(st)) = usize::try_from(fd).ok().and_then(|i| self.fds.get_mut(i)) else {
            return;
        };
        st.armed = false;
        self.waiting -= apply(st, bits, &mut self.woken);
        self.waiting -= st.readers.drain_into(&mut self.woken);
        self.waiting -= st.writers.drain_into(&mut self.woken);
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
        self.retire(fd, st);
        true
    }

    /// A registration ends: its waiters re-poll, its armed poll is cancelled.
    fn retire(&mut self, fd: RawFd, mut st: FdState) {
        self.waiting -= st.readers.drain_into(&mut self.woken);
        self.waiting -= st.writers.drain_into(&mut self.woken);
        if st.armed && self.holds_file {
            self.to_cancel.push((fd, st.gen));
        }
    }
}

/// Records the kernel's `bits` for `st` and moves the wakers of the
/// directions they make ready into `woken`; returns how many directions had
/// waiters (for `Registry::waiting`).
// Inlined: it is most of `event`, the hottest call of a readiness driver.
#[inline(always)]
fn apply(st: &mut FdState, bits: i32, woken: &mut Vec<Waker>) -> usize {
    let errs = libc::EPOLLERR | libc::EPOLLHUP;
    if bits & (libc::EPOLLRDHUP | errs) != 0 {
        st.read_closed = true;
    }
    if bits & errs != 0 {
        st.write_closed = true;
    }
    let mut n = 0;
    if bits & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLPRI | errs) != 0 {
        st.readable = true;
        st.fresh[0] = true;
        n += st.readers.drain_into(woken);
    }
    if bits & (libc::EPOLLOUT | errs) != 0 {
        st.writable = true;
        st.fresh[1] = true;
        n += st.writers.drain_into(woken);
    }
    n
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
    /// Asks the kernel for events of `fd`, both directions (registration
    /// `gen` of the `SharedFd` with id `fd_id`).
    fn arm(&mut self, fd: RawFd, fd_id: u64, gen: u32) -> io::Result<()>;
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
        if let Arm::Start(gen) = self.registry().wait(fd, fd_id, interest, cx.waker())? {
            if let Err(e) = self.arm(fd, fd_id, gen) {
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
