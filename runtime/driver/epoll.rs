//! The epoll driver: a readiness registry, the retry protocol, and
//! regular-file operations on the blocking pool with their own completion
//! queue.
//!
//! Each fd is registered once, edge-triggered, for both directions. An op tries
//! its syscall; on `EAGAIN` it clears that direction's ready bit and parks its
//! waker. Only this worker's thread calls `epoll_wait`, so readiness cannot
//! change between the failed syscall and the clearing of the bit. The op stays
//! in its future meanwhile (the kernel holds nothing of it), so a dropped read
//! loses nothing: bytes are only ever taken by a poll that returns them.
//!
//! Blocking-pool ops live in a slot, like io_uring's; the pool thread posts
//! the result to the worker's [`Unpark`] queue, which `park` drains.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::lifecycle::{Ops, Orphaned, Reaped};
use super::op_state::{DriverId, OpState, ShotState, Wait};
use super::operation::{cvt, Attempt, Erased, Interest, Multishot, Operation};
use super::unpark::Unpark;
use super::Deferred;
use crate::blocking::BlockingPool;
use crate::metrics::{bump, Counters};

/// Event data of the wake-up eventfd; fds use their own number.
const WAKE_TOKEN: u64 = u64::MAX;
/// How many events one `epoll_wait` returns at most.
const EVENTS_PER_WAIT: usize = 1024;
/// How long shutdown waits for blocking-pool ops before leaking them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Readiness of one registered fd.
#[derive(Debug)]
struct FdState {
    /// Which `SharedFd` registered it; a different id means the number was reused.
    id: u64,
    /// Set by an event, cleared by an `EAGAIN`.
    readable: bool,
    /// Set by an event, cleared by an `EAGAIN`.
    writable: bool,
    /// The peer shut down its side, or the fd failed: reads return at once
    /// from now on, and no edge will follow, so a short read must not clear
    /// `readable`.
    read_closed: bool,
    /// The fd failed or hung up: writes return at once from now on.
    write_closed: bool,
    /// Ops waiting to read.
    readers: Vec<Waker>,
    /// Ops waiting to write.
    writers: Vec<Waker>,
}

/// A worker's epoll instance, its fd registry and its blocking-pool ops.
pub(crate) struct EpollDriver {
    /// The epoll instance.
    epfd: OwnedFd,
    /// Buffer for `epoll_wait`.
    events: Vec<libc::epoll_event>,
    /// Registered fds, indexed by fd number (fds are small and dense).
    registry: Vec<Option<FdState>>,
    /// Ops running on the blocking pool, keyed like io_uring ops.
    ops: Ops,
    /// This driver's identity, which its ops carry.
    id: DriverId,
    /// Wakers and finished orphans collected while the driver is borrowed.
    deferred: Deferred,
    /// The worker's wake-up eventfd.
    wake_fd: RawFd,
    /// Owns `wake_fd` and receives blocking-pool completions.
    unpark: Arc<Unpark>,
    /// Completions taken from `unpark`, kept for their capacity.
    posted: Vec<(usize, io::Result<u32>)>,
    /// Runs regular-file syscalls.
    pool: Arc<BlockingPool>,
    /// The worker's counters.
    counters: Arc<Counters>,
}

impl std::fmt::Debug for EpollDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpollDriver")
            .field("epfd", &self.epfd.as_raw_fd())
            .field("blocking_in_flight", &self.ops.len())
            .finish()
    }
}

/// One step of the readiness protocol.
enum Step {
    /// The syscall finished.
    Done(io::Result<u32>),
    /// The op waits for this edge.
    Wait(Wait),
    /// The op must run on the blocking pool.
    Blocking,
}

/// A pointer to an op that a blocking-pool thread runs.
struct OpPtr(*mut dyn Erased);

// SAFETY: the op behind the pointer is only touched by the pool thread until it
// posts the completion; `Operation`'s contract limits `run_blocking` to memory
// the op owns (no thread-local or reference-counted state).
unsafe impl Send for OpPtr {}

