//! The io_uring driver: submission, completion reaping, cancellation and wake-up.
//!
//! One ring per worker thread. Ops are pushed to the submission queue as they
//! are first polled and reach the kernel in one `io_uring_enter` per loop turn,
//! which also waits for completions up to the next timer deadline.
//!
//! The kernel performs socket receives and accepts too: multishot receives
//! into the worker's provided-buffer pool and multishot accepts feed each
//! socket's receive queue (`uring_recv.rs`, the protocol in `source.rs`),
//! and one-shot receives into a caller's buffer are ordinary ops whose
//! results, if their future is gone, the socket adopts.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use io_uring::{opcode, squeue, types, IoUring};

use super::buf_pool::BufPool;
use super::deferred::Deferred;
use super::descriptor::RecvConfig;
use super::hand_off::{self, Arrival, Arrivals};
use super::id::DriverId;
use super::lifecycle::{Ops, Orphaned, Reaped};
use super::operation::{cqe_result, Erased, Operation};
use super::protocol::{OpState, Protocol};
use super::releases::Release;
use super::ring_enter::RingEnter;
use super::unpark::Unpark;
use super::uring_zc::{self, ZeroCopy};
use crate::metrics::{bump, Counters};

#[path = "registered.rs"]
pub(crate) mod registered;

/// `user_data` of `AsyncCancel` entries; their completions carry nothing we need.
const CANCEL_USERDATA: u64 = u64::MAX;
/// `user_data` of linked timeouts; the op they guard reports the outcome.
const LINK_TIMEOUT_USERDATA: u64 = u64::MAX - 2;
/// `user_data` of the read on the worker's wake-up eventfd.
const WAKE_USERDATA: u64 = u64::MAX - 1;

/// Tag bit of a multishot receive's or accept's `user_data` (tag | address
/// of its socket's receive side); none reaches the reserved values above.
pub(super) use super::source::MULTISHOT_TAG as SOURCE_TAG;
use super::source::SEND_TAG;

/// How long shutdown waits for the kernel to give back cancelled ops before leaking them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A worker's io_uring instance and the ops it has in flight.
pub(crate) struct UringDriver {
    /// How `io_uring_enter` reaches the ring (declared first: it unregisters
    /// through the ring's descriptor, so it goes before the ring).
    enter: RingEnter,
    /// The ring (dropped before the memory it may point into).
    ring: IoUring,
    /// Ops in flight, keyed by `user_data`.
    pub(super) ops: Ops,
    /// This driver's identity, which its ops carry.
    pub(super) id: DriverId,
    /// Multishot receives, accepts and polls armed (each named by its
    /// socket's side, which keeps itself alive meanwhile).
    pub(super) armed: usize,
    /// Queued sends in the kernel (likewise named by their sides).
    pub(super) sending: usize,
    /// The provided buffers multishot receives fill; `None` where the
    /// kernel has no provided-buffer rings or memory was short (receives
    /// are then one-shot, into the caller's buffer).
    pub(super) pool: Option<BufPool>,
    /// Why there is no pool, for `driver_info()`.
    pub(super) pool_note: Option<String>,
    /// Receive queue limits.
    pub(super) limits: RecvConfig,
    /// Readers woken by receive completions, run after the borrow ends.
    pub(super) woken: Vec<Waker>,
    /// Multishot completions of one reaped batch, handled once the
    /// completion queue is released (side address, result, flags); kept
    /// for its capacity.
    source_cqes: Vec<(u64, i32, u32)>,
    /// Wakers and finished orphans collected while the driver is borrowed.
    pub(super) deferred: Deferred,
    /// The worker's wake-up eventfd; other threads write to it to end a wait.
    wake_fd: RawFd,
    /// Owns `wake_fd` (so the eventfd outlives the read in the ring); other
    /// threads hand it the fds they close that this ring polls.
    pub(super) unpark: Arc<Unpark>,
    /// Where the kernel writes the eventfd counter; boxed so it never moves.
    wake_buf: Box<u64>,
    /// Whether a read on `wake_fd` is in flight.
    wake_armed: bool,
    /// The worker's counters.
    pub(super) counters: Arc<Counters>,
    /// Registered buffer and file tables (`registered.rs`).
    registered: registered::Registered,
    /// Descriptors other rings passed to this one (`hand_off.rs`).
    arrivals: Arrivals,
    /// Whether and from what size sends go zero-copy (`uring_zc.rs`).
    pub(super) zerocopy: ZeroCopy,
}

