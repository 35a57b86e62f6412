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

use super::buf_pool::{LendPool, PoolMemory};
use super::deferred::Deferred;
use super::descriptor::{Descriptor, Received, RecvConfig};
use super::id::DriverId;
use super::lifecycle::{Ops, Orphaned, Reaped};
use super::operation::{cvt, Erased, Interest, Operation};
use super::protocol::{OpState, Protocol, Readiness};
use super::registry::Registry;
use super::releases::Release;
use super::source::{stuck, Busy, Take, Taker};
use super::unpark::Unpark;
use crate::blocking::BlockingPool;
use crate::metrics::{bump, Counters};

/// Event data of the wake-up eventfd; fds use their own number.
const WAKE_TOKEN: u64 = u64::MAX;
/// How many events one `epoll_wait` returns at most.
const EVENTS_PER_WAIT: usize = 1024;
/// How long shutdown waits for blocking-pool ops before leaking them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// A worker's epoll instance, its fd registry and its blocking-pool ops.
pub(crate) struct EpollDriver {
    /// The epoll instance.
    epfd: OwnedFd,
    /// Buffer for `epoll_wait`.
    events: Vec<libc::epoll_event>,
    /// Readiness of registered fds.
    registry: Registry,
    /// Ops running on the blocking pool, keyed like io_uring ops.
    ops: Ops,
    /// This driver's identity, which its ops carry.
    id: DriverId,
    /// Wakers and finished orphans collected while the driver is borrowed.
    deferred: Deferred,
    /// The worker's wake-up eventfd.
    wake_fd: RawFd,
    /// Owns `wake_fd` and receives blocking-pool completions.
    pub(super) unpark: Arc<Unpark>,
    /// Completions taken from `unpark`, kept for their capacity.
    posted: Vec<(usize, io::Result<u32>)>,
    /// Runs regular-file syscalls.
    pool: Arc<BlockingPool>,
    /// The worker's counters.
    counters: Arc<Counters>,
    /// Buffers lent to zero-copy reads (`recv_buf`); `None` when there are
    /// none (`recv_buffers(0, _)`, or no memory).
    lend: Option<LendPool>,
}

impl Drop for EpollDriver {
    /// Later releases find the driver gone (`releases.rs`).
    fn drop(&mut self) {
        self.unpark.releases.close(Ok(()));
    }
}

impl std::fmt::Debug for EpollDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpollDriver")
            .field("epfd", &self.epfd.as_raw_fd())
            .field("blocking_in_flight", &self.ops.len())
            .finish()
    }
}

/// A pointer to an op that a blocking-pool thread runs.
struct OpPtr(*mut dyn Erased);

// SAFETY: the op behind the pointer is only touched by the pool thread until it
// posts the completion; `Operation`'s contract limits `run_blocking` to plain
// data the worker prepared (no `IoBuf` calls, thread-local or shared state).
unsafe impl Send for OpPtr {}

