//! `UnixStream`: a connected Unix-domain stream socket with owned-buffer
//! reads and writes.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;

use super::split::{OwnedReadHalf, OwnedWriteHalf};
use crate::net::stream_core::{AsStreamCore, StreamCore};
use crate::op::Op;
use crate::sys::{socket, unix_to_sock_addr, SharedFd};

/// A connected Unix-domain stream socket.
///
/// The same owned-buffer interface as [`TcpStream`](crate::net::TcpStream):
/// every I/O method takes `&self` and a buffer by value, and resolves to the
/// result together with the buffer. [`into_split`](UnixStream::into_split)
/// gives owned halves for two tasks.
///
/// Addresses are [`std::os::unix::net::SocketAddr`]: a path, a name in
/// Linux's abstract namespace, or unnamed (a client that did not bind, and
/// both ends of a [`pair`](UnixStream::pair)).
///
/// ```no_run
/// use runtime::net::UnixStream;
///
/// # async fn f() -> std::io::Result<()> {
/// let stream = UnixStream::connect("/run/my-service.sock").await?;
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
/// Sends always pass `MSG_NOSIGNAL`: a peer that went away yields `EPIPE`,
/// never `SIGPIPE`.
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
pub struct UnixStream {
    /// The socket, shared with the ops in flight on it.
    core: StreamCore,
}

impl UnixStream {
    /// Wraps a connected socket.
    pub(crate) fn from_shared(fd: SharedFd) -> Self {
        UnixStream::from_core(StreamCore::new(fd))
    }

    /// Wraps a stream core (a reunited split).
    pub(crate) fn from_core(core: StreamCore) -> Self {
        UnixStream { core }
    }

    /// Connects to the socket listening at the filesystem path `path`.
    ///
    /// # Errors
    ///
    /// `NotFound` if nothing is at the path, `ConnectionRefused` if nothing
    /// listens there (a stale socket file), `InvalidInput` for a path that is
    /// too long (107 bytes) or contains a NUL byte.
    pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        UnixStream::connect_addr(&SocketAddr::from_pathname(path)?).await
    }

    /// Connects to `addr`: a pathname or an abstract address.
    ///
    /// ```no_run
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// # async fn f() -> std::io::Result<()> {
    /// let addr = SocketAddr::from_abstract_name(b"my-service")?;
    /// let stream = runtime::net::UnixStream::connect_addr(&addr).await?;
    /// # let _ = stream;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn connect_addr(addr: &SocketAddr) -> io::Result<UnixStream> {
        let addr = unix_to_sock_addr(addr)?;
        let fd = SharedFd::new(socket::socket(libc::AF_UNIX, libc::SOCK_STREAM)?);
        Op::connect(&fd, addr).await?;
        Ok(UnixStream::from_shared(fd))
    }

    /// Creates two streams connected to each other (`socketpair(2)`).
    ///
    /// ```
    /// # #[runtime::main] async fn main() -> std::io::Result<()> {
    /// let (a, b) = runtime::net::UnixStream::pair()?;
    /// let (res, _) = a.write_all(b"hi".to_vec()).await;
    /// res?;
    /// let (n, buf) = b.read(Vec::with_capacity(8)).await;
    /// assert_eq!((n?, &buf[..]), (2, &b"hi"[..]));
    /// # Ok(()) }
    /// ```
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std::os::unix::net::UnixStream::pair()?;
        Ok((UnixStream::from_std(a)?, UnixStream::from_std(b)?))
    }

    /// Adopts a connected `std::os::unix::net::UnixStream` (blocking or not).
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> io::Result<UnixStream> {
        let fd = OwnedFd::from(stream);
        socket::set_blocking(fd.as_fd())?;
        Ok(UnixStream::from_shared(SharedFd::new(fd)))
    }

    /// Hands the socket back as a `std::os::unix::net::UnixStream`; its
    /// blocking mode is unspecified. If an operation still holds the socket,
    /// the descriptor is duplicated.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixStream> {
        crate::net::into_owned_fd(self.core.into_fd()).map(std::os::unix::net::UnixStream::from)
    }

    // The I/O methods and docs shared with `TcpStream`, with Unix's own lines.
    crate::net::stream_methods::stream_methods! {
        read: [
            /// `.timeout(d)` on the returned future bounds the wait and still
            /// returns the buffer.
        ],
        readable: [],
        write: [],
        write_all: [
            /// # Errors
            ///
            /// The first failing write's error (`BrokenPipe` if the peer went away);
            /// `WriteZero` if a write makes no progress. Some bytes may have been sent.
        ],
        write_all_cancel: [],
        send_file: [
            /// Sends `len` bytes of `file`, starting at `offset`, without copying
            /// them through user space; resolves to the number of bytes sent (fewer
            /// only if the file ends first). The same as
            /// [`TcpStream::send_file`](crate::net::TcpStream::send_file), which
            /// describes the errors and how each driver does it.
        ],
        readv: [
            /// Reads into `bufs` in order with one `recvmsg(2)`; resolves to the
            /// total read and the buffers.
        ],
    }

    /// The address of the peer (unnamed if the peer is not bound).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        super::split::peer_addr(&self.core)
    }

    /// The local address of this end (unnamed unless it was bound).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        super::split::local_addr(&self.core)
    }

    /// Takes the socket's pending error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        socket::take_error(self.core.fd().as_fd())
    }

    /// Splits the stream into a read half and a write half that two tasks
    /// (or two workers) can use at once. The socket closes when both are
    /// dropped; [`OwnedReadHalf::reunite`] puts them back together.
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        OwnedReadHalf::split(self.core)
    }
}

impl AsRawFd for UnixStream {
    fn as_raw_fd(&self) -> RawFd {
        self.core.fd().as_raw_fd()
    }
}

impl AsFd for UnixStream {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.core.fd().as_fd()
    }
}

impl IntoRawFd for UnixStream {
    /// The descriptor, now owned by the caller.
    ///
    /// # Panics
    ///
    /// Only if an operation still holds the socket and duplicating the
    /// descriptor fails (the process is out of descriptors);
    /// [`into_std`](UnixStream::into_std) reports that as an error instead.
    fn into_raw_fd(self) -> RawFd {
        match self.into_std() {
            Ok(s) => s.into_raw_fd(),
            Err(e) => panic!("UnixStream::into_raw_fd: cannot take the descriptor: {e}"),
        }
    }
}

impl TryFrom<std::os::unix::net::UnixStream> for UnixStream {
    type Error = io::Error;

    /// See [`UnixStream::from_std`].
    fn try_from(stream: std::os::unix::net::UnixStream) -> io::Result<Self> {
        UnixStream::from_std(stream)
    }
}

impl AsStreamCore for UnixStream {
    fn stream_core(&self) -> &StreamCore {
        &self.core
    }
}