impl std::fmt::Debug for UringDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringDriver")
            .field("ring_fd", &self.ring.as_raw_fd())
            .field("registered_ring", &self.enter.is_registered())
            .field("in_flight", &self.ops.len())
            .finish()
    }
}

impl UringDriver {
    /// Wraps a ring that `detect` built and probed.
    pub(crate) fn new(
        ring: IoUring,
        unpark: Arc<Unpark>,
        counters: Arc<Counters>,
        limits: RecvConfig,
    ) -> Self {
        let id = DriverId::next();
        let (pool, pool_note) = match limits.buffers {
            0 => (
                None,
                Some("no provided buffers (recv_buffers(0, _)): each read receives into its own buffer".to_string()),
            ),
            count => match BufPool::new(&ring, count, limits.buffer_size, id) {
                Ok(pool) => (Some(pool), None),
                Err(e) => (
                    None,
                    Some(format!(
                        "no provided-buffer ring ({e}): each read receives into its own buffer"
                    )),
                ),
            },
        };
        if super::detect::msg_ring_supported(&ring) {
            unpark.set_ring_fd(ring.as_raw_fd());
        }
        UringDriver {
            zerocopy: ZeroCopy::probe(&ring),
            enter: RingEnter::new(&ring),
            ring,
            ops: Ops::default(),
            id,
            armed: 0,
            sending: 0,
            pool,
            pool_note,
            limits,
            woken: Vec::new(),
            source_cqes: Vec::new(),
            deferred: Deferred::default(),
            wake_fd: unpark.raw_fd(),
            registered: registered::Registered::new(),
            unpark,
            wake_buf: Box::new(0),
            wake_armed: false,
            counters,
            arrivals: Arrivals::default(),
        }
    }

    /// Passes `fd` (given up by the caller) to the ring `target` for the
    /// receiver `key`, counted on worker `worker`, with `IORING_OP_MSG_RING`;
    /// sent with this ring's next submission.
    pub(crate) fn send_fd(&mut self, target: RawFd, key: u8, worker: u8, fd: RawFd) {
        let entry =
            opcode::MsgRingData::new(types::Fd(target), fd, hand_off::message(key, worker), None)
                .build()
                .user_data(hand_off::receipt(key, worker, fd));
        self.push(entry);
    }

