//! The io_uring driver: submission, completion reaping, cancellation and wake-up.
//!
//! One ring per worker thread. Ops are pushed to the submission queue as they
//! are first polled and reach the kernel in one `io_uring_enter` per loop turn,
//! which also waits for completions up to the next timer deadline.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use io_uring::{cqueue, opcode, squeue, types, IoUring};

use super::lifecycle::{Ops, Orphaned, Reaped};
use super::operation::{cqe_result, Erased};
use super::Deferred;
use crate::metrics::{bump, Counters};

#[path = "registered.rs"]
pub(crate) mod registered;

/// `user_data` of `AsyncCancel` entries; their completions carry nothing we need.
const CANCEL_USERDATA: u64 = u64::MAX;
/// `user_data` of linked timeouts; the op they guard reports the outcome.
const LINK_TIMEOUT_USERDATA: u64 = u64::MAX - 2;
/// `user_data` of the read on the worker's wake-up eventfd.
const WAKE_USERDATA: u64 = u64::MAX - 1;

/// `IORING_ENTER_GETEVENTS`: reap (and run deferred task work) as well as submit.
const ENTER_GETEVENTS: u32 = 1;

/// How long shutdown waits for the kernel to give back cancelled ops before leaking them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A worker's io_uring instance and the ops it has in flight.
pub(crate) struct UringDriver {
    /// The ring (declared first: dropped before the memory it may point into).
    ring: IoUring,
    /// Ops in flight, keyed by `user_data`.
    ops: Ops,
    /// Wakers and finished orphans collected while the driver is borrowed.
    deferred: Deferred,
    /// The worker's wake-up eventfd; other threads write to it to end a wait.
    wake_fd: RawFd,
    /// Where the kernel writes the eventfd counter; boxed so it never moves.
    wake_buf: Box<u64>,
    /// Whether a read on `wake_fd` is in flight.
    wake_armed: bool,
    /// The worker's counters.
    counters: Arc<Counters>,
    /// Registered buffer and file tables (`registered.rs`).
    registered: registered::Registered,
}

impl std::fmt::Debug for UringDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringDriver")
            .field("ring_fd", &self.ring.as_raw_fd())
            .field("in_flight", &self.ops.len())
            .finish()
    }
}

impl UringDriver {
    /// Wraps a ring that `detect` built and probed.
    pub(crate) fn new(ring: IoUring, wake_fd: &OwnedFd, counters: Arc<Counters>) -> Self {
        UringDriver {
            ring,
            ops: Ops::default(),
            deferred: Deferred::default(),
            wake_fd: wake_fd.as_raw_fd(),
            wake_buf: Box::new(0),
            wake_armed: false,
            counters,
            registered: registered::Registered::default(),
        }
    }

    /// Stores the boxed `op` and queues `entry`, which `op.uring_entry()`
    /// built from the box (so its pointers point into it); returns the slot key.
    #[inline]
    pub(crate) fn submit(
        &mut self,
        op: Box<dyn Erased>,
        entry: squeue::Entry,
        waker: Waker,
        multishot: bool,
    ) -> usize {
        let key = self.ops.insert(op, waker, multishot);
        self.push(entry.user_data(key as u64));
        bump(&self.counters.ops_submitted);
        key
    }

    /// As `submit`, with an `IORING_OP_LINK_TIMEOUT` that cancels the op
    /// (which then completes with `ECANCELED`) if it is still running after `timeout`.
    pub(crate) fn submit_with_timeout(
        &mut self,
        op: Box<dyn Erased>,
        entry: squeue::Entry,
        waker: Waker,
        timeout: Duration,
    ) -> usize {
        let entry = entry.flags(squeue::Flags::IO_LINK);
        let key = self.ops.insert(op, waker, false);
        let slot = self.ops.get_mut(key).expect("just inserted");
        let ts: *const types::Timespec = &**slot
            .link_timeout
            .insert(Box::new(types::Timespec::from(timeout)));
        let link = opcode::LinkTimeout::new(ts)
            .build()
            .user_data(LINK_TIMEOUT_USERDATA);
        // A link must not be split across submissions: make room for both entries.
        let (cap, len) = {
            let sq = self.ring.submission();
            (sq.capacity(), sq.len())
        };
        if cap - len < 2 {
            let _ = self.ring.submit();
        }
        self.push(entry.user_data(key as u64));
        self.push(link);
        bump(&self.counters.ops_submitted);
        key
    }

    /// Re-submits a multishot op whose last completion came without `F_MORE`.
    pub(crate) fn rearm(&mut self, key: usize) {
        let Some(slot) = self.ops.get_mut(key) else {
            return;
        };
        let entry = slot.op.as_mut().expect("slot holds its op").uring_entry();
        if let Some(shots) = slot.shots.as_mut() {
            shots.armed = true;
        }
        self.push(entry.user_data(key as u64));
        bump(&self.counters.ops_submitted);
    }

    /// The slots of ops in flight.
    pub(crate) fn ops_mut(&mut self) -> &mut Ops {
        &mut self.ops
    }

    /// Boxes an op about to be submitted, in a recycled cell when one is free.
    #[inline]
    pub(crate) fn boxed<T>(&mut self, op: T) -> Box<T> {
        self.ops.cells.boxed(op)
    }

