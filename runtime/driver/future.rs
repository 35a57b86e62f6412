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
    /// Held by the future: not yet handed to io_uring, or an epoll op
    /// between attempts. `waiting`: the fd and direction whose readiness it
    /// waits for (epoll), so a transition changes a field, never moves the op.
    Inline(T, Option<(RawFd, u64, Interest)>),
    /// In the driver's slab under this key.
    InFlight(usize),
    /// The output was returned.
    Finished,
}

/// An op's deadline; boxed, since most ops have none and an `Op` is moved
/// around inside its caller's future.
struct Deadline {
    /// Cancel the op after this long; it then completes with `TimedOut`.
    after: Duration,
    /// epoll: the timer racing an op that waits for readiness.
    timer: Option<Sleep>,
}

/// The future of one kernel operation; resolves to `T::Output`.
#[must_use = "an operation does nothing unless awaited"]
pub(crate) struct Op<T: Operation> {
    /// Where the op stands.
    state: State<T>,
    /// Set by [`Op::timeout`].
    deadline: Option<Box<Deadline>>,
    /// `!Send`: the slot key belongs to this thread's driver.
    _local: PhantomData<*const ()>,
}

impl<T: Operation> std::fmt::Debug for Op<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Inline(_, None) => "unsubmitted",
            State::Inline(_, Some(_)) => "polling",
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
            state: State::Inline(op, None),
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
        self.deadline = Some(Box::new(Deadline {
            after: timeout,
            timer: None,
        }));
        self
    }

    /// Completes the inline op with `res`.
    fn finish(&mut self, res: io::Result<u32>) -> Poll<T::Output> {
        let State::Inline(op, _) = std::mem::replace(&mut self.state, State::Finished) else {
            unreachable!("finish on an op that is not inline")
        };
        Poll::Ready(op.complete(res))
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
        // SAFETY: `worker` is used only within this poll.
        let Some(worker) = (unsafe { context::current_in_call() }) else {
            return match this.state {
                State::Inline(..) => this.finish(Err(no_runtime())),
                _ => Poll::Pending,
            };
        };
        this.poll_on(worker, cx)
    }
}

impl<T: Operation> Op<T> {
    /// `poll` on the current worker.
    fn poll_on(&mut self, worker: &context::Worker, cx: &mut Context<'_>) -> Poll<T::Output> {
        match self.state {
            State::InFlight(key) => return self.poll_slot(worker, key, cx),
            State::Finished => return Poll::Pending,
            State::Inline(..) => {}
        }
        let mut driver = worker.driver.borrow_mut();
        let Driver::Uring(d) = &mut *driver else {
            drop(driver);
            return self.poll_epoll(worker, cx);
        };
        let State::Inline(op, _) = std::mem::replace(&mut self.state, State::Finished) else {
            unreachable!("matched above")
        };
        let waker = cx.waker().clone();
        let mut op = d.boxed(op);
        // Built from the box, so the entry's pointers point where the op stays.
        let entry = op.uring_entry();
        let key = match self.deadline.as_ref() {
            Some(deadline) => d.submit_with_timeout(op, entry, waker, deadline.after),
            None => d.submit(op, entry, waker, false),
        };
        self.state = State::InFlight(key);
        Poll::Pending
    }

    /// The op is in the slab under `key`: take its result if it is done.
    fn poll_slot(
        &mut self,
        worker: &context::Worker,
        key: usize,
        cx: &mut Context<'_>,
    ) -> Poll<T::Output> {
        let polled = worker.driver.borrow_mut().poll_op::<T>(key, cx);
        let Poll::Ready((op, res)) = polled else {
            return Poll::Pending;
        };
        self.state = State::Finished;
        coop::consume();
        let res = match res {
            Err(e) if self.deadline.is_some() && e.raw_os_error() == Some(libc::ECANCELED) => {
                Err(timed_out())
            }
            res => res,
        };
        Poll::Ready(op.complete(res))
    }

    /// epoll: wait for readiness, attempt the syscall, or go to the blocking pool.
    fn poll_epoll(&mut self, worker: &context::Worker, cx: &mut Context<'_>) -> Poll<T::Output> {
        let State::Inline(op, waiting) = &mut self.state else {
            unreachable!("poll_epoll on an op that is not inline")
        };
        if waiting.is_some() {
            let timer = self.deadline.as_mut().and_then(|d| d.timer.as_mut());
            if timer.is_some_and(|t| Pin::new(t).poll(cx).is_ready()) {
                return self.finish(Err(timed_out()));
            }
        }
        // An fd the driver knows is not ready: wait for its next edge rather
        // than try a syscall bound to return EAGAIN.
        if let Some((fd, id, interest)) = waiting.or_else(|| op.epoll_target()) {
            let mut driver = worker.driver.borrow_mut();
            let Driver::Epoll(d) = &mut *driver else {
                unreachable!("epoll attempt on io_uring")
            };
            // A registration error falls through: the attempt reports it.
            if !d.is_ready(fd, id, interest) && d.wait_ready(fd, id, interest, cx).is_ok() {
                drop(driver);
                *waiting = Some((fd, id, interest));
                return self.start_timer(cx);
            }
        }
        match op.epoll_attempt() {
            Attempt::Done(res) => {
                coop::consume();
                self.finish(res)
            }
            Attempt::Drained {
                res,
                fd,
                fd_id,
                interest,
            } => {
                if let Driver::Epoll(d) = &mut *worker.driver.borrow_mut() {
                    d.clear_ready(fd, fd_id, interest);
                }
                coop::consume();
                self.finish(res)
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
                        *waiting = Some((fd, fd_id, interest));
                        self.start_timer(cx)
                    }
                    Err(e) => self.finish(Err(e)),
                }
            }
            Attempt::Blocking => {
                let State::Inline(op, _) = std::mem::replace(&mut self.state, State::Finished)
                else {
                    unreachable!("matched above")
                };
                let key = match &mut *worker.driver.borrow_mut() {
                    Driver::Epoll(d) => d.submit_blocking(Box::new(op), cx.waker().clone()),
                    Driver::Uring(_) => unreachable!("epoll attempt on io_uring"),
                };
                self.state = State::InFlight(key);
                Poll::Pending
            }
        }
    }

    /// epoll: the op waits for an edge; start racing its deadline, if any.
    fn start_timer(&mut self, cx: &mut Context<'_>) -> Poll<T::Output> {
        if let Some(deadline) = self.deadline.as_mut() {
            if deadline.timer.is_none() {
                let mut timer = sleep(deadline.after);
                if Pin::new(&mut timer).poll(cx).is_ready() {
                    return self.finish(Err(timed_out()));
                }
                deadline.timer = Some(timer);
            }
        }
        Poll::Pending
    }
}

impl<T: Operation> Drop for Op<T> {
    fn drop(&mut self) {
        if let State::InFlight(key) = self.state {
            context::with_current(|worker| {
                if let Ok(mut driver) = worker.driver.try_borrow_mut() {
                    driver.drop_op(key);
                }
            });
            // (Otherwise there is no driver to hand the slot to — the worker is
            // gone or busy — so the slot stays; shutdown leaks what the kernel holds.)
        }
    }
}