    /// The next descriptor passed to this ring for `key`.
    pub(crate) fn poll_arrival(
        &mut self,
        key: u8,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Arrival> {
        self.arrivals.poll(key, cx)
    }

    /// Boxes `op` into a slot and queues its entry, with an
    /// `IORING_OP_LINK_TIMEOUT` after `deadline` if given (the op then
    /// completes with `ECANCELED`); returns the slot key.
    #[inline]
    pub(crate) fn submit<T: Operation>(
        &mut self,
        op: T,
        waker: Waker,
        deadline: Option<Duration>,
    ) -> usize {
        let mut op = self.ops.boxed(op);
        op.bind_registered(self.id);
        // Built from the box, with static dispatch, so its pointers point
        // where the op stays.
        let entry = op.uring_entry();
        let key = self.ops.insert(op, waker);
        self.queue(entry, key, deadline);
        key
    }

    /// Submits `op` with nobody waiting for it: its slot is orphaned from
    /// the start, so the completion goes to `Operation::orphaned`.
    pub(crate) fn submit_detached<T: Operation>(&mut self, op: T) -> u64 {
        let key = self.submit(op, Waker::noop().clone(), None);
        self.drop_slot(key, false);
        key as u64
    }

    /// Queues an `IN_PLACE` op, which stays where it is (in its future):
    /// its entry points only into memory the op owns elsewhere. Returns the
    /// key of its slot, which holds no op unless the future is dropped first
    /// ([`drop_in_place`](UringDriver::drop_in_place)).
    #[inline]
    pub(crate) fn submit_in_place<T: Operation>(
        &mut self,
        op: &mut T,
        waker: Waker,
        deadline: Option<Duration>,
    ) -> usize {
        debug_assert!(T::IN_PLACE);
        op.bind_registered(self.id);
        let entry = op.uring_entry();
        let key = self.ops.insert_in_place(waker);
        self.queue(entry, key, deadline);
        key
    }

    /// Queues the entry of the op in slot `key`, with an
    /// `IORING_OP_LINK_TIMEOUT` after `deadline` if given.
    #[inline(always)] // the per-op hot path: a call here costs more than its body
    fn queue(&mut self, entry: squeue::Entry, key: usize, deadline: Option<Duration>) {
        bump(&self.counters.ops_submitted);
        let Some(timeout) = deadline else {
            self.push(entry.user_data(key as u64));
            return;
        };
        let slot = self.ops.get_mut(key).expect("just inserted");
        let ts: *const types::Timespec = &**slot
            .link_timeout
            .insert(Box::new(types::Timespec::from(timeout)));
        let link = opcode::LinkTimeout::new(ts)
            .build()
            .user_data(LINK_TIMEOUT_USERDATA);
        let entry = entry.flags(squeue::Flags::IO_LINK).user_data(key as u64);
        self.push_pair(entry, link);
    }

    /// Queues an `AsyncCancel` of the entry with `user_data`.
    pub(super) fn cancel(&mut self, user_data: u64) {
        let cancel = opcode::AsyncCancel::new(user_data)
            .build()
            .user_data(CANCEL_USERDATA);
        self.push(cancel);
    }

    /// What the dropped future of the op in slot `key` leaves to do: an op
    /// still in the kernel is cancelled there (unless `cancel` is false: its
    /// result is adopted), a finished one is freed.
    fn orphaned(&mut self, key: usize, orphaned: Orphaned, cancel: bool) {
        match orphaned {
            Orphaned::Gone => {}
            Orphaned::Cancel if !cancel => {}
            Orphaned::Cancel => {
                bump(&self.counters.ops_cancelled);
                self.cancel(key as u64);
            }
            // Its completion was counted when it was reaped.
            Orphaned::Free(done) => self.deferred.frees.push(done),
        }
    }

    /// Number of ops holding a slot, multishot receives included.
    pub(crate) fn in_flight(&self) -> usize {
        self.ops.len() + self.armed + self.sending
    }

    /// The collected work and the readers receives woke, for `Driver::next_deferred`.
    #[inline]
    pub(crate) fn deferred_mut(&mut self) -> (&mut Deferred, &mut Vec<Waker>) {
        (&mut self.deferred, &mut self.woken)
    }

    /// Queues an entry; a full submission queue is flushed and retried, never dropped.
    #[inline]
    pub(super) fn push(&mut self, entry: squeue::Entry) {
        loop {
            // SAFETY: every pointer in `entry` points into an op boxed in `self.ops`
            // (or into `self.wake_buf`), which stays put until its completion is reaped.
            if unsafe { self.ring.submission().push(&entry) }.is_ok() {
                return;
            }
            self.make_room();
        }
    }

    /// Queues an op and its linked timeout together: a link split across two
    /// submissions would run the op without its deadline.
    fn push_pair(&mut self, first: squeue::Entry, second: squeue::Entry) {
        loop {
            let free = {
                let sq = self.ring.submission();
                sq.capacity() - sq.len()
            };
            if free >= 2 {
                break;
            }
            self.make_room();
        }
        // SAFETY: as in `push`: both entries point only into memory the slot
        // keeps (the op's box, the boxed timespec) until the completions.
        let pushed = unsafe { self.ring.submission().push_multiple(&[first, second]) };
        assert!(pushed.is_ok(), "two free entries were just made");
    }

    /// The submission queue is full: hands it to the kernel, reaping first
    /// when the kernel asks (`EBUSY`, `EAGAIN`). An error that will not pass
    /// is a clear panic, never a silent retry loop.
    fn make_room(&mut self) {
        bump(&self.counters.sq_full_waits);
        let to_submit = self.ring.submission().len() as u32;
        match self.enter.enter(to_submit, 0) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN)) => {
                if !self.reap() {
                    if let Err(e) = self.enter.enter(0, 1) {
                        enter_failed(&e);
                    }
                    self.reap();
                }
            }
            Err(e) => enter_failed(&e),
        }
    }

    /// Submits queued entries and waits up to `timeout` (None: forever) for a completion.
    ///
    /// # Panics
    ///
    /// If `io_uring_enter` fails for a reason other than a deadline, a
    /// signal or a busy ring (a seccomp filter, say): the worker could
    /// otherwise only spin.
    pub(crate) fn park(&mut self, timeout: Option<Duration>) {
        if let Some(pool) = &mut self.pool {
            pool.publish();
        }
        // A turn that must not wait has nothing to ask a ring with no op in
        // flight, so it skips the syscall (one per spawn+join otherwise).
        if timeout == Some(Duration::ZERO)
            && self.ops.len() == 0
            && self.armed == 0
            && self.sending == 0
            && self.ring.submission().is_empty()
        {
            return;
        }
        self.arm_wake();
        let to_submit = self.ring.submission().len() as u32;
        let res = match timeout {
            Some(t) if t.is_zero() => self.enter.enter(to_submit, 0),
            Some(t) => self.enter.enter_timeout(to_submit, 1, t),
            None => self.enter.enter(to_submit, 1),
        };
        match res {
            Ok(_) => {}
            // The deadline passed, a signal, or a busy ring: reap below and go on.
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)
                ) => {}
            Err(e) => enter_failed(&e),
        }
        self.reap();
    }

    /// Keeps a read on the wake-up eventfd in flight.
    fn arm_wake(&mut self) {
        if self.wake_armed {
            return;
        }
        let buf: *mut u64 = &mut *self.wake_buf;
        let entry = opcode::Read::new(types::Fd(self.wake_fd), buf.cast(), 8)
            .build()
            .user_data(WAKE_USERDATA);
        self.wake_armed = true;
        self.push(entry);
    }

    /// Reaps every available completion, flushing the kernel's overflow list.
    /// Returns whether anything was reaped.
    fn reap(&mut self) -> bool {
        let mut any = false;
        loop {
            let mut cq = self.ring.completion();
            for cqe in &mut cq {
                any = true;
                match cqe.user_data() {
                    CANCEL_USERDATA | LINK_TIMEOUT_USERDATA => {}
                    WAKE_USERDATA => self.wake_armed = false,
                    // Before the tags below: a hand-off's has bits 63 and 62.
                    data if data & hand_off::MASK == hand_off::TAG => {
                        if let Some(w) = self.arrivals.complete(data, cqe.result()) {
                            self.deferred.wakers.push(w);
                        }
                    }
                    data if data & SOURCE_TAG != 0 => {
                        self.source_cqes
                            .push((data & !SOURCE_TAG, cqe.result(), cqe.flags()));
                    }
                    data if data & SEND_TAG != 0 => {
                        self.source_cqes.push((data, cqe.result(), cqe.flags()));
                    }
                    key => {
                        let (res, flags) = (cqe.result(), cqe.flags());
                        let res = match uring_zc::is_two_step(flags) {
                            false => cqe_result(res),
                            // A zero-copy send completes on its notification.
                            true => match uring_zc::two_step(
                                &mut self.ops,
                                &self.counters,
                                key as usize,
                                res,
                                flags,
                            ) {
                                Some(res) => res,
                                None => continue,
                            },
                        };
                        bump(&self.counters.ops_completed);
                        match self.ops.complete(key as usize, res) {
                            Reaped::Stored => {}
                            Reaped::Wake(w) => self.deferred.wakers.push(w),
                            Reaped::Free(done) => self.deferred.frees.push(done),
                        }
                    }
                }
            }
            drop(cq);
            // Outside the queue's borrow: a multishot's completion may ask
            // for a cancel, which is pushed to the ring.
            if !self.source_cqes.is_empty() {
                // Taken and put back, so its capacity is kept.
                let mut batch = std::mem::take(&mut self.source_cqes);
                for &(addr, res, flags) in &batch {
                    match addr & SEND_TAG {
                        0 => self.source_cqe(addr, res, flags),
                        _ => self.send_cqe(addr & !SEND_TAG, res),
                    }
                }
                batch.clear();
                self.source_cqes = batch;
            }
            if !self.ring.submission().cq_overflow() {
                return any;
            }
            // NODROP kept the extra completions in the kernel: flush them into the CQ.
            bump(&self.counters.cq_overflows);
            if let Err(e) = self.enter.enter(0, 0) {
                if !matches!(
                    e.raw_os_error(),
                    Some(libc::EINTR | libc::EBUSY | libc::EAGAIN)
                ) {
                    enter_failed(&e);
                }
            }
        }
    }

    /// Cancels everything still in the kernel and reaps it; what the kernel
    /// does not give back within the grace period is leaked, never freed.
    pub(crate) fn shutdown(&mut self) {
        let finished = self.ops.orphan_all();
        self.deferred.frees.extend(finished);
        if self.armed + self.sending > 0 {
            // Every multishot at once: the ring keeps no list of them.
            let any = opcode::AsyncCancel2::new(types::CancelBuilder::any())
                .build()
                .user_data(CANCEL_USERDATA);
            self.push(any);
        }
        for key in self.ops.in_kernel_keys() {
            let cancel = opcode::AsyncCancel::new(key as u64)
                .build()
                .user_data(CANCEL_USERDATA);
            self.push(cancel);
        }
        if self.wake_armed {
            let cancel = opcode::AsyncCancel::new(WAKE_USERDATA)
                .build()
                .user_data(CANCEL_USERDATA);
            self.push(cancel);
        }
        let deadline = Instant::now() + SHUTDOWN_GRACE;
        while self.ops.len() + self.armed + self.sending + usize::from(self.wake_armed) > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let wait = (deadline - now).min(Duration::from_millis(50));
            let to_submit = self.ring.submission().len() as u32;
            let res = self.enter.enter_timeout(to_submit, 1, wait);
            self.reap();
            // Finished orphans may own fds (an accepted connection): discarding
            // their output closes them.
            for done in std::mem::take(&mut self.deferred.frees) {
                let _ = done.discard();
            }
            self.deferred.wakers.clear();
            self.woken.clear();
            if let Err(e) = res {
                if !matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY | libc::EAGAIN)
                ) {
                    break; // the ring is unusable: leak below rather than spin
                }
            }
        }
        // Descriptors passed here that no receiver took.
        self.arrivals.close_all();
        if self.ops.len() > 0 || self.armed + self.sending > 0 || self.wake_armed {
            self.ops.leak_all();
            std::mem::forget(std::mem::replace(&mut self.wake_buf, Box::new(0)));
            // The kernel may still write into provided buffers, and read the
            // ring of them: both stay mapped for good.
            if let Some(pool) = self.pool.take() {
                pool.leak();
            }
        }
    }
}

