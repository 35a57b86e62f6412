//! `Op<T>`: the future of one kernel operation, on either driver.
//!
//! io_uring: the first poll boxes the op into the driver's slab and queues its
//! entry; later polls look at the slot. epoll: the op stays inline (the kernel
//! holds no pointer between attempts) and retries its syscall on readiness;
//! regular-file ops go to the blocking pool through the slab, like io_uring.
//! Dropping an `Op` in flight orphans its slot (see `lifecycle.rs`).

use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::os::fd::RawFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::operation::{Attempt, Interest, Operation};
use super::Driver;
use crate::context;
use crate::executor::coop;
use crate::time::{sleep, Sleep};

/// Where an op stands.
enum State<T> {
    /// Not yet handed to a driver.
    Unsubmitted(T),
    /// epoll: waiting for `fd` to become ready (the op is kept inline).
    Polling(T, RawFd, u64, Interest),
    /// In the driver's slab under this key.
    InFlight(usize),
    /// The output was returned.
    Finished,
}

/// The future of one kernel operation; resolves to `T::Output`.
#[must_use = "an operation does nothing unless awaited"]
pub(crate) struct Op<T: Operation> {
    /// Where the op stands.
    state: State<T>,
    /// Cancel the op after this long; it then completes with `TimedOut`.
    timeout: Option<Duration>,
    /// epoll: the timer racing an op that waits for readiness.
    deadline: Option<Sleep>,
    /// `!Send`: the slot key belongs to this thread's driver.
    _local: PhantomData<*const ()>,
}

impl<T: Operation> std::fmt::Debug for Op<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Unsubmitted(_) => "unsubmitted",
            State::Polling(..) => "polling",
            State::InFlight(_) => "in flight",
            State::Finished => "finished",
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
            state: State::Unsubmitted(op),
            timeout: None,
            deadline: None,
            _local: PhantomData,
        }
    }

    /// Bounds the op by `timeout`: when it passes first, the kernel cancels the
    /// op (a linked timeout on io_uring; a timer racing readiness on epoll) and
    /// `complete` receives `Err(TimedOut)`, so the caller still gets its buffer.
    /// An op that finished before the deadline keeps its result (bytes that
    /// arrived are never lost). Ops on the epoll blocking pool cannot be
    /// interrupted and ignore the timeout.
    pub(crate) fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

/// The error a timed-out op completes with.
fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "operation timed out")
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
        let Some(worker) = context::current() else {
            return match std::mem::replace(&mut this.state, State::Finished) {
                State::Unsubmitted(op) | State::Polling(op, ..) => {
                    Poll::Ready(op.complete(Err(no_runtime())))
                }
                _ => Poll::Pending,
            };
        };
        match std::mem::replace(&mut this.state, State::Finished) {
            State::Unsubmitted(op) => {
                let mut driver = worker.driver.borrow_mut();
                let Driver::Uring(d) = &mut *driver else {
                    drop(driver);
                    this.state = State::Unsubmitted(op);
                    return this.poll_epoll(&worker, cx);
                };
                let waker = cx.waker().clone();
                let key = match this.timeout {
                    Some(t) => d.submit_with_timeout(Box::new(op), waker, t),
                    None => d.submit(Box::new(op), waker, false),
                };
                this.state = State::InFlight(key);
                Poll::Pending
            }
            State::Polling(op, fd, id, interest) => {
                if let Some(deadline) = this.deadline.as_mut() {
                    if Pin::new(deadline).poll(cx).is_ready() {
                        return Poll::Ready(op.complete(Err(timed_out())));
                    }
                }
                let ready = match &*worker.driver.borrow() {
                    Driver::Epoll(d) => d.is_ready(fd, id, interest),
                    Driver::Uring(_) => true,
                };
                this.state = State::Polling(op, fd, id, interest);
                if ready {
                    return this.poll_epoll(&worker, cx);
                }
                // Refresh the waker: a combinator may poll with a new one.
                if let Driver::Epoll(d) = &mut *worker.driver.borrow_mut() {
                    let _ = d.wait_ready(fd, id, interest, cx);
                }
                Poll::Pending
            }
            State::InFlight(key) => {
                let polled = worker.driver.borrow_mut().poll_op(key, cx);
                let Poll::Ready((op, res)) = polled else {
                    this.state = State::InFlight(key);
                    return Poll::Pending;
                };
                let op = op
                    .into_any()
                    .downcast::<T>()
                    .unwrap_or_else(|_| unreachable!("slot holds another op type"));
                coop::consume();
                let res = match res {
                    Err(e)
                        if this.timeout.is_some() && e.raw_os_error() == Some(libc::ECANCELED) =>
                    {
                        Err(timed_out())
                    }
                    res => res,
                };
                Poll::Ready(op.complete(res))
            }
            State::Finished => Poll::Pending,
        }
    }
}

impl<T: Operation> Op<T> {
    /// epoll: attempt the syscall; wait for readiness or go to the blocking pool.
    fn poll_epoll(&mut self, worker: &context::Worker, cx: &mut Context<'_>) -> Poll<T::Output> {
        let (State::Unsubmitted(mut op) | State::Polling(mut op, ..)) =
            std::mem::replace(&mut self.state, State::Finished)
        else {
            unreachable!("poll_epoll on an op that is not inline")
        };
        match op.epoll_attempt() {
            Attempt::Done(res) => {
                coop::consume();
                Poll::Ready(op.complete(res))
            }
            Attempt::WouldBlock {
                fd,
                fd_id,
                interest,
            } => {
                let registered = match &mut *worker.driver.borrow_mut() {
                    Driver::Epoll(d) => d.wait_ready(fd, fd_id, interest, cx),
                    Driver::Uring(_) => unreachable!("epoll attempt on io_uring"),
                };
                match registered {
                    Ok(()) => {
                        if let (Some(t), None) = (self.timeout, &self.deadline) {
                            let mut deadline = sleep(t);
                            if Pin::new(&mut deadline).poll(cx).is_ready() {
                                return Poll::Ready(op.complete(Err(timed_out())));
                            }
                            self.deadline = Some(deadline);
                        }
                        self.state = State::Polling(op, fd, fd_id, interest);
                        Poll::Pending
                    }
                    Err(e) => Poll::Ready(op.complete(Err(e))),
                }
            }
            Attempt::Blocking => {
                let key = match &mut *worker.driver.borrow_mut() {
                    Driver::Epoll(d) => d.submit_blocking(Box::new(op), cx.waker().clone()),
                    Driver::Uring(_) => unreachable!("epoll attempt on io_uring"),
                };
                self.state = State::InFlight(key);
                Poll::Pending
            }
        }
    }
}

impl<T: Operation> Drop for Op<T> {
    fn drop(&mut self) {
        if let State::InFlight(key) = self.state {
            if let Some(worker) = context::current() {
                if let Ok(mut driver) = worker.driver.try_borrow_mut() {
                    driver.drop_op(key);
                }
            }
            // (Otherwise there is no driver to hand the slot to — the worker is
            // gone or busy — so the slot stays; shutdown leaks what the kernel holds.)
        }
    }
}
