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
//! # Threads
//!
//! `Op<T>` is `Send` when `T` (its buffers) is, so a `Send` future (an axum
//! handler) may await it; the task awaiting it never leaves its worker.
//! Moved anyway, it keeps the rules above: polled on another thread, it
//! carries on if no kernel holds it (it waits for readiness or has not
//! started), and panics if one does; dropped on another thread, its own
//! driver takes it back (`driver/hand_back.rs`) and cancels it there.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::context;
use crate::driver::{hand_back, timed_out, OpState, Operation, Phase};
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
        let done = context::with_current(|worker| match worker.driver.try_borrow_mut() {
            Ok(mut driver) => driver.drop_op(&mut self.state),
            Err(_) => false,
        });
        // Another driver holds it (this is another thread or runtime), or
        // this one is busy: its own driver takes it back and cancels it.
        if done != Some(true) {
            hand_back(&mut self.state);
        }
    }
}
