//! The epoll driver's readiness registry: per fd, which directions may be
//! ready and who waits for which, as the kernel's edges report them. A pure
//! structure (no syscalls), unit-tested in `registry_tests.rs`; the protocol
//! that drives ops by it lives in `protocol.rs`.
//!
//! # Rules
//!
//! An fd the registry does not know counts as ready: its first op tries.
//! [`Registry::wait`] (after `EAGAIN`) registers it, clears that direction's
//! ready bit and parks the waker; it says [`Arm::Start`] the first time, so
//! the driver asks the kernel for events, once, edge-triggered, for both
//! directions. An event sets the bits it reports and moves the parked
//! wakers of those directions to `woken`. A short transfer clears the bit
//! ([`Registry::clear_ready`]) unless that side is closed (no edge would
//! follow). A registration ends when its number is reused by a new
//! descriptor, which has a new id, or when the kernel refuses to arm it
//! ([`Registry::arm_failed`]): its waiters wake. A closed fd needs no word:
//! the kernel drops a closed file from the epoll set by itself.

use std::io;
use std::os::fd::RawFd;
use std::task::Waker;

use super::operation::Interest;
use super::waiters::Waiters;

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
