//! `send(2)` of bytes a poll-based write copied (`driver/send_queue.rs`): the
//! kernel's send on io_uring for the tokio, futures and hyper bridges. Its
//! future is dropped at once; the completion, reaped on the worker, starts
//! the socket's next queued send and wakes the writers waiting for room.

use std::io;
use std::task::{Context, Poll};

use io_uring::{opcode, squeue, types::Fd};

use super::{io_len, Attempt, Operation, SharedFd};
use crate::context;
use crate::driver::send_queue::LIMIT;
use crate::driver::Descriptor as _;

/// One send of copied bytes, whole (`MSG_WAITALL`: the kernel retries a
/// short stream send itself).
#[derive(Debug)]
pub(crate) struct SendQueued {
    /// Keeps the socket open until the kernel lets go; holds the queue.
    fd: SharedFd,
    /// The bytes, owned by the op until the kernel is done with them.
    buf: Vec<u8>,
}

// SAFETY: the entry points only into `buf`'s heap memory, which stays put
// wherever the op moves (so it may run in place).
unsafe impl Operation for SendQueued {
    type Output = io::Result<u32>;

    const IN_PLACE: bool = true;

    /// Bytes a writer was told are written go out even when nobody waits.
    const CANCEL_ON_DROP: bool = false;

    fn uring_entry(&mut self) -> squeue::Entry {
        let len = io_len(self.buf.len());
        opcode::Send::new(Fd(self.fd.raw()), self.buf.as_ptr(), len)
            .flags(libc::MSG_NOSIGNAL | libc::MSG_WAITALL)
            .build()
    }

    /// Only io_uring queues sends (epoll writes on readiness, in the call).
    fn epoll_attempt(&mut self) -> Attempt {
        Attempt::Done(Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "runtime: a queued send on the epoll driver",
        )))
    }

    fn complete(self, res: io::Result<u32>) -> io::Result<u32> {
        res
    }

    /// The send finished: the next one starts, waiters wake.
    fn orphaned(self, res: io::Result<u32>) -> bool {
        let unsent = match &res {
            Ok(n) => &self.buf[(*n as usize).min(self.buf.len())..],
            Err(_) => &[][..],
        };
        let mut woken = Vec::new();
        let next = self
            .fd
            .source()
            .lock()
            .sends()
            .sent(res, unsent, &mut woken);
        if let Some(bytes) = next {
            submit(&self.fd, bytes);
        }
        woken.into_iter().for_each(std::task::Waker::wake);
        false
    }
}

/// Hands `bytes` to the kernel in a send of their own, whose completion
/// nobody awaits. Outside a worker (or while its driver is busy, at
/// shutdown) the bytes cannot go out: the queue reports that.
fn submit(fd: &SharedFd, bytes: Vec<u8>) {
    let op = SendQueued {
        fd: fd.clone(),
        buf: bytes,
    };
    let sent = context::with_current(|worker| match worker.driver.try_borrow_mut() {
        Ok(mut driver) => driver.submit_detached(op).is_ok(),
        Err(_) => false,
    });
    if sent != Some(true) {
        let mut side = fd.source().lock();
        let q = side.sends();
        q.busy = false;
        q.pending = Vec::new();
        q.error = Some(io::Error::other(
            "runtime: a queued send was dropped: its worker is gone",
        ));
        let woken = std::mem::take(&mut q.waiters);
        drop(side);
        woken.into_iter().for_each(std::task::Waker::wake);
    }
}

/// io_uring `poll_write`: copies what fits of `buf` into the socket's
/// queue, sending it at once if no send runs.
pub(crate) fn poll_write(
    fd: &SharedFd,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    let mut side = fd.source().lock();
    let q = side.sends();
    if let Some(e) = q.error.take() {
        return Poll::Ready(Err(e));
    }
    if !q.busy {
        q.busy = true;
        drop(side);
        submit(fd, buf.to_vec());
        return Poll::Ready(Ok(buf.len()));
    }
    let room = LIMIT.saturating_sub(q.pending.len());
    if room == 0 {
        q.wait(cx.waker());
        return Poll::Pending;
    }
    let n = room.min(buf.len());
    q.pending.extend_from_slice(&buf[..n]);
    Poll::Ready(Ok(n))
}

/// io_uring `poll_flush`: ready once every written byte is in a send the
/// kernel has (or the error of one that failed).
pub(crate) fn poll_flush(fd: &SharedFd, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    let mut side = fd.source().lock();
    let q = side.sends();
    if let Some(e) = q.error.take() {
        return Poll::Ready(Err(e));
    }
    if q.pending.is_empty() {
        return Poll::Ready(Ok(()));
    }
    q.wait(cx.waker());
    Poll::Pending
}

/// io_uring: ready once every send has completed (before a shutdown, or
/// the error of one that failed).
pub(crate) fn poll_drained(fd: &SharedFd, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    let mut side = fd.source().lock();
    let q = side.sends();
    if let Some(e) = q.error.take() {
        return Poll::Ready(Err(e));
    }
    if !q.busy {
        return Poll::Ready(Ok(()));
    }
    q.wait(cx.waker());
    Poll::Pending
}
