//! [`Receive`]: the future of every socket receive on both drivers (stream
//! reads, peeks and `readv`, datagram receives, accepts). Each poll takes
//! what the kernel already received for the socket from its queue, waits
//! for the receive the socket has in a kernel, or starts the caller's own
//! one-shot receive (the protocol is in `driver/source.rs`). The kinds of
//! receive, and what each takes from the queue, are in `receivers.rs`.
//!
//! Dropping the future loses nothing, at any point: what it would have
//! taken stays queued, and a one-shot receive it started runs on and hands
//! its result to the queue (its op's `orphaned`).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::op_future::{no_runtime, Op};
use super::Operation;
use crate::driver::{
    timed_out, Chunk, Descriptor as _, Multishot, PoolMemory, Received, RecvSide, Take,
};
use crate::executor::coop;
use crate::sys::{FdHandle, SharedFd};
use crate::time::{sleep, Sleep};

/// One kind of receive: what it takes from the socket's queue, and the
/// one-shot op it starts when the queue is empty and nothing is in a kernel.
pub(crate) trait Receiver: Unpin {
    /// The one-shot op.
    type Op: Operation;
    /// What the receive resolves to.
    type Output;
    /// The multishot an io_uring worker may arm for it, and the payload one
    /// provided buffer must hold for that (datagrams: the caller's buffer
    /// size, so that a datagram is cut where that buffer would cut it);
    /// `None`: one-shot only. The default is a byte stream's: the multishot
    /// receive, into buffers of any size.
    #[inline]
    fn multishot(&self) -> Option<(Multishot, usize)> {
        Some((Multishot::Recv, 0))
    }

    /// Whether it waits for the socket to be readable before its one-shot:
    /// a one-shot that takes a buffer of its own (an idle socket then holds
    /// no buffer), or a listener's accept shared with other workers' rings
    /// (a kernel wait there could hold a connection for a busy worker).
    fn ready_first(&self) -> bool {
        false
    }

    /// Whether waiting for readability may arm the socket's multishot
    /// receive (a stream); else it is a plain poll (a listener).
    const RECEIVES_BYTES: bool = true;

    /// Whether the one-shot found nothing after all (another worker took
    /// it), so that the receive waits for readability again.
    fn again(_out: &<Self::Op as Operation>::Output) -> bool {
        false
    }

    /// Whether its one-shot receives into a buffer the driver lends (epoll's
    /// zero-copy reads), handed over by [`lend`](Receiver::lend) just before
    /// `start`.
    const LENDS: bool = false;

    /// The buffer the driver lent for the one-shot (see `LENDS`).
    fn lend(&mut self, _memory: Arc<PoolMemory>, _bid: u16) {}

    /// Takes what it wants from the queue (`give_back` frees a consumed
    /// provided buffer).
    fn take(
        &mut self,
        side: &mut RecvSide,
        give_back: &mut dyn FnMut(&Arc<PoolMemory>, u16),
    ) -> Take<Self::Output>;

    /// The one-shot op, which takes the caller's buffer.
    fn start(&mut self, fd: &SharedFd) -> Self::Op;

    /// The one-shot op's result as this receive's output.
    fn finish(out: <Self::Op as Operation>::Output) -> Self::Output;

    /// Gives up with `err`, handing back the caller's buffer (only before
    /// `start`).
    fn fail(&mut self, err: io::Error) -> Self::Output;
}

/// The future of one receive; see the module doc.
#[must_use = "an operation does nothing unless awaited"]
pub(crate) struct Receive<R: Receiver> {
    /// The socket: a user handle of it, so that it stays open (and its
    /// receive side with it) for as long as a receive waits on it.
    fd: FdHandle,
    /// The receive, holding the caller's buffer until a one-shot takes it.
    recv: R,
    /// The one-shot receive this future started, while it runs.
    op: Option<Op<R::Op>>,
    /// Give up after this long (`TimedOut`, with the buffer).
    timeout: Option<Duration>,
    /// The timer racing a wait on the queue.
    timer: Option<Sleep>,
    /// The socket was found readable (see [`Receiver::ready_first`]).
    ready: bool,
}

impl<R: Receiver> std::fmt::Debug for Receive<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receive")
            .field("fd", &self.fd)
            .field("oneshot", &self.op.is_some())
            .finish_non_exhaustive()
    }
}

impl<R: Receiver> Receive<R> {
    /// A receive of `recv`'s kind on `fd`.
    pub(crate) fn new(fd: &FdHandle, recv: R) -> Self {
        Receive {
            fd: fd.clone(),
            recv,
            op: None,
            timeout: None,
            timer: None,
            ready: false,
        }
    }

    /// Gives up after `dur` with `TimedOut` and the buffer: a one-shot in a
    /// kernel is cancelled there (a linked timeout); a wait on the queue
    /// races a timer. Bytes that arrived first are returned, never lost.
    pub(crate) fn timeout(mut self, dur: Duration) -> Self {
        self.timeout = Some(dur);
        self
    }

    /// The own one-shot finished (its future took the result): the readers
    /// waiting behind it try again.
    fn oneshot_done(&self) {
        let Some(mut side) = self.fd.source().existing() else {
            return; // an epoll receive of a socket never read on io_uring
        };
        let mut woken = Vec::new();
        side.oneshot_done(&mut woken);
        drop(side);
        woken.into_iter().for_each(std::task::Waker::wake);
    }

