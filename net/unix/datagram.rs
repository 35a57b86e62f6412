//! `UnixDatagram`: message-boundary-preserving local sockets (`SOCK_DGRAM`),
//! at pathname or abstract addresses, or unnamed.

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::SocketAddr;
use std::path::Path;

use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::op::{DatagramRecv, Op, Receive};
use crate::sys::{socket, unix_from_sock_addr, unix_to_sock_addr, FdHandle, One, SharedFd};

/// A Unix datagram socket.
///
/// Each send is one message and each receive takes one whole message, as
/// with UDP, but delivery is reliable and ordered, and a sender blocks (its
/// future waits) while the receiver's queue is full.
///
/// A message longer than the receive buffer is cut to fit: the kernel
/// discards the rest, and the call reports the bytes that fit, as
/// `recv(2)` and `std::os::unix::net::UnixDatagram` do.
///
/// Addresses are [`std::os::unix::net::SocketAddr`]: a filesystem path
/// ([`bind`](UnixDatagram::bind)), a name in Linux's abstract namespace
/// ([`bind_addr`](UnixDatagram::bind_addr) with
/// [`SocketAddrExt::from_abstract_name`](std::os::linux::net::SocketAddrExt::from_abstract_name)),
/// or unnamed ([`unbound`](UnixDatagram::unbound), [`pair`](UnixDatagram::pair)).
/// Dropping a socket bound to a path leaves the file behind, as std does;
/// remove it before binding the path again.
///
/// # Examples
///
/// ```no_run
/// use runtime::net::UnixDatagram;
///
/// #[runtime::main]
/// async fn main() -> std::io::Result<()> {
///     let (a, b) = UnixDatagram::pair()?;
///     let (res, _) = a.send(b"hello".to_vec()).await;
///     res?;
///     let (res, buf) = b.recv(Vec::with_capacity(64)).await;
///     assert_eq!(res?, 5);
///     assert_eq!(buf, b"hello");
///     Ok(())
/// }
/// ```
pub struct UnixDatagram {
    /// The socket; ops hold clones, so it stays open until they complete.
    fd: FdHandle,
}

