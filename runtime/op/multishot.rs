//! `MultishotOp<T>`: one submission, many completions (accept, poll).
//!
//! io_uring keeps one slot whose completions queue up while
//! `IORING_CQE_F_MORE` is set; when a completion arrives without it the kernel
//! has let go, and the next `poll_next` after the queue drains re-arms the op.
//! Re-arming only on demand lets a caller back off (after EMFILE, say) simply
//! by not polling. epoll retries the op's syscall on readiness, one item each.
//! The protocol is the driver's (`driver/op_state.rs`); this is the stream
//! face of it.

use std::marker::PhantomData;
use std::task::{Context, Poll};

use super::future::no_runtime;
use crate::context;
use crate::driver::{Multishot, ShotState};
use crate::executor::coop;

/// A stream of completions of one multishot operation.
pub(crate) struct MultishotOp<T: Multishot> {
    /// Where the op stands; driven by the driver.
    state: ShotState<T>,
    /// `!Send`: an op belongs to the worker that polls it.
    _local: PhantomData<*const ()>,
}

impl<T: Multishot> std::fmt::Debug for MultishotOp<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MultishotOp").finish_non_exhaustive()
    }
}

impl<T: Multishot> MultishotOp<T> {
    /// Wraps an operation; nothing happens until the first poll.
    pub(crate) fn new(op: T) -> Self {
        MultishotOp {
            state: ShotState::Idle(op),
            _local: PhantomData,
        }
    }

    /// The next completion; re-arms the op when the kernel has let go.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<T::Item> {
        if !coop::has_budget(cx) {
            return Poll::Pending;
        }
        let Some(worker) = context::current() else {
            return match self.state.unheld_mut() {
                Some(op) => Poll::Ready(op.next(Err(no_runtime()), 0)),
                None => Poll::Pending,
            };
        };
        let polled = worker.driver.borrow_mut().poll_shot(&mut self.state, cx);
        if polled.is_ready() {
            coop::consume();
        }
        polled
    }
}

impl<T: Multishot> Drop for MultishotOp<T> {
    fn drop(&mut self) {
        if !matches!(self.state, ShotState::Held { .. }) {
            return;
        }
        context::with_current(|worker| {
            if let Ok(mut driver) = worker.driver.try_borrow_mut() {
                driver.drop_shot(&mut self.state);
            }
        });
    }
}
