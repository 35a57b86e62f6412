//! `write_all` on a stream socket: plain sends, or, from the worker's
//! zero-copy threshold up (io_uring), one zero-copy send of the rest
//! (`op/send_zc.rs`), which becomes a plain send where the socket or the
//! kernel refuses it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::buf::{BufResult, IoBuf};
use crate::net::stream_futures::{queued_before, wait_for_queued};
use crate::net::Write;
use crate::op::{send_zc, Op, SendZc};
use crate::sys::SharedFd;

/// Sends until every initialised byte of `buf` is out. The future holds its
/// own handle to the socket, so it borrows nothing; a zero-copy send
/// resolves (with `buf`) only once the kernel let go of `buf`.
pub(crate) fn write_all<B: IoBuf>(fd: &SharedFd, buf: B) -> impl Future<Output = BufResult<(), B>> {
    let fd = fd.clone();
    // The closure runs inside a poll, on the worker whose driver decides.
    async move { crate::io::write_all_with(buf, |rest| Chunk::new(&fd, rest)).await }
}

/// One send of a `write_all`: of what is left of its buffer.
enum Chunk<B: IoBuf> {
    /// A plain `send`, which copies the bytes into the kernel.
    Copy(Write<B>),
    /// A zero-copy send, resolving after the kernel's notification.
    ZeroCopy {
        /// The send.
        op: Op<SendZc<B>>,
        /// The socket, for a plain send if this one is refused.
        fd: SharedFd,
        /// The socket, while queued writes made before must go out first.
        after: Option<SharedFd>,
    },
}

impl<B: IoBuf> Chunk<B> {
    /// A send of `buf` on `fd`, zero-copy if this worker sends one so large
    /// that way.
    fn new(fd: &SharedFd, buf: B) -> Self {
        if !send_zc::zerocopy_for(fd, buf.bytes_init()) {
            return Chunk::Copy(Write::new(fd, buf));
        }
        Chunk::ZeroCopy {
            op: Op::send_zc(fd, buf),
            fd: fd.clone(),
            after: queued_before(fd),
        }
    }
}

impl<B: IoBuf> Future for Chunk<B> {
    type Output = BufResult<usize, B>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            let (op, fd, after) = match this {
                Chunk::Copy(write) => return Pin::new(write).poll(cx),
                Chunk::ZeroCopy { op, fd, after } => (op, fd, after),
            };
            std::task::ready!(wait_for_queued(after, cx));
            match std::task::ready!(Pin::new(op).poll(cx)) {
                (Err(e), buf) if send_zc::copy_instead(&e) => {
                    *this = Chunk::Copy(Write::new(fd, buf));
                }
                done => return Poll::Ready(done),
            }
        }
    }
}