impl EpollDriver {
    /// Creates the epoll instance and registers the wake-up eventfd.
    pub(crate) fn new(
        unpark: Arc<Unpark>,
        pool: Arc<BlockingPool>,
        counters: Arc<Counters>,
        recv: RecvConfig,
    ) -> io::Result<Self> {
        let id = DriverId::next();
        let lend = match recv.buffers {
            0 => None,
            count => LendPool::new(count, recv.buffer_size, id).ok(),
        };
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
            registry: Registry::new(),
            ops: Ops::default(),
            id,
            deferred: Deferred::default(),
            wake_fd: unpark.raw_fd(),
            unpark,
            posted: Vec::new(),
            pool,
            counters,
            lend,
        })
    }

    /// A buffer for a zero-copy read, if one is free.
    pub(crate) fn lend(&mut self) -> Option<(Arc<PoolMemory>, u16)> {
        self.lend.as_mut()?.lend()
    }

    /// One poll of a receive on `fd` (see `Driver::poll_receive`): the
    /// queue first (an io_uring worker may have filled it before the socket
    /// came here), then the caller's own op, by readiness.
    pub(crate) fn poll_receive<D: Descriptor, T>(
        &mut self,
        fd: &D,
        cx: &mut Context<'_>,
        take: impl Taker<T>,
    ) -> Received<T> {
        // A socket only ever read here has no side: nothing is queued.
        let Some(mut side) = fd.source().existing() else {
            return Received::Start;
        };
        if let Take::Got(out) = take(&mut side, &mut |memory, bid| memory.give_back_remote(bid)) {
            return Received::Took(out);
        }
        match side.busy(&self.unpark, fd.id(), fd.source().side_addr()) {
            Busy::No => Received::Start,
            Busy::Yes => {
                side.wait(cx.waker());
                Received::Wait
            }
            Busy::Stuck => Received::Fail(stuck()),
        }
    }

    /// `readable()` on epoll: the queue first, then readiness (`probe`
    /// decides for an fd the registry does not know yet).
    pub(crate) fn poll_readable<D: Descriptor>(
        &mut self,
        fd: &D,
        cx: &mut Context<'_>,
        probe: impl FnOnce() -> io::Result<()>,
    ) -> Poll<io::Result<()>> {
        if let Some(mut side) = fd.source().existing() {
            if side.ready() {
                return Poll::Ready(Ok(()));
            }
            match side.busy(&self.unpark, fd.id(), fd.source().side_addr()) {
                Busy::No => {}
                Busy::Yes => {
                    side.wait(cx.waker());
                    return Poll::Pending;
                }
                Busy::Stuck => return Poll::Ready(Err(stuck())),
            }
        }
        self.poll_ready(fd.raw(), fd.id(), Interest::Readable, cx, probe)
    }

    /// Sends a regular-file op to the blocking pool; returns its slot key.
    fn submit_blocking<T: Operation>(&mut self, op: T, waker: Waker) -> usize {
        let op = self.ops.boxed(op);
        let key = self.ops.insert(op, waker);
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
        let mut posted = std::mem::take(&mut self.posted);
        for (key, res) in posted.drain(..) {
            bump(&self.counters.ops_completed);
            match self.ops.complete(key, res) {
                Reaped::Stored => {}
                Reaped::Wake(w) => self.deferred.wakers.push(w),
                Reaped::Free(done) => self.deferred.frees.push(done),
            }
        }
        self.posted = posted;
    }

    /// Number of blocking-pool ops holding a slot.
    pub(crate) fn in_flight(&self) -> usize {
        self.ops.len()
    }

    /// The collected work and the readiness wakers, for `Driver::next_deferred`.
    #[inline]
    pub(crate) fn deferred_mut(&mut self) -> (&mut Deferred, &mut Vec<Waker>) {
        (&mut self.deferred, &mut self.registry.woken)
    }

    /// Waits up to `timeout` (None: forever) for readiness or a wake-up.
    ///
    /// # Panics
    ///
    /// If `epoll_wait` fails for a reason other than a signal (a seccomp
    /// filter, say): retrying could only spin. The panic ends the worker,
    /// and the runtime reports it as for a failing `io_uring_enter`.
    pub(crate) fn park(&mut self, timeout: Option<Duration>) {
        if let Err(e) = self.wait(timeout) {
            wait_failed(&e);
        }
    }

    /// [`park`](Self::park), returning `epoll_wait`'s error; a signal
    /// (`EINTR`) is a wait that saw nothing.
    fn wait(&mut self, timeout: Option<Duration>) -> io::Result<()> {
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
        let n = match usize::try_from(n) {
            Ok(n) => n,
            Err(_) => match io::Error::last_os_error() {
                e if e.raw_os_error() == Some(libc::EINTR) => 0,
                e => return Err(e),
            },
        };
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
            self.registry.event(token as RawFd, ev.events);
        }
        self.reap_posted();
        Ok(())
    }

    /// Waits (bounded) for blocking-pool ops to finish; leaks what does not.
    pub(crate) fn shutdown(&mut self) {
        let finished = self.ops.orphan_all();
        self.deferred.frees.extend(finished);
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while self.ops.len() > 0 && Instant::now() < deadline {
            // A failing wait cannot be waited out: leak below rather than spin.
            if self.wait(Some(Duration::from_millis(20))).is_err() {
                break;
            }
            for done in std::mem::take(&mut self.deferred.frees) {
                let _ = done.discard();
            }
            self.deferred.wakers.clear();
        }
        if self.ops.len() > 0 {
            self.ops.leak_all();
        }
    }
}

/// `epoll_wait` failed for good: the worker cannot make progress.
#[cold]
fn wait_failed(e: &io::Error) -> ! {
    panic!("runtime: epoll_wait failed ({e}); the epoll driver cannot continue")
}

impl Protocol for EpollDriver {
    /// This driver's identity.
    fn id(&self) -> DriverId {
        self.id
    }

    /// The slots of blocking-pool ops.
    fn ops_mut(&mut self) -> &mut Ops {
        &mut self.ops
    }

    fn unpark(&self) -> &Arc<Unpark> {
        &self.unpark
    }

    /// Only hand-backs reach epoll: it registers no file or buffer and has
    /// no receive in a kernel to cancel.
    fn released(&mut self, item: Release) {
        match item {
            Release::HandBack(item) => self.take_back(item),
            other => other.refuse(&Ok(())),
        }
    }

    /// A blocking-pool op's future was dropped: the slot lives on until the pool is done.
    fn drop_slot(&mut self, key: usize, _cancel: bool) {
        match self.ops.orphan(key) {
            Orphaned::Gone => {}
            Orphaned::Cancel => bump(&self.counters.ops_cancelled),
            Orphaned::Free(done) => self.deferred.frees.push(done),
        }
    }

    /// Attempts the op by the readiness protocol; files go to the pool.
    #[inline]
    fn start<T: Operation>(
        &mut self,
        st: &mut OpState<T>,
        _deadline: Option<Duration>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<u32>> {
        self.poll_unheld(st, cx)
    }

    /// Only io_uring runs ops in place, so this is never asked; leaking is
    /// the safe answer all the same.
    fn drop_in_place(&mut self, _key: usize, op: Box<dyn Erased>, _cancel: bool) {
        std::mem::forget(op);
    }

    /// An op waiting for readiness was dropped: it ends without a result.
    fn abandoned(&mut self) {
        bump(&self.counters.ops_cancelled);
        bump(&self.counters.ops_completed);
    }
}

impl Readiness for EpollDriver {
    fn registry(&mut self) -> &mut Registry {
        &mut self.registry
    }

    fn hold<T: Operation>(&mut self, op: T, waker: Waker) -> usize {
        self.submit_blocking(op, waker)
    }

    fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Adds `fd` to the epoll set, edge-triggered for both directions (or
    /// refreshes it if the kernel still has it from an earlier owner).
    fn arm(&mut self, fd: RawFd) -> io::Result<()> {
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
}