impl EpollDriver {
    /// Creates the epoll instance and registers the wake-up eventfd.
    pub(crate) fn new(
        unpark: Arc<Unpark>,
        pool: Arc<BlockingPool>,
        counters: Arc<Counters>,
    ) -> io::Result<Self> {
        // SAFETY: epoll_create1 takes no pointers.
        let fd = cvt(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) } as isize)?;
        // SAFETY: epoll_create1(2) ensures the fd is valid and ours alone.
        let epfd = unsafe { OwnedFd::from_raw_fd(fd as RawFd) };
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLET) as u32,
            u64: WAKE_TOKEN,
        };
        // SAFETY: both fds are open and `ev` is a valid event for the call.
        cvt(unsafe {
            libc::epoll_ctl(
                epfd.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                unpark.raw_fd(),
                &mut ev,
            )
        } as isize)?;
        Ok(EpollDriver {
            epfd,
            events: Vec::with_capacity(EVENTS_PER_WAIT),
            registry: Vec::new(),
            ops: Ops::default(),
            id: DriverId::next(),
            deferred: Deferred::default(),
            wake_fd: unpark.raw_fd(),
            unpark,
            posted: Vec::new(),
            pool,
            counters,
        })
    }

    /// This driver's identity.
    pub(crate) fn id(&self) -> DriverId {
        self.id
    }

    /// One step of the readiness protocol for `op`: wait for an edge, attempt
    /// the syscall, or report that it must go to the blocking pool.
    fn step<T: Operation>(&mut self, op: &mut T, wait: Option<Wait>, cx: &mut Context<'_>) -> Step {
        let target = wait
            .filter(|w| w.driver == self.id)
            .map(|w| (w.fd, w.fd_id, w.interest))
            .or_else(|| op.epoll_target());
        // An fd known not to be ready waits for its next edge rather than try
        // a syscall bound to return EAGAIN. A registration error falls
        // through: the attempt reports it.
        if let Some((fd, fd_id, interest)) = target {
            if !self.is_ready(fd, fd_id, interest)
                && self.wait_ready(fd, fd_id, interest, cx).is_ok()
            {
                return Step::Wait(self.wait(fd, fd_id, interest));
            }
        }
        match op.epoll_attempt() {
            Attempt::Done(res) => Step::Done(res),
            Attempt::Drained {
                res,
                fd,
                fd_id,
                interest,
            } => {
                self.clear_ready(fd, fd_id, interest);
                Step::Done(res)
            }
            Attempt::WouldBlock {
                fd,
                fd_id,
                interest,
            } => match self.wait_ready(fd, fd_id, interest, cx) {
                Ok(()) => Step::Wait(self.wait(fd, fd_id, interest)),
                Err(e) => Step::Done(Err(e)),
            },
            Attempt::Blocking => Step::Blocking,
        }
    }

    fn wait(&self, fd: RawFd, fd_id: u64, interest: Interest) -> Wait {
        Wait {
            fd,
            fd_id,
            interest,
            driver: self.id,
        }
    }

    /// Drives a single-shot op that is not in a slot (`Idle` or `Armed`).
    pub(crate) fn poll_attempt<T: Operation>(
        &mut self,
        st: &mut OpState<T>,
        cx: &mut Context<'_>,
    ) -> Poll<(T, io::Result<u32>)> {
        let (mut op, wait) = match std::mem::replace(st, OpState::Finished) {
            OpState::Idle(op) => {
                bump(&self.counters.ops_submitted);
                (op, None)
            }
            OpState::Armed(op, wait) => (op, Some(wait)),
            _ => unreachable!("poll_attempt on an op in a slot"),
        };
        match self.step(&mut op, wait, cx) {
            Step::Done(res) => {
                bump(&self.counters.ops_completed);
                Poll::Ready((op, res))
            }
            Step::Wait(wait) => {
                *st = OpState::Armed(op, wait);
                Poll::Pending
            }
            Step::Blocking => {
                let key = self.submit_blocking(op, cx.waker().clone());
                *st = OpState::Held {
                    driver: self.id,
                    key,
                    timed: false,
                };
                Poll::Pending
            }
        }
    }

    /// Drives a multishot op: one attempt per item, the op kept in `st`.
    pub(crate) fn poll_attempt_shot<T: Multishot>(
        &mut self,
        mut op: T,
        wait: Option<Wait>,
        st: &mut ShotState<T>,
        cx: &mut Context<'_>,
    ) -> Poll<T::Item> {
        // `st` is `Moving`: the caller took `op` (and `wait`) out of it.
        match self.step(&mut op, wait, cx) {
            Step::Done(res) => {
                let item = op.next(res, 0);
                *st = ShotState::Idle(op);
                Poll::Ready(item)
            }
            Step::Wait(wait) => {
                *st = ShotState::Armed(op, wait);
                Poll::Pending
            }
            Step::Blocking => {
                let err =
                    io::Error::new(io::ErrorKind::Unsupported, "multishot op on a blocking fd");
                let item = op.next(Err(err), 0);
                *st = ShotState::Idle(op);
                Poll::Ready(item)
            }
        }
    }

    /// An op waiting for readiness was dropped: it ends without a result.
    pub(crate) fn abandoned(&mut self) {
        bump(&self.counters.ops_cancelled);
        bump(&self.counters.ops_completed);
    }

    /// Whether `fd` may be ready for `interest` (unknown fds count as ready).
    pub(crate) fn is_ready(&self, fd: RawFd, id: u64, interest: Interest) -> bool {
        match self.registry.get(fd as usize) {
            Some(Some(st)) if st.id == id => match interest {
                Interest::Readable => st.readable,
                Interest::Writable => st.writable,
            },
            _ => true,
        }
    }

    /// After a short read or write (`Attempt::Drained`): clears the ready bit
    /// of a registered fd, so the next op waits for an edge. An fd not yet
    /// registered stays unknown (its next op tries, and registers on `EAGAIN`).
    pub(crate) fn clear_ready(&mut self, fd: RawFd, id: u64, interest: Interest) {
        if let Some(Some(st)) = self.registry.get_mut(fd as usize) {
            if st.id == id {
                match interest {
                    Interest::Readable => st.readable = st.read_closed,
                    Interest::Writable => st.writable = st.write_closed,
                }
            }
        }
    }

    /// After `EAGAIN`: clears the ready bit and parks the waker until the next edge.
    pub(crate) fn wait_ready(
        &mut self,
        fd: RawFd,
        id: u64,
        interest: Interest,
        cx: &mut Context<'_>,
    ) -> io::Result<()> {
        let idx = usize::try_from(fd).map_err(|_| io::Error::from_raw_os_error(libc::EBADF))?;
        if self.registry.len() <= idx {
            self.registry.resize_with(idx + 1, || None);
        }
        let fresh = !matches!(&self.registry[idx], Some(st) if st.id == id);
        if fresh {
            self.register(fd)?;
            if let Some(old) = self.registry[idx].take() {
                self.deferred
                    .wakers
                    .extend(old.readers.into_iter().chain(old.writers));
            }
            self.registry[idx] = Some(FdState {
                id,
                readable: true,
                writable: true,
                read_closed: false,
                write_closed: false,
                readers: Vec::new(),
                writers: Vec::new(),
            });
        }
        let st = self.registry[idx].as_mut().expect("registered above");
        let (ready, wakers) = match interest {
            Interest::Readable => (&mut st.readable, &mut st.readers),
            Interest::Writable => (&mut st.writable, &mut st.writers),
        };
        *ready = false;
        if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
        Ok(())
    }

    /// Adds `fd` to the epoll set (or refreshes it if the kernel still has it).
    fn register(&mut self, fd: RawFd) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: fd as u64,
        };
        for op in [libc::EPOLL_CTL_ADD, libc::EPOLL_CTL_MOD] {
            // SAFETY: `epfd` is open and `ev` is a valid event; a bad `fd` is reported as EBADF.
            let res =
                cvt(unsafe { libc::epoll_ctl(self.epfd.as_raw_fd(), op, fd, &mut ev) } as isize);
            match res {
                Err(e) if op == libc::EPOLL_CTL_ADD && e.raw_os_error() == Some(libc::EEXIST) => {}
                res => return res.map(drop),
            }
        }
        Ok(())
    }

    /// Forgets `fd` before it is closed, so a reused number starts afresh.
    pub(crate) fn deregister(&mut self, fd: RawFd, id: u64) {
        let Some(slot) = self.registry.get_mut(fd as usize) else {
            return;
        };
        if matches!(slot, Some(st) if st.id == id) {
            let st = slot.take().expect("matched above");
            self.deferred
                .wakers
                .extend(st.readers.into_iter().chain(st.writers));
            // SAFETY: `epfd` is open; the event argument may be null for DEL.
            unsafe {
                libc::epoll_ctl(
                    self.epfd.as_raw_fd(),
                    libc::EPOLL_CTL_DEL,
                    fd,
                    std::ptr::null_mut(),
                )
            };
        }
    }

    /// Sends a regular-file op to the blocking pool; returns its slot key.
    fn submit_blocking<T: Operation>(&mut self, op: T, waker: Waker) -> usize {
        let op = self.ops.boxed(op);
        let key = self.ops.insert(op, waker, false);
        let slot = self.ops.get_mut(key).expect("just inserted");
        let ptr = OpPtr(slot.op_mut() as *mut dyn Erased);
        let unpark = self.unpark.clone();
        bump(&self.counters.ops_offloaded);
        self.pool.execute(Box::new(move || {
            let ptr = ptr;
            // SAFETY: the slot keeps the op alive and untouched until the
            // completion below is processed on the worker (see `OpPtr`).
            let res = unsafe { (*ptr.0).run_blocking() };
            unpark.post(key, res);
        }));
        key
    }

    /// Records the blocking-pool completions posted since the last look.
    fn reap_posted(&mut self) {
        self.unpark.take_posted(&mut self.posted);
        for (key, res) in std::mem::take(&mut self.posted) {
            bump(&self.counters.ops_completed);
            match self.ops.complete(key, res, 0) {
                Reaped::Stored => {}
                Reaped::Wake(w) => self.deferred.wakers.push(w),
                Reaped::Free(done) => self.deferred.frees.push(done),
            }
        }
    }

    /// The slots of blocking-pool ops.
    pub(crate) fn ops_mut(&mut self) -> &mut Ops {
        &mut self.ops
    }

    /// A blocking-pool op's future was dropped: the slot lives on until the pool is done.
    pub(crate) fn drop_slot(&mut self, key: usize) {
        match self.ops.orphan(key) {
            Orphaned::Gone => {}
            Orphaned::Cancel => bump(&self.counters.ops_cancelled),
            Orphaned::Free(done) => self.deferred.frees.push(done),
        }
    }

    /// Number of blocking-pool ops holding a slot.
    pub(crate) fn in_flight(&self) -> usize {
        self.ops.len()
    }

    /// Hands the collected wakers and orphans to the worker in exchange for
    /// its empty spare.
    pub(crate) fn swap_deferred(&mut self, spare: &mut Deferred) {
        std::mem::swap(&mut self.deferred, spare);
    }

    /// Waits up to `timeout` (None: forever) for readiness or a wake-up.
    pub(crate) fn park(&mut self, timeout: Option<Duration>) {
        let ms = match timeout {
            None => -1,
            // Round up: waking early would just spin through another wait.
            Some(t) => t.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32,
        };
        self.events.clear();
        // SAFETY: `events` has capacity for EVENTS_PER_WAIT entries, which the
        // kernel fills; `set_len` below covers exactly the number it reported.
        let n = unsafe {
            libc::epoll_wait(
                self.epfd.as_raw_fd(),
                self.events.as_mut_ptr(),
                EVENTS_PER_WAIT as i32,
                ms,
            )
        };
        let n = usize::try_from(n).unwrap_or(0);
        // SAFETY: the kernel initialised the first `n` events.
        unsafe { self.events.set_len(n) };
        for i in 0..n {
            let ev = self.events[i];
            let token = ev.u64;
            if token == WAKE_TOKEN {
                let mut buf = 0u64;
                // SAFETY: reads 8 bytes into a local u64 from the open eventfd.
                unsafe { libc::read(self.wake_fd, (&mut buf as *mut u64).cast(), 8) };
                continue;
            }
            let Some(Some(st)) = self.registry.get_mut(token as usize) else {
                continue;
            };
            let bits = ev.events as i32;
            let errs = libc::EPOLLERR | libc::EPOLLHUP;
            if bits & (libc::EPOLLRDHUP | errs) != 0 {
                st.read_closed = true;
            }
            if bits & errs != 0 {
                st.write_closed = true;
            }
            if bits & (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLPRI | errs) != 0 {
                st.readable = true;
                self.deferred.wakers.append(&mut st.readers);
            }
            if bits & (libc::EPOLLOUT | errs) != 0 {
                st.writable = true;
                self.deferred.wakers.append(&mut st.writers);
            }
        }
        self.reap_posted();
    }

    /// Waits (bounded) for blocking-pool ops to finish; leaks what does not.
    pub(crate) fn shutdown(&mut self) {
        let finished = self.ops.orphan_all();
        self.deferred.frees.extend(finished);
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while self.ops.len() > 0 && Instant::now() < deadline {
            self.park(Some(Duration::from_millis(20)));
            for done in std::mem::take(&mut self.deferred.frees) {
                done.discard();
            }
            self.deferred.wakers.clear();
        }
        if self.ops.len() > 0 {
            self.ops.leak_all();
        }
    }
}
