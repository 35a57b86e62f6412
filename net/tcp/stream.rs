//! `TcpStream`: a connected TCP socket with owned-buffer reads and writes.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::socket::{self as opts, TcpSocket};
use super::split::{OwnedReadHalf, OwnedWriteHalf};
use crate::net::stream_core::{AsStreamCore, StreamCore};
use crate::net::{addr, ToSocketAddrs};
use crate::sys::{socket, SharedFd};

/// A connected TCP socket.
///
/// Every I/O method takes `&self` and an owned buffer, and its future
/// resolves to the result together with the buffer (a
/// [`BufResult`](crate::buf::BufResult)): with io_uring the kernel fills or
/// drains the buffer after the call returns. The futures do not borrow the
/// stream, so several reads and writes may be in flight at once (one read
/// and one write at a time is what keeps the byte order meaningful).
/// [`into_split`](TcpStream::into_split) gives owned halves for two tasks.
///
/// `TcpStream` is `Send + Sync`; the futures are `!Send`, since an operation
/// belongs to the worker that submitted it. Dropping the stream closes the
/// socket once no operation uses it any more, never while the kernel still
/// holds one.
///
/// ```no_run
/// use runtime::net::TcpStream;
///
/// # async fn f() -> std::io::Result<()> {
/// let stream = TcpStream::connect("127.0.0.1:7000").await?;
/// let (res, _) = stream.write_all(b"ping\n".to_vec()).await;
/// res?;
/// let (n, buf) = stream.read(Vec::with_capacity(64)).await;
/// println!("got {} bytes: {:?}", n?, buf);
/// # Ok(())
/// # }
/// ```
///
/// # Drivers
///
/// On io_uring the kernel performs each `recv`/`send`/`connect` itself; on
/// epoll they are non-blocking syscalls retried when the socket is ready.
/// Sends always pass `MSG_NOSIGNAL`: a peer that went away yields `EPIPE` or
/// `ECONNRESET`, never `SIGPIPE`.
///
/// # Poll-based I/O
///
/// With the `tokio-io`, `futures-io` or `hyper` feature, the stream, its
/// halves and `&` of each also implement that ecosystem's `AsyncRead`/
/// `AsyncWrite` (hyper's `rt::Read`/`rt::Write`), with no copy and
/// cancel-safe reads: see [`io::compat`](crate::io::compat) and the
/// [guide](crate::guide). Its own `read`/`write`/`write_all`/`shutdown` win
/// method lookup; name the trait to call tokio's (`AsyncWriteExt::write_all(&mut s, ..)`).
#[derive(Debug)]
pub struct TcpStream {
    /// The socket, shared with the ops in flight on it.
    core: StreamCore,
}

impl TcpStream {
    /// Wraps a connected socket.
    pub(crate) fn from_shared(fd: SharedFd) -> Self {
        TcpStream::from_core(StreamCore::new(fd))
    }

    /// Wraps a stream core (a reunited split).
    pub(crate) fn from_core(core: StreamCore) -> Self {
        TcpStream { core }
    }

