//! The writes of a socket's send queue (`driver/send_queue.rs`, run by the
//! io_uring driver in `uring_send.rs`): `write_queued` of owned buffers and
//! the poll-based writes of the ecosystem bridges, and the waits for them
//! (`flush_queued`, before a shutdown or a direct write).

use std::any::Any;
use std::io;
use std::task::{Context, Poll};

use super::SharedFd;
use crate::buf::{IoBuf, RecvBuf};
use crate::driver::send_queue::{Bytes, Queued, SendQueue};
use crate::driver::Descriptor as _;

/// An owned buffer as the queue's [`Bytes`].
struct IoBufBytes<B>(B);

impl<B: IoBuf + Send> Bytes for IoBufBytes<B> {
    fn bytes(&self) -> &[u8] {
        // SAFETY: an `IoBuf`'s first `bytes_init` bytes at `stable_ptr` are
        // initialised, and stay where they are while the buffer lives unchanged.
        unsafe { std::slice::from_raw_parts(self.0.stable_ptr(), self.0.bytes_init()) }
    }
}

/// `buf` as a queue item, boxed only if it must be: a lent provided buffer
/// goes back to its ring once sent, a `Vec` is queued as it is.
#[inline]
fn to_queued<B: IoBuf + Send>(buf: B) -> Queued {
    let mut slot = Some(buf);
    let any: &mut dyn Any = &mut slot;
    if let Some(recv) = any.downcast_mut::<Option<RecvBuf>>() {
        if let Some(recv) = recv.take() {
            return recv.into_queued();
        }
    }
    if let Some(vec) = any.downcast_mut::<Option<Vec<u8>>>() {
        if let Some(vec) = vec.take() {
            return Queued::Copied(vec);
        }
    }
    match slot {
        Some(buf) => Queued::Owned(Box::new(IoBufBytes(buf))),
        None => unreachable!("taken only by a matching downcast, which returned"),
    }
}

/// io_uring `write_queued` of `buf` (taken from the slot once queued):
/// `Some` with the outcome where the driver queues sends (io_uring); `None`
/// where the caller writes it itself (epoll).
#[inline]
pub(crate) fn poll_write_owned<B: IoBuf + Send>(
    fd: &SharedFd,
    cx: &mut Context<'_>,
    buf: &mut Option<B>,
    queued: &mut Option<Queued>,
) -> Option<Poll<io::Result<()>>> {
    let polled = super::with_driver(|driver| {
        if !driver.receives_in_kernel() {
            return None;
        }
        if queued.is_none() {
            *queued = buf.take().map(to_queued);
        }
        driver.queue_send(fd, queued, cx)
    });
    match polled {
        Some(polled) => polled,
        None => Some(Poll::Ready(Err(super::op_future::no_runtime()))),
    }
}

/// io_uring `poll_write`: copies what fits of `buf` into the socket's
/// queue, sending it at once if no send runs. `None` on epoll (the caller
/// writes on readiness).
pub(crate) fn poll_write(
    fd: &SharedFd,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Option<Poll<io::Result<usize>>> {
    let polled = super::with_driver(|driver| driver.queue_copy(fd, buf, cx));
    match polled {
        Some(polled) => polled,
        None => Some(Poll::Ready(Err(super::op_future::no_runtime()))),
    }
}

/// Ready once every written byte is in a send the kernel has (or with the
/// error of one that failed).
pub(crate) fn poll_flush(fd: &SharedFd, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    poll_sends(fd, cx, SendQueue::is_empty)
}

/// Ready once no queued send runs, leaving a failed one's error for the
/// queue's next caller: a direct write waits for this, so that it goes out
/// after the bytes queued before it.
pub(crate) fn poll_idle(fd: &SharedFd, cx: &mut Context<'_>) -> Poll<()> {
    let source = fd.source();
    if !source.queued() {
        return Poll::Ready(());
    }
    let mut side = source.lock();
    let q = side.sends();
    if !q.busy() {
        return Poll::Ready(());
    }
    q.wait(cx.waker());
    Poll::Pending
}

/// Ready once every queued send has completed (before a shutdown, or the
/// return of `flush_queued`), or with the error of one that failed.
pub(crate) fn poll_drained(fd: &SharedFd, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    poll_sends(fd, cx, |q| !q.busy())
}

/// `poll_flush` and `poll_drained`: ready once `done` says so of the
/// socket's send queue, or with the error of a send that failed (taken, so
/// it is reported once).
#[inline]
fn poll_sends(
    fd: &SharedFd,
    cx: &mut Context<'_>,
    done: impl FnOnce(&SendQueue) -> bool,
) -> Poll<io::Result<()>> {
    let source = fd.source();
    if !source.queued() {
        return Poll::Ready(Ok(()));
    }
    let mut side = source.lock();
    let q = side.sends();
    if let Some(e) = q.error.take() {
        source.side_box().set_queued(q.busy());
        return Poll::Ready(Err(e));
    }
    if done(q) {
        return Poll::Ready(Ok(()));
    }
    q.wait(cx.waker());
    Poll::Pending
}
