//! Named futures of stream-socket operations, each with a `.timeout(dur)`.
//!
//! A plain `time::timeout(d, stream.read(buf))` is safe (a dropped read
//! loses no byte: what the kernel received waits in the socket's queue) but
//! loses the buffer when the deadline wins: the future is dropped with it.
//! `.timeout(d)` instead gives up at the deadline itself and completes with
//! the buffer and an error of kind `TimedOut`. Bytes that arrived before the
//! deadline are reported as a normal result, never dropped.
//!
//! How the deadline is kept: a read mostly waits on the socket's queue (an
//! io_uring multishot receive, or epoll readiness), which a timer races;
//! only a one-shot receive into the caller's buffer (when the worker's
//! provided buffers run out) is bounded in the kernel by a linked timeout.
//! A write is a `send`/`sendmsg` op: a linked timeout on io_uring, a timer
//! racing readiness on epoll.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::buf::{RecvBuf, Slice};
use crate::op;
use crate::op::{send_queued, Op, Receive, StreamRead, StreamReadv, StreamRecvBuf};
use crate::sys::{FdHandle, SharedFd};

/// The future of a socket read ([`TcpStream::read`](crate::net::TcpStream::read),
/// `peek`, and the read half's): resolves to the byte count and the buffer.
#[must_use = "an operation does nothing unless awaited"]
#[derive(Debug)]
pub struct Read<B: IoBufMut> {
    /// The receive: from the socket's queue, or a `recv` of its own.
    op: Receive<StreamRead<B>>,
}

impl<B: IoBufMut> Read<B> {
    /// A read (`peek`: a peek, which leaves the bytes for the next read).
    pub(crate) fn new(fd: &FdHandle, buf: B, peek: bool) -> Self {
        Read {
            op: Receive::new(fd, StreamRead::new(buf, peek)),
        }
    }

    /// Gives up after `dur`: the read resolves to an error of kind
    /// `TimedOut`, with the buffer; nothing received is lost (bytes that
    /// arrive later wait for the next read).
    ///
    /// ```no_run
    /// # async fn f(stream: runtime::net::TcpStream) {
    /// use std::time::Duration;
    /// let (res, buf) = stream.read(vec![0u8; 1024]).timeout(Duration::from_secs(5)).await;
    /// match res {
    ///     Ok(n) => println!("{:?}", &buf[..n]),
    ///     Err(e) if e.kind() == std::io::ErrorKind::TimedOut => println!("idle peer"),
    ///     Err(e) => println!("error: {e}"),
    /// }
    /// # }
    /// ```
    pub fn timeout(self, dur: Duration) -> Self {
        Read {
            op: self.op.timeout(dur),
        }
    }
}

impl<B: IoBufMut> Future for Read<B> {
    type Output = BufResult<usize, B>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.get_mut().op).poll(cx)
    }
}

/// The future of a zero-copy stream read
/// ([`TcpStream::recv_buf`](crate::net::TcpStream::recv_buf)): resolves to
/// the next bytes received, as a [`RecvBuf`] (empty at end of stream).
#[must_use = "an operation does nothing unless awaited"]
#[derive(Debug)]
pub struct RecvBufFuture {
    /// The receive: a chunk of the socket's queue, or a `recv` of its own.
    op: Receive<StreamRecvBuf>,
}

/// What a zero-copy read receives into when it must receive itself (no
/// provided buffer free): the size of a provided buffer by default.
const RECV_BUF_FALLBACK: usize = 16 * 1024;

impl RecvBufFuture {
    /// A zero-copy read of `fd`.
    #[inline]
    pub(crate) fn new(fd: &FdHandle) -> Self {
        RecvBufFuture {
            op: Receive::new(fd, StreamRecvBuf::new(RECV_BUF_FALLBACK)),
        }
    }

    /// Gives up after `dur` with an error of kind `TimedOut`; nothing
    /// received is lost (it waits for the next read).
    pub fn timeout(self, dur: Duration) -> Self {
        RecvBufFuture {
            op: self.op.timeout(dur),
        }
    }
}