impl UnixDatagram {
    /// Creates a socket bound to the filesystem path `path`.
    ///
    /// Fails with `AddrInUse` if the path exists (even as a stale socket
    /// file), and with `InvalidInput` if the path is too long (107 bytes) or
    /// contains a NUL byte.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(std::os::unix::net::UnixDatagram::bind(path)?)
    }

    /// Creates a socket bound to `addr`: a pathname or an abstract address.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// use std::os::linux::net::SocketAddrExt;
    /// use std::os::unix::net::SocketAddr;
    ///
    /// let addr = SocketAddr::from_abstract_name(b"my-service")?;
    /// let socket = runtime::net::UnixDatagram::bind_addr(&addr)?;
    /// # Ok(()) }
    /// ```
    pub fn bind_addr(addr: &SocketAddr) -> io::Result<UnixDatagram> {
        let std = std::os::unix::net::UnixDatagram::bind_addr(addr)?;
        UnixDatagram::from_std(std)
    }

    /// Creates a socket bound to no address: it can send, and receive
    /// replies only once connected (or from [`pair`](UnixDatagram::pair)).
    pub fn unbound() -> io::Result<UnixDatagram> {
        UnixDatagram::from_std(std::os::unix::net::UnixDatagram::unbound()?)
    }

    /// Creates two sockets connected to each other.
    pub fn pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = std::os::unix::net::UnixDatagram::pair()?;
        Ok((UnixDatagram::from_std(a)?, UnixDatagram::from_std(b)?))
    }

    /// Wraps a socket created by std (or any other library).
    ///
    /// The socket is switched back to blocking mode if it was non-blocking:
    /// the driver manages that flag itself.
    ///
    /// # Errors
    ///
    /// Only if the descriptor's flags cannot be read or changed.
    pub fn from_std(socket: std::os::unix::net::UnixDatagram) -> io::Result<UnixDatagram> {
        let fd = OwnedFd::from(socket);
        socket::set_blocking(fd.as_fd())?;
        Ok(UnixDatagram {
            fd: FdHandle::new(SharedFd::new(fd)),
        })
    }

    /// Hands the socket back as a `std::os::unix::net::UnixDatagram`; its blocking mode is
    /// unspecified. If an operation still holds the socket (one dropped but
    /// not yet let go of by the kernel), the descriptor is duplicated.
    pub fn into_std(self) -> io::Result<std::os::unix::net::UnixDatagram> {
        crate::net::into_owned_fd(self.fd.into_shared()).map(std::os::unix::net::UnixDatagram::from)
    }

    /// Sets the only peer [`send`](UnixDatagram::send) goes to and
    /// [`recv`](UnixDatagram::recv) accepts messages from: the socket bound
    /// to the filesystem path `path`.
    ///
    /// # Cancel safety
    ///
    /// Connecting a datagram socket only sets its default peer: a dropped call
    /// may or may not have set it; calling it again is harmless.
    pub async fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.connect_addr(&SocketAddr::from_pathname(path)?).await
    }

    /// Like [`connect`](UnixDatagram::connect), to a pathname or abstract address.
    ///
    /// # Cancel safety
    ///
    /// Connecting a datagram socket only sets its default peer: a dropped call
    /// may or may not have set it; calling it again is harmless.
    pub async fn connect_addr(&self, addr: &SocketAddr) -> io::Result<()> {
        Op::connect(&self.fd, unix_to_sock_addr(addr)?).await
    }

    /// Sends `buf`'s initialised bytes as one message to the connected peer.
    ///
    /// Fails with `ENOTCONN` when not connected, and with `ECONNREFUSED`
    /// once the peer has gone.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe in general: dropped before it completes, the send may still happen
    /// (on io_uring the kernel may finish it after the drop); a datagram is sent whole or
    /// not at all. Await it to learn the outcome.
    pub async fn send<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        Op::send(&self.fd, buf, 0).await
    }

    /// Receives one message into `buf` (from the connected peer, if any).
    ///
    /// A longer message is cut to fit (see the type's docs).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a datagram is taken from the socket only by the call that returns it.
    /// On io_uring the kernel receives into `buf` while the call waits; if the future is
    /// dropped first, the datagram it received waits in the socket's queue for the next
    /// receive, in order.
    pub async fn recv<B: IoBufMut>(&self, buf: B) -> BufResult<usize, B> {
        let (res, buf) = Receive::new(&self.fd, DatagramRecv::new(buf, false)).await;
        (res.map(|(n, _from)| n), buf)
    }

    /// Sends `buf`'s initialised bytes as one message to the socket bound to
    /// the filesystem path `path`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe in general: dropped before it completes, the send may still happen
    /// (on io_uring the kernel may finish it after the drop); a datagram is sent whole or
    /// not at all. Await it to learn the outcome.
    pub async fn send_to<B: IoBuf>(&self, buf: B, path: impl AsRef<Path>) -> BufResult<usize, B> {
        match SocketAddr::from_pathname(path) {
            Ok(addr) => self.send_to_addr(buf, &addr).await,
            Err(e) => (Err(e), buf),
        }
    }

    /// Like [`send_to`](UnixDatagram::send_to), to a pathname or abstract address.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe in general: dropped before it completes, the send may still happen
    /// (on io_uring the kernel may finish it after the drop); a datagram is sent whole or
    /// not at all. Await it to learn the outcome.
    pub async fn send_to_addr<B: IoBuf>(&self, buf: B, addr: &SocketAddr) -> BufResult<usize, B> {
        let addr = match unix_to_sock_addr(addr) {
            Ok(addr) => addr,
            Err(e) => return (Err(e), buf),
        };
        let (res, One(buf)) = Op::send_to(&self.fd, buf, addr).await;
        (res, buf)
    }

    /// Receives one message into `buf`, and the sender's address (unnamed if
    /// the sender is not bound).
    ///
    /// A longer message is cut to fit (see the type's docs).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a datagram is taken from the socket only by the call that returns it.
    /// On io_uring the kernel receives into `buf` while the call waits; if the future is
    /// dropped first, the datagram it received waits in the socket's queue for the next
    /// receive, in order.
    pub async fn recv_from<B: IoBufMut>(&self, buf: B) -> BufResult<(usize, SocketAddr), B> {
        let (res, buf) = Receive::new(&self.fd, DatagramRecv::new(buf, false)).await;
        (
            res.and_then(|(n, from)| Ok((n, unix_from_sock_addr(&from)?))),
            buf,
        )
    }

    /// The address this socket is bound to (unnamed if it is not).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        unix_from_sock_addr(&socket::local_addr(self.fd.as_fd())?)
    }

    /// The address of the connected peer; `NotConnected` if there is none.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        unix_from_sock_addr(&socket::peer_addr(self.fd.as_fd())?)
    }

    /// Ends sending, receiving or both. Later sends fail with `BrokenPipe`,
    /// and so do a peer's sends to a socket that shut reading down.
    ///
    /// Do not receive after `Shutdown::Read`: the kernel answers a blocking
    /// receive (io_uring) with an empty message but a non-blocking one
    /// (epoll) with "try again", so on epoll the receive waits forever.
    ///
    /// # Cancel safety
    ///
    /// Dropping it before it completes leaves it unknown whether the shutdown happened;
    /// calling it again is harmless.
    pub async fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        Op::shutdown(&self.fd, how).await
    }

    /// Takes the socket's pending error (`SO_ERROR`), clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        socket::take_error(self.fd.as_fd())
    }
}

impl fmt::Debug for UnixDatagram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addrs = (self.local_addr(), self.peer_addr());
        crate::net::fmt_socket(f, "UnixDatagram", self.fd.raw(), addrs)
    }
}

impl AsRawFd for UnixDatagram {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}

impl AsFd for UnixDatagram {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
