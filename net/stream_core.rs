//! The one core of every byte-stream socket (TCP and Unix streams and their
//! split halves): the owned-buffer operations and the poll-based ones the
//! ecosystem bridges use, over a shared descriptor. The public types are
//! thin, documented wrappers around it, so TCP and Unix cannot drift apart.

use std::future::Future;
use std::io;
#[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
use std::io::IoSlice;
#[cfg(any(feature = "tokio-io", feature = "hyper"))]
use std::mem::MaybeUninit;
use std::net::Shutdown;
#[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
use std::task::{Context, Poll};

use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::net::{
    stream_futures, write_all, Read, Readv, RecvBufFuture, Write, WriteQueued, Writev,
};
#[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
use crate::op::poll_io;
use crate::op::Op;
#[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
use crate::sys::stream_io;
use crate::sys::{FdHandle, SharedFd};

/// A connected stream socket, or one direction of it after a split.
#[derive(Debug)]
pub(crate) struct StreamCore {
    /// The socket: a handle of it (the last one closes its receive side),
    /// shared with the ops in flight on it (and the other half).
    fd: FdHandle,
}

impl StreamCore {
    /// Wraps a connected stream socket.
    pub(crate) fn new(fd: SharedFd) -> Self {
        StreamCore {
            fd: FdHandle::new(fd),
        }
    }

    /// The descriptor.
    pub(crate) fn fd(&self) -> &SharedFd {
        &self.fd
    }

    /// Gives the descriptor back, letting go of this handle.
    pub(crate) fn into_fd(self) -> SharedFd {
        self.fd.into_shared()
    }

    /// Two cores over the same socket: the read half's and the write half's.
    pub(crate) fn split(self) -> (StreamCore, StreamCore) {
        (
            StreamCore {
                fd: self.fd.clone(),
            },
            self,
        )
    }

    /// Whether `self` and `other` are the two halves of one socket.
    pub(crate) fn same_socket(&self, other: &StreamCore) -> bool {
        self.fd.id() == other.fd.id()
    }

    /// Reads into `buf`, from its start up to its capacity.
    pub(crate) fn read<B: IoBufMut>(&self, buf: B) -> Read<B> {
        Read::new(&self.fd, buf, false)
    }

    /// Like `read`, but the bytes stay for the next read.
    pub(crate) fn peek<B: IoBufMut>(&self, buf: B) -> Read<B> {
        Read::new(&self.fd, buf, true)
    }

    /// The next bytes received, lent without a copy.
    #[inline]
    pub(crate) fn recv_buf(&self) -> RecvBufFuture {
        RecvBufFuture::new(&self.fd)
    }

    /// Reads into `bufs` in order.
    pub(crate) fn readv<B: IoBufMut>(&self, bufs: Vec<B>) -> Readv<B> {
        Readv::new(&self.fd, bufs)
    }

    /// Ready once the socket has bytes, end of stream or an error to report.
    pub(crate) fn readable(&self) -> impl Future<Output = io::Result<()>> + 'static {
        stream_futures::readable(&self.fd)
    }

    /// `send(2)` of `buf`'s initialised bytes, maybe only some.
    pub(crate) fn write<B: IoBuf>(&self, buf: B) -> Write<B> {
        Write::new(&self.fd, buf)
    }

    /// Sends every initialised byte of `buf`.
    pub(crate) fn write_all<B: IoBuf>(&self, buf: B) -> impl Future<Output = BufResult<(), B>> {
        write_all::write_all(&self.fd, buf)
    }

    /// `sendmsg(2)` of `bufs` in order, maybe only some.
    pub(crate) fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> Writev<B> {
        Writev::new(&self.fd, bufs)
    }

    /// Queues `buf` for a send nobody waits for (io_uring; epoll writes it).
    #[inline]
    pub(crate) fn write_queued<B: IoBuf + Send>(&self, buf: B) -> WriteQueued<B> {
        WriteQueued::new(&self.fd, buf)
    }

    /// Waits until every queued write went out.
    pub(crate) fn flush_queued(&self) -> impl Future<Output = io::Result<()>> + 'static {
        stream_futures::flush_queued(&self.fd)
    }

    /// `shutdown(2)` of `how`, through the driver, after the queued writes.
    pub(crate) fn shutdown(&self, how: Shutdown) -> impl Future<Output = io::Result<()>> {
        let (queued, shutdown) = (
            stream_futures::flush_queued(&self.fd),
            Op::shutdown(&self.fd, how),
        );
        async move {
            queued.await?;
            shutdown.await
        }
    }

    /// Sends `len` bytes of `file` from `offset` without a user-space copy.
    pub(crate) fn send_file(
        &self,
        file: &crate::fs::File,
        offset: u64,
        len: u64,
    ) -> impl Future<Output = io::Result<u64>> + 'static {
        let (sock, file) = (self.fd().clone(), file.shared_fd().clone());
        async move { crate::transfer::send_file(&sock, &file, offset, len).await }
    }
}

/// The poll-based methods, for the ecosystem bridges in `runtime/io/compat/`.
#[cfg(any(feature = "tokio-io", feature = "futures-io", feature = "hyper"))]
impl StreamCore {
    /// Poll-based read into `buf` (which may be uninitialised):
    /// `Ready(Ok(n))` with the bytes at its start, `Ok(0)` at end of stream.
    /// The bytes are taken only by the poll that returns them, so a caller
    /// that stops polling loses nothing.
    #[cfg(any(feature = "tokio-io", feature = "hyper"))]
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [MaybeUninit<u8>],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        poll_io::poll_read(&self.fd, cx, buf)
    }

    /// [`poll_read`](StreamCore::poll_read) into an initialised buffer.
    #[cfg(feature = "futures-io")]
    pub(crate) fn poll_read_init(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        poll_io::poll_read_init(&self.fd, cx, buf)
    }

    /// Poll-based write: `Ready(Ok(n))` once the kernel has `n` bytes of
    /// `buf` (on io_uring, in a queued send of their own, whose error a
    /// later call reports).
    pub(crate) fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        poll_io::poll_write(&self.fd, cx, buf, || stream_io::send(self.fd.raw(), buf))
    }

    /// [`poll_write`](StreamCore::poll_write) of several buffers in order,
    /// as one gather `sendmsg(2)` on epoll, one send of their copy on io_uring.
    pub(crate) fn poll_write_vectored(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        poll_io::poll_write_vectored(&self.fd, cx, bufs, || {
            stream_io::send_vectored(self.fd.raw(), bufs)
        })
    }

    /// Ready once every written byte is the kernel's.
    pub(crate) fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        poll_io::poll_flush(&self.fd, cx)
    }

    /// Shuts the writing direction down once the bytes written before have
    /// gone out: the peer reads end of stream after them.
    pub(crate) fn poll_shutdown(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(poll_io::poll_sent(&self.fd, cx))?;
        Poll::Ready(stream_io::shutdown_write(self.fd.raw()))
    }
}

/// Gives trait impls over [`for_each_stream!`](crate::net::stream_traits::for_each_stream)
/// (here and in the ecosystem bridges) the core of a stream type or half.
pub(crate) trait AsStreamCore {
    /// The core.
    fn stream_core(&self) -> &StreamCore;
}

impl<T: AsStreamCore + ?Sized> AsStreamCore for &T {
    fn stream_core(&self) -> &StreamCore {
        (**self).stream_core()
    }
}