impl Future for RecvBufFuture {
    type Output = io::Result<RecvBuf>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let op = &mut self.get_mut().op;
        match op.poll_usual(cx) {
            Ok(polled) => polled,
            Err(rest) => recv_buf_rest(op, rest, cx),
        }
    }
}

/// The rest of a `recv_buf` poll, compiled in this crate (see
/// `Receive::poll_usual`).
fn recv_buf_rest(
    op: &mut Receive<StreamRecvBuf>,
    rest: Option<crate::driver::Received<io::Result<RecvBuf>>>,
    cx: &mut Context<'_>,
) -> Poll<io::Result<RecvBuf>> {
    op.poll_rest(rest, cx)
}

/// The future of a socket write ([`TcpStream::write`](crate::net::TcpStream::write)
/// and the write half's): resolves to the byte count and the buffer.
#[must_use = "an operation does nothing unless awaited"]
#[derive(Debug)]
pub struct Write<B: IoBuf> {
    /// The `send` operation (with `MSG_NOSIGNAL`).
    op: Op<op::Send<B>>,
    /// The socket, while queued writes made before must go out first.
    after: Option<SharedFd>,
}

impl<B: IoBuf> Write<B> {
    /// A `send(2)` of `buf`.
    pub(crate) fn new(fd: &SharedFd, buf: B) -> Self {
        Write {
            op: Op::send_stream(fd, buf, 0),
            after: queued_before(fd),
        }
    }

    /// Gives up after `dur`: the kernel cancels the write and it resolves to
    /// an error of kind `TimedOut`, with the buffer.
    pub fn timeout(self, dur: Duration) -> Self {
        Write {
            op: self.op.timeout(dur),
            after: self.after,
        }
    }
}

impl<B: IoBuf> Future for Write<B> {
    type Output = BufResult<usize, B>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        std::task::ready!(wait_for_queued(&mut this.after, cx));
        Pin::new(&mut this.op).poll(cx)
    }
}

/// The socket, if queued writes run on it when a direct write is made: the
/// write then waits for them, so that its bytes go out after theirs.
pub(super) fn queued_before(fd: &SharedFd) -> Option<SharedFd> {
    use crate::driver::Descriptor as _;
    fd.source().queued().then(|| fd.clone())
}

/// Waits (once) until the queued writes a direct write must follow are done.
pub(super) fn wait_for_queued(after: &mut Option<SharedFd>, cx: &mut Context<'_>) -> Poll<()> {
    if let Some(fd) = after {
        std::task::ready!(send_queued::poll_idle(fd, cx));
        *after = None;
    }
    Poll::Ready(())
}

/// The future of a vectored socket read
/// ([`TcpStream::readv`](crate::net::TcpStream::readv)).
#[must_use = "an operation does nothing unless awaited"]
#[derive(Debug)]
pub struct Readv<B: IoBufMut> {
    /// The receive: from the socket's queue, or a `recvmsg` of its own.
    op: Receive<StreamReadv<B>>,
}

impl<B: IoBufMut> Readv<B> {
    /// A scattered read into `bufs`.
    pub(crate) fn new(fd: &FdHandle, bufs: Vec<B>) -> Self {
        Readv {
            op: Receive::new(fd, StreamReadv::new(bufs)),
        }
    }

    /// Gives up after `dur`, with the buffers and an error of kind `TimedOut`.
    pub fn timeout(self, dur: Duration) -> Self {
        Readv {
            op: self.op.timeout(dur),
        }
    }
}

impl<B: IoBufMut> Future for Readv<B> {
    type Output = BufResult<usize, Vec<B>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.get_mut().op).poll(cx)
    }
}

/// The future of a vectored socket write
/// ([`TcpStream::writev`](crate::net::TcpStream::writev)).
#[must_use = "an operation does nothing unless awaited"]
#[derive(Debug)]
pub struct Writev<B: IoBuf> {
    /// The `sendmsg` operation (with `MSG_NOSIGNAL`).
    op: Op<op::SendMsg<B>>,
    /// The socket, while queued writes made before must go out first.
    after: Option<SharedFd>,
}