    /// Polls a multishot op's queue: `Ready(None)` means it must be re-armed.
    pub(crate) fn poll_shot(
        &mut self,
        key: usize,
        cx: &mut Context<'_>,
    ) -> Poll<Option<(io::Result<u32>, u32)>> {
        super::poll_shots(&mut self.ops, key, cx)
    }

    /// The op in a live slot, for a multishot op to turn a completion into an item.
    pub(crate) fn op_mut(&mut self, key: usize) -> &mut dyn std::any::Any {
        let slot = self.ops.get_mut(key).expect("live multishot slot");
        slot.op.as_mut().expect("slot holds its op").as_any_mut()
    }

    /// The op's future was dropped: cancel it in the kernel or free it.
    pub(crate) fn drop_op(&mut self, key: usize) {
        match self.ops.orphan(key) {
            Orphaned::Gone => {}
            Orphaned::Cancel => {
                bump(&self.counters.ops_cancelled);
                let cancel = opcode::AsyncCancel::new(key as u64)
                    .build()
                    .user_data(CANCEL_USERDATA);
                self.push(cancel);
            }
            Orphaned::Free(op, res) => {
                bump(&self.counters.ops_completed);
                self.deferred.frees.push((op, res));
            }
        }
    }

    /// Number of ops holding a slot.
    pub(crate) fn in_flight(&self) -> usize {
        self.ops.len()
    }

    /// Hands the collected wakers and orphans to the worker in exchange for
    /// its empty spare.
    pub(crate) fn swap_deferred(&mut self, spare: &mut Deferred) {
        std::mem::swap(&mut self.deferred, spare);
    }

    /// Queues an entry; a full submission queue is flushed and retried, never dropped.
    #[inline]
    fn push(&mut self, entry: squeue::Entry) {
        loop {
            // SAFETY: every pointer in `entry` points into an op boxed in `self.ops`
            // (or into `self.wake_buf`), which stays put until its completion is reaped.
            if unsafe { self.ring.submission().push(&entry) }.is_ok() {
                return;
            }
            bump(&self.counters.sq_full_waits);
            match self.ring.submit() {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => {}
                // EBUSY/EAGAIN: the kernel wants completions reaped first.
                Err(_) => {
                    if !self.reap() {
                        self.enter(0, 1);
                        self.reap();
                    }
                }
            }
        }
    }

    /// Submits queued entries and waits up to `timeout` (None: forever) for a completion.
    pub(crate) fn park(&mut self, timeout: Option<Duration>) {
        self.arm_wake();
        let res = match timeout {
            Some(t) if t.is_zero() => {
                let to_submit = self.ring.submission().len() as u32;
                Ok(self.enter(to_submit, 0))
            }
            Some(t) => {
                let ts = types::Timespec::from(t);
                let args = types::SubmitArgs::new().timespec(&ts);
                self.ring.submitter().submit_with_args(1, &args)
            }
            None => self.ring.submitter().submit_and_wait(1),
        };
        if let Err(e) = res {
            // ETIME: the deadline passed; EINTR: a signal; EBUSY: reap below and go on.
            debug_assert!(
                matches!(
                    e.raw_os_error(),
                    Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                ),
                "io_uring_enter: {e}"
            );
        }
        self.reap();
    }

    /// Raw `io_uring_enter` with `GETEVENTS`, which also runs deferred task work.
    fn enter(&mut self, to_submit: u32, min_complete: u32) -> usize {
        // SAFETY: no extra argument is passed; the flags are valid for this ring.
        let res = unsafe {
            self.ring.submitter().enter::<libc::sigset_t>(
                to_submit,
                min_complete,
                ENTER_GETEVENTS,
                None,
            )
        };
        res.unwrap_or(0)
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
                    key => {
                        let flags = cqe.flags();
                        let res = cqe_result(cqe.result());
                        if !cqueue::more(flags) {
                            bump(&self.counters.ops_completed);
                        }
                        match self.ops.complete(key as usize, res, flags) {
                            Reaped::Stored => {}
                            Reaped::Wake(w) => self.deferred.wakers.push(w),
                            Reaped::Free(op, res) => self.deferred.frees.push((op, res)),
                        }
                    }
                }
            }
            drop(cq);
            if !self.ring.submission().cq_overflow() {
                return any;
            }
            // NODROP kept the extra completions in the kernel: flush them into the CQ.
            bump(&self.counters.cq_overflows);
            self.enter(0, 0);
        }
    }

    /// Cancels everything still in the kernel and reaps it; what the kernel
    /// does not give back within the grace period is leaked, never freed.
    pub(crate) fn shutdown(&mut self) {
        drop(self.ops.orphan_all());
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
        while self.ops.len() + usize::from(self.wake_armed) > 0 {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            let wait = (deadline - now).min(Duration::from_millis(50));
            let ts = types::Timespec::from(wait);
            let args = types::SubmitArgs::new().timespec(&ts);
            let _ = self.ring.submitter().submit_with_args(1, &args);
            self.reap();
            // Finished orphans may own fds; dropping them here closes those fds.
            drop(std::mem::take(&mut self.deferred));
        }
        if self.ops.len() > 0 || self.wake_armed {
            self.ops.leak_all();
            std::mem::forget(std::mem::replace(&mut self.wake_buf, Box::new(0)));
        }
    }
}