impl Protocol for UringDriver {
    /// This driver's identity.
    fn id(&self) -> DriverId {
        self.id
    }

    /// The slots of ops in flight.
    fn ops_mut(&mut self) -> &mut Ops {
        &mut self.ops
    }

    /// The op's future was dropped: cancel it in the kernel (unless its
    /// result is adopted) or free it.
    fn drop_slot(&mut self, key: usize, cancel: bool) {
        let orphaned = self.ops.orphan(key);
        self.orphaned(key, orphaned, cancel);
    }

    fn unpark(&self) -> &Arc<Unpark> {
        &self.unpark
    }

    fn released(&mut self, item: Release) {
        match item {
            Release::HandBack(item) => self.take_back(item),
            Release::Receive { user_data, sid } => self.cancel_receive(user_data, sid),
            Release::File { slot, done } => self.empty_file_slot(slot, done),
            Release::Buffers { start, n, memory } => self.unregister_buffers(start, n, memory),
        }
    }

    /// Queues the op's entry: an `IN_PLACE` op stays in its future, any
    /// other moves into a slot.
    #[inline]
    fn start<T: Operation>(
        &mut self,
        st: &mut OpState<T>,
        deadline: Option<Duration>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<u32>> {
        let (id, timed) = (self.id, deadline.is_some());
        let waker = cx.waker().clone();
        if T::IN_PLACE {
            st.submit_in_place(id, timed, |op| self.submit_in_place(op, waker, deadline))
        } else {
            st.submit(id, timed, |op| self.submit(op, waker, deadline))
        }
    }

    /// An in-place op's future was dropped: its slot keeps the op until the
    /// kernel lets go (cancelling it), or it is freed now if already done.
    fn drop_in_place(&mut self, key: usize, op: Box<dyn Erased>, cancel: bool) {
        let orphaned = self.ops.adopt(key, op);
        self.orphaned(key, orphaned, cancel);
    }

    /// An op that was never in the kernel went away.
    fn abandoned(&mut self) {
        bump(&self.counters.ops_cancelled);
        bump(&self.counters.ops_completed);
    }
}

/// `io_uring_enter` failed for good: the worker cannot make progress.
#[cold]
fn enter_failed(e: &io::Error) -> ! {
    panic!("runtime: io_uring_enter failed ({e}); the io_uring driver cannot continue (RUNTIME_DRIVER=epoll avoids io_uring)")
}

/// Zero-copy sends (`uring_zc.rs` decides per completion; the ring keeps
/// the threshold).
impl UringDriver {
    /// Sets the smallest `write_all` send that goes zero-copy (`None`: none
    /// does); ignored where the kernel lacks `IORING_OP_SEND_ZC`.
    pub(crate) fn set_send_zerocopy(&mut self, min: Option<usize>) {
        self.zerocopy.set(min);
    }

    /// The smallest send that goes zero-copy on this ring, if any does.
    #[inline]
    pub(crate) fn send_zerocopy_min(&self) -> Option<usize> {
        self.zerocopy.min()
    }
}
