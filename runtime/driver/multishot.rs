//! `MultishotOp<T>`: one submission, many completions (accept, recv with
//! buffer select, poll).
//!
//! io_uring keeps one slab entry whose completions queue up while
//! `IORING_CQE_F_MORE` is set; when a completion arrives without it the kernel
//! has let go, and the next `poll_next` after the queue drains re-arms the op.
//! Re-arming only on demand lets a caller back off (after EMFILE, say) simply
//! by not polling. epoll retries the op's syscall on readiness, one item each.

use std::io;
use std::marker::PhantomData;
use std::os::fd::RawFd;
use std::task::{Context, Poll};

use super::operation::{Attempt, Interest, Operation};
use super::Driver;
use crate::context;
use crate::executor::coop;

/// An operation the kernel completes many times from one submission.
pub(crate) trait Multishot: Operation {
    /// One completion, as the caller sees it.
    type Item;
    /// Turns one completion (io_uring CQE, or one epoll attempt) into an item.
    fn next(&mut self, res: io::Result<u32>, flags: u32) -> Self::Item;
}

/// Where a multishot op stands.
enum State<T> {
    /// Not yet handed to a driver.
    Unsubmitted(T),
    /// epoll: waiting for readiness (the op is kept inline).
    Polling(T, RawFd, u64, Interest),
    /// io_uring: in the slab under this key.
    InFlight(usize),
}

/// A stream of completions of one multishot operation.
pub(crate) struct MultishotOp<T: Multishot> {
    /// Where the op stands.
    state: Option<State<T>>,
    /// `!Send`: the slot key belongs to this thread's driver.
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
            state: Some(State::Unsubmitted(op)),
            _local: PhantomData,
        }
    }

    /// The next completion; re-arms the op when the kernel has let go.
    pub(crate) fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<T::Item> {
        if !coop::has_budget(cx) {
            return Poll::Pending;
        }
        let Some(worker) = context::current() else {
            return match self.state.as_mut() {
                Some(State::Unsubmitted(op) | State::Polling(op, ..)) => {
                    Poll::Ready(op.next(Err(super::future::no_runtime()), 0))
                }
                _ => Poll::Pending,
            };
        };
        loop {
            match self.state.take().expect("state is always put back") {
                State::Unsubmitted(op) => {
                    let mut driver = worker.driver.borrow_mut();
                    if let Driver::Uring(d) = &mut *driver {
                        let mut op = Box::new(op);
                        // Built from the box, so its pointers point where the op stays.
                        let entry = op.uring_entry();
                        let key = d.submit(op, entry, cx.waker().clone(), true);
                        self.state = Some(State::InFlight(key));
                        return Poll::Pending;
                    }
                    drop(driver);
                    return self.attempt(op, &worker, cx);
                }
                State::Polling(op, fd, id, interest) => {
                    let mut driver = worker.driver.borrow_mut();
                    let Driver::Epoll(d) = &mut *driver else {
                        unreachable!("inline multishot on io_uring")
                    };
                    if !d.is_ready(fd, id, interest) {
                        let _ = d.wait_ready(fd, id, interest, cx);
                        self.state = Some(State::Polling(op, fd, id, interest));
                        return Poll::Pending;
                    }
                    drop(driver);
                    return self.attempt(op, &worker, cx);
                }
                State::InFlight(key) => {
                    self.state = Some(State::InFlight(key));
                    let mut driver = worker.driver.borrow_mut();
                    let Driver::Uring(d) = &mut *driver else {
                        unreachable!("slot multishot on epoll")
                    };
                    match d.poll_shot(key, cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(None) => {
                            d.rearm(key);
                            continue;
                        }
                        Poll::Ready(Some((res, flags))) => {
                            let op = d.op_mut(key).downcast_mut::<T>().expect("slot holds T");
                            let item = op.next(res, flags);
                            coop::consume();
                            return Poll::Ready(item);
                        }
                    }
                }
            }
        }
    }

    /// epoll: one attempt of the syscall.
    fn attempt(
        &mut self,
        mut op: T,
        worker: &context::Worker,
        cx: &mut Context<'_>,
    ) -> Poll<T::Item> {
        match op.epoll_attempt() {
            Attempt::WouldBlock {
                fd,
                fd_id,
                interest,
            } => {
                let registered = match &mut *worker.driver.borrow_mut() {
                    Driver::Epoll(d) => d.wait_ready(fd, fd_id, interest, cx),
                    Driver::Uring(_) => unreachable!("epoll attempt on io_uring"),
                };
                let item = registered.err().map(|e| op.next(Err(e), 0));
                self.state = Some(State::Polling(op, fd, fd_id, interest));
                item.map_or(Poll::Pending, Poll::Ready)
            }
            Attempt::Done(res) | Attempt::Drained { res, .. } => {
                coop::consume();
                let item = op.next(res, 0);
                self.state = Some(State::Unsubmitted(op));
                Poll::Ready(item)
            }
            Attempt::Blocking => {
                let err =
                    io::Error::new(io::ErrorKind::Unsupported, "multishot op on a blocking fd");
                let item = op.next(Err(err), 0);
                self.state = Some(State::Unsubmitted(op));
                Poll::Ready(item)
            }
        }
    }
}

impl<T: Multishot> Drop for MultishotOp<T> {
    fn drop(&mut self) {
        if let Some(State::InFlight(key)) = self.state {
            if let Some(worker) = context::current() {
                if let Ok(mut driver) = worker.driver.try_borrow_mut() {
                    driver.drop_op(key);
                }
            }
        }
    }
}