    /// While waiting on the queue, races the deadline.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<R::Output> {
        let Some(after) = self.timeout else {
            return Poll::Pending;
        };
        let timer = self.timer.get_or_insert_with(|| sleep(after));
        match Pin::new(timer).poll(cx) {
            Poll::Ready(()) => Poll::Ready(self.recv.fail(timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<R: Receiver> Future for Receive<R> {
    type Output = R::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<R::Output> {
        let this = self.get_mut();
        match this.poll_usual(cx) {
            Ok(polled) => polled,
            Err(rest) => this.poll_rest(rest, cx),
        }
    }
}

impl<R: Receiver> Receive<R> {
    /// The usual poll on io_uring, kept small so that it inlines: take from
    /// the queue, or wait for the receive in a kernel. What it does not
    /// finish goes to [`poll_rest`](Self::poll_rest): what the driver said,
    /// or `None` (the own one-shot runs, or the driver is epoll's, whose
    /// receives are one-shots: the whole poll is the rest). A future of a
    /// known receiver calls `poll_rest` from a function of this crate, so
    /// that the rest is compiled here, where the driver's helpers inline.
    #[inline]
    pub(crate) fn poll_usual(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Result<Poll<R::Output>, Option<Received<R::Output>>> {
        if self.op.is_some() {
            return Err(None);
        }
        if !coop::has_budget(cx) {
            return Ok(Poll::Pending);
        }
        // SAFETY: `driver` is used only within this poll.
        let Some(driver) = (unsafe { super::driver_in_call() }) else {
            return Err(None);
        };
        let mut driver = driver.borrow_mut();
        if !driver.receives_in_kernel() {
            return Err(None);
        }
        let want = self.recv.multishot();
        let recv = &mut self.recv;
        let received = driver.poll_receive(&*self.fd, want, cx, |side, give_back| {
            recv.take(side, give_back)
        });
        match received {
            Received::Took(out) => {
                coop::consume();
                Ok(Poll::Ready(out))
            }
            Received::Wait if self.timeout.is_none() => Ok(Poll::Pending),
            received => Err(Some(received)),
        }
    }

    /// The rest of a poll (see [`poll_usual`](Self::poll_usual)): from what
    /// the driver said, or from the start when `received` is `None`.
    pub(crate) fn poll_rest(
        &mut self,
        received: Option<Received<R::Output>>,
        cx: &mut Context<'_>,
    ) -> Poll<R::Output> {
        // SAFETY: `driver` is used only within this poll.
        let Some(driver) = (unsafe { super::driver_in_call() }) else {
            return Poll::Ready(self.recv.fail(no_runtime()));
        };
        let received = match received {
            Some(received) => received,
            None => {
                if let Some(op) = self.op.as_mut() {
                    let out = std::task::ready!(Pin::new(op).poll(cx));
                    self.op = None;
                    self.oneshot_done();
                    if R::again(&out) {
                        self.ready = false;
                        return self.poll_rest(None, cx);
                    }
                    return Poll::Ready(R::finish(out));
                }
                if !coop::has_budget(cx) {
                    return Poll::Pending;
                }
                let want = self.recv.multishot();
                let recv = &mut self.recv;
                driver
                    .borrow_mut()
                    .poll_receive(&*self.fd, want, cx, |side, give_back| {
                        recv.take(side, give_back)
                    })
            }
        };
        match received {
            Received::Took(out) => {
                coop::consume();
                Poll::Ready(out)
            }
            Received::Wait => self.poll_timer(cx),
            Received::Fail(e) => Poll::Ready(self.recv.fail(e)),
            Received::Start if !self.ready && self.recv.ready_first() => {
                // Not starting after all (yet): the side was told one would.
                if let Some(mut side) = self.fd.source().existing() {
                    side.unstart();
                }
                match super::poll_readable(&self.fd, R::RECEIVES_BYTES, cx) {
                    Poll::Ready(Ok(())) => {
                        self.ready = true;
                        // Take what may have been queued meanwhile, or start.
                        self.poll_rest(None, cx)
                    }
                    Poll::Ready(Err(e)) => Poll::Ready(self.recv.fail(e)),
                    Poll::Pending => self.poll_timer(cx),
                }
            }
            Received::Start => {
                if R::LENDS {
                    if let Some((memory, bid)) = driver.borrow_mut().lend() {
                        self.recv.lend(memory, bid);
                    }
                }
                let mut op = Op::new(self.recv.start(&self.fd));
                if let Some(after) = self.timeout {
                    op = op.timeout(after);
                }
                match Pin::new(&mut op).poll(cx) {
                    Poll::Ready(out) => {
                        self.oneshot_done();
                        if R::again(&out) {
                            self.ready = false;
                            return self.poll_rest(None, cx);
                        }
                        Poll::Ready(R::finish(out))
                    }
                    Poll::Pending => {
                        if let Some(key) = op.key() {
                            driver.borrow_mut().oneshot_submitted(&*self.fd, key);
                        }
                        self.op = Some(op);
                        Poll::Pending
                    }
                }
            }
        }
    }
}

/// A one-shot receive on `fd` finished after its future was dropped: its
/// result (`chunk`) joins the socket's queue, and the readers waiting behind
/// it wake. Returns whether something was adopted.
pub(crate) fn adopt(fd: &SharedFd, chunk: Option<Chunk>) -> bool {
    let adopted = chunk.is_some();
    let mut woken = Vec::new();
    fd.source().lock().adopt(chunk, &mut woken);
    woken.into_iter().for_each(std::task::Waker::wake);
    adopted
}

/// What a failed receive leaves in the queue: its error, to report once (a
/// cancel leaves nothing: nothing was received).
pub(crate) fn error_chunk(e: &io::Error) -> Option<Chunk> {
    match e.raw_os_error() {
        Some(libc::ECANCELED) => None,
        errno => Some(Chunk::Err(errno.unwrap_or(libc::EIO))),
    }
}