    /// Opens a connection to `addr`, trying each address it resolves to in
    /// turn. Host names are resolved on the blocking pool.
    ///
    /// # Errors
    ///
    /// The last address's error (`ConnectionRefused`, say) if none accepts.
    ///
    /// ```no_run
    /// # async fn f() -> std::io::Result<()> {
    /// let stream = runtime::net::TcpStream::connect("localhost:7000").await?;
    /// println!("connected to {}", stream.peer_addr()?);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect<A: ToSocketAddrs>(addr: A) -> io::Result<TcpStream> {
        let mut last = None;
        for addr in addr::resolve(&addr).await? {
            let attempt = match TcpSocket::for_addr(&addr) {
                Ok(socket) => socket.connect(addr).await,
                Err(e) => Err(e),
            };
            match attempt {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::InvalidInput)))
    }

    /// Opens a connection to `addr`, giving up after `timeout` with an error
    /// of kind `TimedOut` (the kernel cancels the connect).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// # async fn f() -> std::io::Result<()> {
    /// let addr = "192.0.2.1:80".parse().unwrap(); // nobody answers there
    /// let res = runtime::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).await;
    /// assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    /// # Ok(())
    /// # }
    /// ```
    pub fn connect_timeout(
        addr: &SocketAddr,
        timeout: Duration,
    ) -> impl Future<Output = io::Result<TcpStream>> {
        let addr = *addr;
        async move {
            TcpSocket::for_addr(&addr)?
                .connect(addr)
                .timeout(timeout)
                .await
        }
    }

    /// Adopts a connected `std::net::TcpStream` (blocking or not).
    ///
    /// ```no_run
    /// # async fn f() -> std::io::Result<()> {
    /// let std_stream = std::net::TcpStream::connect("127.0.0.1:7000")?;
    /// let stream = runtime::net::TcpStream::from_std(std_stream)?;
    /// # let _ = stream;
    /// # Ok(())
    /// # }
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        let fd = OwnedFd::from(stream);
        socket::set_blocking(fd.as_fd())?;
        Ok(TcpStream::from_shared(SharedFd::new(fd)))
    }

    /// Hands the socket back as a `std::net::TcpStream`; its blocking mode
    /// is unspecified, so set it as needed. If an operation still holds the
    /// socket (a dropped read the kernel has not yet let go of), the
    /// descriptor is duplicated.
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        crate::net::into_owned_fd(self.core.into_fd()).map(std::net::TcpStream::from)
    }

    // The I/O methods and docs shared with `UnixStream`, with TCP's own lines.
    crate::net::stream_methods::stream_methods! {
        read: [
            /// A `Vec::with_capacity(n)` comes back with `len()` equal to the bytes
            /// read; a `vec![0; n]` keeps its length. `.timeout(d)` on the returned
            /// future bounds the wait and still returns the buffer.
            ///
            /// ```no_run
            /// # async fn f(stream: runtime::net::TcpStream) -> std::io::Result<()> {
            /// let (n, buf) = stream.read(vec![0u8; 4096]).await;
            /// let n = n?;
            /// println!("{:?}", &buf[..n]);
            /// # Ok(())
            /// # }
            /// ```
        ],
        readable: [
            /// ```no_run
            /// # async fn f(stream: runtime::net::TcpStream) -> std::io::Result<()> {
            /// stream.readable().await?;
            /// let (n, buf) = stream.read(Vec::with_capacity(4096)).await; // ready now
            /// # let _ = (n?, buf); Ok(())
            /// # }
            /// ```
        ],
        write: [
            /// See [`write_all`](TcpStream::write_all) to send everything.
        ],
        write_all: [
            /// ```no_run
            /// use runtime::buf::IoBuf;
            /// # async fn f(stream: runtime::net::TcpStream) -> std::io::Result<()> {
            /// let (res, buf) = stream.write_all(b"hello world".to_vec().slice(6..)).await;
            /// res?; // "world" was sent
            /// let _whole = buf.into_inner();
            /// # Ok(())
            /// # }
            /// ```
            ///
            /// # Errors
            ///
            /// The first failing write's error (`BrokenPipe` or `ConnectionReset` if
            /// the peer went away); `WriteZero` if a write makes no progress. Some
            /// bytes may have been sent.
            ///
            /// # Drivers
            ///
            /// On io_uring, a buffer of at least
            /// [`Builder::send_zerocopy_threshold`](crate::Builder::send_zerocopy_threshold)
            /// bytes (off by default) goes out zero-copy (`IORING_OP_SEND_ZC`): the
            /// kernel sends from `buf` itself, and the future resolves, handing
            /// `buf` back, only once the kernel let go of it, which for TCP is when
            /// the peer acknowledged the bytes. Below it, and on epoll, the bytes
            /// are copied into the socket's buffer, as by any `send`.
        ],
        write_all_cancel: [
            /// A buffer the kernel still reads stays alive (owned by the
            /// driver) until the kernel lets go of it, then is dropped.
        ],
        send_file: [
            /// Sends `len` bytes of `file`, starting at `offset`, without copying
            /// them through user space; resolves to the number of bytes sent.
            ///
            /// Partial transfers are continued until `len` bytes are sent; fewer come
            /// back only if the file ends first (`0` if `offset` is at or past its
            /// end). `len == 0` sends nothing. The file's position is neither used nor
            /// moved, so several sends of one `File` may run at once. The future
            /// holds its own references to the socket and file, not borrows.
            ///
            /// ```no_run
            /// # async fn f(stream: runtime::net::TcpStream) -> std::io::Result<()> {
            /// let file = runtime::fs::File::open("index.html").await?;
            /// let len = file.metadata().await?.len();
            /// let sent = stream.send_file(&file, 0, len).await?;
            /// assert_eq!(sent, len); // unless the file shrank meanwhile
            /// # Ok(())
            /// # }
            /// ```
            ///
            /// # Errors
            ///
            /// `InvalidInput` if `offset` exceeds `i64::MAX`; otherwise the kernel's
            /// error: `BrokenPipe` or `ConnectionReset` if the peer went away (never a
            /// `SIGPIPE`), `EINVAL` if `file` cannot be spliced (a directory, say).
            /// After an error some bytes may have been sent.
            ///
            /// # Drivers
            ///
            /// io_uring: while the range is in the page cache (asked with
            /// `cachestat(2)`, Linux 6.5+), `sendfile(2)` on the non-blocking socket
            /// from the worker itself, which then cannot wait on the disk; a full
            /// socket is waited for with `IORING_OP_POLL_ADD`. A range that is not
            /// resident (or any range, without cachestat) goes through a pipe kept
            /// per worker: file → pipe as an `IORING_OP_SPLICE`, which the kernel runs
            /// on an io-wq thread (a slow disk blocks that thread, not the worker),
            /// then pipe → socket as a non-blocking splice from the worker. Either
            /// way a slow peer holds no thread. A body of a few KiB costs less read
            /// with [`File::read_at`](crate::fs::File::read_at) and sent with what
            /// precedes it in one [`write_all`](TcpStream::write_all).
            ///
            /// epoll: `sendfile(2)` on the non-blocking socket, retried when it
            /// becomes writable. The worker thread reads the file pages itself, so a
            /// page-cache miss waits for the disk there (as nginx does with
            /// `sendfile on` and no thread pool).
        ],
        readv: [
            /// Reads into `bufs` in order with one `recvmsg(2)`, each buffer from its
            /// start up to its capacity; resolves to the total read and the buffers.
        ],
    }

    /// `TCP_NODELAY`: send small writes at once instead of coalescing them
    /// while an acknowledgement is outstanding (Nagle's algorithm).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        opts::set_nodelay(self.core.fd().as_fd(), on)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> io::Result<bool> {
        opts::nodelay(self.core.fd().as_fd())
    }

    /// `SO_LINGER`: what closing does with unsent data. `None` (the default):
    /// the kernel sends it in the background. `Some(Duration::ZERO)`: the
    /// connection is reset at once (the peer sees `ConnectionReset`).
    ///
    /// # Blocking
    ///
    /// With a non-zero duration the final close waits in the kernel, up to
    /// that long, for the data to be acknowledged, on the thread that drops
    /// the last handle (as with std): prefer `None` or zero in a server.
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        opts::set_linger(self.core.fd().as_fd(), dur)
    }

    /// `SO_LINGER` as set, in whole seconds.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        opts::linger(self.core.fd().as_fd())
    }

    /// Takes the socket's pending error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        socket::take_error(self.core.fd().as_fd())
    }

    /// The address of the peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        super::split::peer_addr(&self.core)
    }

    /// The local address of this end.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        super::split::local_addr(&self.core)
    }

    /// Splits the stream into a read half and a write half that two tasks
    /// (or two workers) can use at once. The socket closes when both are
    /// dropped; [`OwnedReadHalf::reunite`] puts them back together.
    ///
    /// ```no_run
    /// # async fn f(stream: runtime::net::TcpStream) -> std::io::Result<()> {
    /// let (reader, writer) = stream.into_split();
    /// let echo_back = runtime::spawn(async move {
    ///     let (n, buf) = reader.read(Vec::with_capacity(1024)).await;
    ///     n.map(|_| buf)
    /// });
    /// let (res, _) = writer.write_all(b"hello".to_vec()).await;
    /// res?;
    /// # let _ = echo_back;
    /// # Ok(())
    /// # }
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        OwnedReadHalf::split(self.core)
    }
}

impl AsRawFd for TcpStream {
    fn as_raw_fd(&self) -> RawFd {
        self.core.fd().as_raw_fd()
    }
}

impl AsFd for TcpStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.core.fd().as_fd()
    }
}

impl IntoRawFd for TcpStream {
    /// The descriptor, now owned by the caller.
    ///
    /// # Panics
    ///
    /// Only if an operation still holds the socket and duplicating the
    /// descriptor fails (the process is out of descriptors);
    /// [`into_std`](TcpStream::into_std) reports that as an error instead.
    fn into_raw_fd(self) -> RawFd {
        match self.into_std() {
            Ok(s) => s.into_raw_fd(),
            Err(e) => panic!("TcpStream::into_raw_fd: cannot take the descriptor: {e}"),
        }
    }
}

impl TryFrom<std::net::TcpStream> for TcpStream {
    type Error = io::Error;

    /// See [`TcpStream::from_std`].
    fn try_from(stream: std::net::TcpStream) -> io::Result<Self> {
        TcpStream::from_std(stream)
    }
}

impl AsStreamCore for TcpStream {
    fn stream_core(&self) -> &StreamCore {
        &self.core
    }
}