impl<B: IoBuf> Writev<B> {
    /// A `sendmsg(2)` of `bufs`.
    pub(crate) fn new(fd: &SharedFd, bufs: Vec<B>) -> Self {
        Writev {
            op: Op::send_msg(fd, bufs, None, 0),
            after: queued_before(fd),
        }
    }

    /// Gives up after `dur`, with the buffers and an error of kind `TimedOut`.
    pub fn timeout(self, dur: Duration) -> Self {
        Writev {
            op: self.op.timeout(dur),
            after: self.after,
        }
    }
}

impl<B: IoBuf> Future for Writev<B> {
    type Output = BufResult<usize, Vec<B>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        std::task::ready!(wait_for_queued(&mut this.after, cx));
        Pin::new(&mut this.op).poll(cx)
    }
}

/// The future of [`TcpStream::write_queued`](crate::net::TcpStream::write_queued)
/// (and the other streams'): resolves once the buffer is queued, to the
/// error of an earlier queued write if one failed.
#[must_use = "an operation does nothing unless awaited"]
pub struct WriteQueued<B: IoBuf + Send> {
    /// The socket.
    fd: SharedFd,
    /// The buffer, until queued.
    buf: Option<B>,
    /// The buffer as the queue takes it, while waiting for room (io_uring).
    queued: Option<crate::driver::send_queue::Queued>,
    /// Where the driver does not queue sends (epoll): the write of the
    /// rest, from `sent` on.
    direct: Option<Write<Slice<B>>>,
    /// Bytes written so far by `direct` writes.
    sent: usize,
}

impl<B: IoBuf + Send> std::fmt::Debug for WriteQueued<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteQueued")
            .field("fd", &self.fd)
            .field("queued", &self.buf.is_none())
            .finish()
    }
}

impl<B: IoBuf + Send> WriteQueued<B> {
    /// Queues `buf` on `fd`.
    #[inline]
    pub(crate) fn new(fd: &SharedFd, buf: B) -> Self {
        WriteQueued {
            fd: fd.clone(),
            buf: Some(buf),
            queued: None,
            direct: None,
            sent: 0,
        }
    }
}

impl<B: IoBuf + Send> Future for WriteQueued<B> {
    type Output = io::Result<()>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        if this.direct.is_none() {
            let polled =
                send_queued::poll_write_owned(&this.fd, cx, &mut this.buf, &mut this.queued);
            if let Some(polled) = polled {
                return polled;
            }
        }
        // epoll: write it all now, as `write_all` does, the buffer kept here.
        loop {
            if this.direct.is_none() {
                let Some(buf) = this.buf.take() else {
                    return Poll::Ready(Ok(()));
                };
                if this.sent >= buf.bytes_init() {
                    return Poll::Ready(Ok(()));
                }
                let rest = buf.slice(this.sent..);
                this.direct = Some(Write::new(&this.fd, rest));
            }
            let Some(direct) = this.direct.as_mut() else {
                unreachable!("set above")
            };
            let (res, slice) = std::task::ready!(Pin::new(direct).poll(cx));
            this.direct = None;
            this.buf = Some(slice.into_inner());
            match res {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(n) => this.sent += n,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }
}

/// Waits until every write queued on `fd` went out.
pub(crate) fn flush_queued(fd: &SharedFd) -> impl Future<Output = io::Result<()>> + 'static {
    let fd = fd.clone();
    std::future::poll_fn(move |cx| send_queued::poll_drained(&fd, cx))
}

/// Waits until `fd` has bytes to read, end of stream or an error to report.
pub(crate) fn readable(fd: &SharedFd) -> impl Future<Output = io::Result<()>> + 'static {
    let fd = fd.clone();
    std::future::poll_fn(move |cx| op::poll_readable(&fd, true, cx))
}
