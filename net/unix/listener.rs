//! `UnixListener`: accepting Unix-domain stream connections, one at a time
//! (`Accept`) or as a stream (`Incoming`), as `TcpListener` does: on
//! io_uring a multishot accept fills the listener's queue, on epoll an
//! `accept4(2)` follows readiness, and a dropped accept loses nothing.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;

use super::UnixStream;
use crate::net::incoming::Accepting;
use crate::op::{AcceptConn, Receive};
use crate::sys::{socket, unix_from_sock_addr, FdHandle, SharedFd};

/// A Unix-domain socket listening for stream connections.
///
/// Bind it to a filesystem path ([`bind`](UnixListener::bind)) or to a name
/// in Linux's abstract namespace ([`bind_addr`](UnixListener::bind_addr)),
/// which needs no file and vanishes with the socket. Dropping a listener
/// bound to a path leaves the file behind, as std does; remove it before
/// binding the path again.
///
/// ```no_run
/// use runtime::net::UnixListener;
///
/// #[runtime::main]
/// async fn main() -> std::io::Result<()> {
///     let _ = std::fs::remove_file("/tmp/echo.sock");
///     let listener = UnixListener::bind("/tmp/echo.sock")?;
///     loop {
///         let (stream, _peer) = listener.accept().await?;
///         runtime::spawn(async move {
///             let (n, buf) = stream.read(Vec::with_capacity(4096)).await;
///             if n.is_ok() {
///                 let _ = stream.write_all(buf).await;
///             }
///         });
///     }
/// }
/// ```
#[derive(Debug)]
pub struct UnixListener {
    /// The listening socket, shared with the accepts in flight on it.
    fd: FdHandle,
}

impl UnixListener {
    /// Binds to the filesystem path `path` and starts listening (backlog 128,
    /// as std).
    ///
    /// # Errors
    ///
    /// `AddrInUse` if the path exists (even as a stale socket file),
    /// `InvalidInput` for a path that is too long (107 bytes) or contains a
    /// NUL byte.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        UnixListener::from_std(std::os::unix::net::UnixListener::bind(path)?)
    }

    /// Binds to `addr` (a pathname or an abstract address) and starts listening.
    ///
    /// ```no_run
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// # fn f() -> std::io::Result<()> {
    /// let addr = SocketAddr::from_abstract_name(b"my-service")?;
    /// let listener = runtime::net::UnixListener::bind_addr(&addr)?;
    /// # let _ = listener;
    /// # Ok(())
    /// # }
    /// ```
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixListener> {
        UnixListener::from_std(std::os::unix::net::UnixListener::bind_addr(addr)?)
    }

    /// Adopts a listening `std::os::unix::net::UnixListener` (blocking or not).
    pub fn from_std(listener: std::os::unix::net::UnixListener) -> io::Result<UnixListener> {
        let fd = OwnedFd::from(listener);
        socket::set_blocking(fd.as_fd())?;
        Ok(UnixListener {
            fd: FdHandle::new(SharedFd::new(fd)),
        })
    }

    /// Hands the socket back as a `std::os::unix::net::UnixListener`; its
    /// blocking mode is unspecified. If the kernel still holds the socket
    /// for an accept (io_uring's multishot accept, whose cancel completes
    /// later), the descriptor is duplicated.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixListener> {
        crate::net::into_owned_fd(self.fd.into_shared()).map(std::os::unix::net::UnixListener::from)
    }

    /// Accepts one connection; resolves to the stream and the peer's address
    /// (unnamed unless the client bound its socket).
    ///
    /// `.timeout(d)` on the returned future gives up after `d` with an error
    /// of kind `TimedOut`. On io_uring the kernel accepts into the
    /// listener's queue, as for [`TcpListener::accept`](crate::net::TcpListener::accept).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a connection is taken from the listener only by the poll that returns
    /// it, so a dropped accept (a `select!` another branch won, a timeout) leaves every
    /// connection, in order, for the next call.
    pub fn accept(&self) -> Accept {
        Accept {
            op: Receive::new(&self.fd, AcceptConn::default()),
        }
    }

    /// A stream of incoming connections (a `futures_core::Stream`) that
    /// never ends.
    ///
    /// On io_uring each item comes from the listener's queue, which its
    /// multishot accept keeps filling from a single submission; on epoll
    /// each item is one `accept4(2)`. After an error that would likely
    /// repeat at once (out of descriptors or memory) it pauses before
    /// accepting again, 1 ms at first and doubling up to 100 ms, as [`TcpListener::incoming`](crate::net::TcpListener::incoming) does.
    ///
    /// # Cancel safety
    ///
    /// Each `next()` is cancel safe, like `accept`; dropping the stream itself loses no
    /// connection either.
    pub fn incoming(&self) -> Incoming {
        Incoming {
            inner: Accepting::new(&self.fd, AcceptConn::default(), UnixStream::from_shared),
        }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        unix_from_sock_addr(&socket::local_addr(self.fd.as_fd())?)
    }

    /// Takes the socket's pending error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        socket::take_error(self.fd.as_fd())
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for UnixListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl TryFrom<std::os::unix::net::UnixListener> for UnixListener {
    type Error = io::Error;

    /// See [`UnixListener::from_std`].
    fn try_from(listener: std::os::unix::net::UnixListener) -> io::Result<Self> {
        UnixListener::from_std(listener)
    }
}

// `Accept` and `Incoming`, from the one definition they share with
// `tcp::Accept` and `tcp::Incoming`.
crate::net::incoming::listener_futures! {
    listener: UnixListener,
    stream: UnixStream,
    addr: SocketAddr,
    peer: |peer| unix_from_sock_addr(&peer)
}
