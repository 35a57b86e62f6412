//! `Op<T>`: the future of one kernel operation, on whichever driver the
//! current worker runs.
//!
//! The future holds an [`OpState`] and hands it to the driver on each poll;
//! the driver runs the protocol (submission and completion on io_uring,
//! readiness and retry on epoll) and says when the op is done. Above the
//! driver live only what needs the executor: the cooperative budget, the
//! timer that bounds a readiness wait, and finding the current worker.
//!
//! Dropping an `Op` in flight orphans its slot (see `driver/lifecycle.rs`);
//! an op io_uring runs in place moves into that slot then.
//! An `Op` polled on a runtime other than the one holding it panics with a
//! message saying so (see `driver/protocol.rs`): its buffers are in the other
//! driver's slot and cannot be handed back.
//!
//! # The door to the driver
//!
//! This file is the only one below `net/` and `fs/` that finds the current
//! worker: the rest of `op/`, `buf/` and `sys/` reach its driver through
//! [`with_driver`], [`try_with_driver`], [`driver_in_call`] and
//! [`register`], each a thread-local load and a `RefCell` borrow, as before.
//! Registered files and buffers are given back through the handle
//! registration made (`driver::FixedTables`), never through here; the one
//! thing it borrows from this file is [`release_here`], its way to find its
//! own driver on the releasing thread.
//!
//! # Threads
//!
//! `Op<T>` is `Send` when `T` (its buffers) is, so a `Send` future (an axum
//! handler) may await it; the task awaiting it never leaves its worker.
//! Moved anyway, it keeps the rules above: polled on another thread, it
//! carries on if no kernel holds it (it waits for readiness or has not
//! started), and panics if one does; dropped on another thread, its own
//! driver takes it back (`driver/hand_back.rs`) and cancels it there.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::context;
use crate::driver::{
    hand_back, timed_out, Driver, DriverId, OnThisThread, OpState, Operation, Phase,
};
use crate::executor::coop;
use crate::time::{sleep, Sleep};

/// An op's deadline; boxed, since most ops have none and an `Op` is moved
/// around inside its caller's future.
struct Deadline {
    /// Cancel the op after this long; it then completes with `TimedOut`.
    after: Duration,
    /// The timer racing an op that waits for readiness (which no kernel
    /// timeout can bound).
    timer: Option<Sleep>,
}

/// The future of one kernel operation; resolves to `T::Output`.
#[must_use = "an operation does nothing unless awaited"]
pub(crate) struct Op<T: Operation> {
    /// Where the op stands; driven by the driver.
    state: OpState<T>,
    /// Set by [`Op::timeout`].
    deadline: Option<Box<Deadline>>,
}

impl<T: Operation> std::fmt::Debug for Op<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state.phase {
            Phase::Unheld(None) => "unsubmitted",
            Phase::Unheld(Some(_)) => "waiting for readiness",
            Phase::Held { .. } | Phase::InKernel { .. } => "in flight",
            Phase::Finished => "finished",
        };
        f.debug_struct("Op").field("state", &state).finish()
    }
}

// The op is never pinned: it is used through `&mut` and moved into a box at
// submission, so `Op` may move freely whatever `T` is.
impl<T: Operation> Unpin for Op<T> {}

impl<T: Operation> Op<T> {
    /// Wraps an operation; nothing happens until the first poll.
    pub(crate) fn new(op: T) -> Self {
        Op {
            state: OpState::new(op),
            deadline: None,
        }
    }

    /// Bounds the op by `timeout`: when it passes first, the kernel cancels the
    /// op (a linked timeout on io_uring; a timer racing readiness on epoll) and
    /// `complete` receives `Err(TimedOut)`, so the caller still gets its buffer.
    /// An op that finished before the deadline keeps its result (bytes that
    /// arrived are never lost). Ops on the epoll blocking pool cannot be
    /// interrupted and ignore the timeout.
    pub(crate) fn timeout(mut self, timeout: Duration) -> Self {
        self.deadline = Some(Box::new(Deadline {
            after: timeout,
            timer: None,
        }));
        self
    }

    /// The slot key of the op once a driver holds it.
    pub(crate) fn key(&self) -> Option<u64> {
        self.state.key()
    }

    /// Outside any runtime: completes an op no driver holds with `err`
    /// (one a driver holds panics: see `OpState::take_outside_runtime`).
    fn fail(&mut self, err: io::Error) -> Poll<T::Output> {
        match self.state.take_outside_runtime() {
            Some(op) => Poll::Ready(op.complete(Err(err))),
            None => Poll::Pending,
        }
    }

    /// While the op waits for readiness, races its deadline's timer; when
    /// the timer wins, takes the op back from `worker`'s driver.
    fn poll_timer(&mut self, worker: &context::Worker, cx: &mut Context<'_>) -> Poll<T::Output> {
        let Some(deadline) = self.deadline.as_mut() else {
            return Poll::Pending;
        };
        if !self.state.needs_timer() {
            return Poll::Pending;
        }
        let timer = deadline.timer.get_or_insert_with(|| sleep(deadline.after));
        if Pin::new(timer).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let op = worker.driver.borrow_mut().abandon_op(&mut self.state);
        match op {
            Some(op) => Poll::Ready(op.complete(Err(timed_out()))),
            None => Poll::Pending,
        }
    }
}

/// Runs `f` on the current worker's driver, borrowed; `None` outside a
/// runtime. `f` must not reach the driver again (it is borrowed).
#[inline]
pub(crate) fn with_driver<R>(f: impl FnOnce(&mut Driver) -> R) -> Option<R> {
    context::with_current(|worker| f(&mut worker.driver.borrow_mut()))
}

/// As [`with_driver`], but `None` also while the driver is borrowed: for
/// drops and releases, which may run inside the driver's own callbacks.
#[inline]
pub(crate) fn try_with_driver<R>(f: impl FnOnce(&mut Driver) -> R) -> Option<R> {
    context::with_current(|worker| {
        let mut driver = worker.driver.try_borrow_mut().ok()?;
        Some(f(&mut driver))
    })
    .flatten()
}

/// The current worker's driver cell, for a poll that borrows it more than
/// once (and polls an `Op` in between).
///
/// # Safety
///
/// As `context::current_in_call`: the reference must not outlive the call
/// (a poll) that asked for it.
#[inline]
pub(crate) unsafe fn driver_in_call<'a>() -> Option<&'a RefCell<Driver>> {
    // SAFETY: the caller's promise, passed on.
    unsafe { context::current_in_call() }.map(|worker| &worker.driver)
}

/// Registers `what` (registered buffers or files) with the current worker's
/// driver by `f`, which gets the [`release_here`] door for the handle it
/// makes. A refusal on io_uring is recorded here, once, in the worker's
/// metrics and its `driver_info()` line; the epoll driver's "no" is not a
/// fallback worth recording.
pub(crate) fn register<R>(
    what: &str,
    f: impl FnOnce(&mut Driver, OnThisThread) -> Result<R, String>,
) -> Result<R, String> {
    let res = context::with_current(|worker| {
        let Ok(mut driver) = worker.driver.try_borrow_mut() else {
            return Err("the driver was busy".to_owned());
        };
        let res = f(&mut driver, release_here);
        let on_uring = driver.fixed_id().is_some();
        drop(driver);
        if let (Err(why), true) = (&res, on_uring) {
            crate::report::note_fallback(worker, what, why);
        }
        res
    });
    res.unwrap_or_else(|| Err(format!("{what} were set up outside a runtime")))
}

/// A registered-slot handle's way to its own driver ([`OnThisThread`]):
/// if the driver `id` is the current worker's and is not borrowed, it takes
/// its release queue now. Borrowed (the release runs inside the driver),
/// on another thread or under another runtime, nothing happens here and
/// the handle wakes the owning worker instead.
fn release_here(id: DriverId) -> bool {
    try_with_driver(|driver| driver.take_releases_of(id)).unwrap_or(false)
}

/// The error an op returns when polled outside a runtime.
pub(crate) fn no_runtime() -> io::Error {
    io::Error::other("no runtime on this thread: run I/O inside runtime::block_on or a task")
}

impl<T: Operation> Future for Op<T> {
    type Output = T::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T::Output> {
        let this = self.get_mut();
        if !coop::has_budget(cx) {
            return Poll::Pending;
        }
        // SAFETY: `worker` is used only within this poll.
        let Some(worker) = (unsafe { context::current_in_call() }) else {
            return this.fail(no_runtime());
        };
        let after = this.deadline.as_ref().map(|d| d.after);
        let polled = worker
            .driver
            .borrow_mut()
            .poll_op(&mut this.state, after, cx);
        match polled {
            Poll::Ready(res) => {
                coop::consume();
                Poll::Ready(this.state.take_finished().complete(res))
            }
            Poll::Pending => this.poll_timer(worker, cx),
        }
    }
}

impl<T: Operation> Drop for Op<T> {
    fn drop(&mut self) {
        if !self.state.needs_driver_on_drop() {
            return;
        }
        let done = try_with_driver(|driver| driver.drop_op(&mut self.state));
        // Another driver holds it (this is another thread or runtime), or
        // this one is busy: its own driver takes it back and cancels it.
        if done != Some(true) {
            hand_back(&mut self.state);
        }
    }
}
