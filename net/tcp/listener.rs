//! `TcpListener`: accepting connections, one at a time (`Accept`) or as a
//! stream (`Incoming`). On io_uring the kernel accepts: one multishot accept
//! per listener fills the listener's queue; on epoll each accept is an
//! `accept4(2)` once the listener is ready. Either way a connection leaves
//! the listener only in the poll that returns it, so a dropped accept loses
//! nothing. (The listeners `http::serve` shares between workers wait for
//! readability and accept without waiting in the kernel instead: see
//! `AcceptConn::shared`.)

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};

use super::{TcpSocket, TcpStream};
use crate::net::incoming::Accepting;
use crate::net::{addr, ToSocketAddrs};
use crate::op::{AcceptConn, Receive};
use crate::sys::{socket, FdHandle, SharedFd};

/// The listen backlog of [`TcpListener::bind`] (tokio's; the kernel caps it
/// at `net.core.somaxconn`).
const DEFAULT_BACKLOG: u32 = 1024;

/// A TCP socket listening for connections.
///
/// ```no_run
/// use runtime::net::TcpListener;
///
/// #[runtime::main]
/// async fn main() -> std::io::Result<()> {
///     let listener = TcpListener::bind("127.0.0.1:7000")?;
///     loop {
///         let (stream, peer) = listener.accept().await?;
///         runtime::spawn(async move {
///             let (res, _) = stream.write_all(format!("hello, {peer}\n").into_bytes()).await;
///             let _ = res;
///         });
///     }
/// }
/// ```
#[derive(Debug)]
pub struct TcpListener {
    /// The listening socket, shared with the accepts in flight on it.
    fd: FdHandle,
    /// Other workers accept on the same socket (see `AcceptConn::shared`).
    shared: bool,
}

impl TcpListener {
    /// Wraps a listening socket.
    pub(crate) fn from_shared(fd: SharedFd) -> Self {
        TcpListener {
            fd: FdHandle::new(fd),
            shared: false,
        }
    }

    /// Marks the listener as one of several descriptors of one socket that
    /// different workers accept on (`http::serve`): a busy worker then
    /// holds no connection another could take (see `AcceptConn::shared`).
    #[cfg_attr(not(feature = "hyper"), allow(dead_code))]
    pub(crate) fn shared_by_workers(mut self) -> Self {
        self.shared = true;
        self
    }

    /// The receive an accept on this listener runs.
    fn accept_conn(&self) -> AcceptConn {
        match self.shared {
            true => AcceptConn::shared(),
            false => AcceptConn::default(),
        }
    }

    /// Binds to `addr` and starts listening (backlog 1024), with
    /// `SO_REUSEADDR` set as std and tokio do. Port 0 lets the kernel pick.
    ///
    /// This is synchronous: binding never blocks. A host name (rather than a
    /// literal address) is resolved in place, which does block; pass
    /// literals inside a worker.
    ///
    /// # Errors
    ///
    /// `AddrInUse`, `PermissionDenied` (a port below 1024), … for the last
    /// address tried.
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<TcpListener> {
        addr::each_addr(addr::resolve_now(&addr)?, |addr| listen_on(addr, false))
    }

    /// As [`bind`](TcpListener::bind), with `SO_REUSEPORT` set too: several
    /// listeners bound so (one per worker, say) share `addr`, and the kernel
    /// spreads new connections among them. With port 0 every call gets a
    /// port of its own; bind the first and reuse its
    /// [`local_addr`](TcpListener::local_addr) for the others.
    ///
    /// # Errors
    ///
    /// `AddrInUse` where a listener bound without `SO_REUSEPORT` (or by
    /// another user) holds `addr`, `PermissionDenied` (a port below 1024), …
    pub fn bind_reuseport(addr: SocketAddr) -> io::Result<TcpListener> {
        listen_on(addr, true)
    }

    /// Adopts a listening `std::net::TcpListener` (blocking or not).
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        let fd = OwnedFd::from(listener);
        socket::set_blocking(fd.as_fd())?;
        Ok(TcpListener::from_shared(SharedFd::new(fd)))
    }

    /// Hands the socket back as a `std::net::TcpListener`; its blocking mode
    /// is unspecified. If the kernel still holds the socket for an accept
    /// (io_uring's multishot accept, whose cancel completes later), the
    /// descriptor is duplicated.
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        crate::net::into_owned_fd(self.fd.into_shared()).map(std::net::TcpListener::from)
    }

    /// Accepts one connection; resolves to the stream and the peer's address.
    ///
    /// `.timeout(d)` on the returned future gives up after `d` with an error
    /// of kind `TimedOut`.
    ///
    /// # Errors
    ///
    /// Whatever the kernel's accept reports, for example `EMFILE` when the
    /// process is out of descriptors. The listener stays usable.
    ///
    /// # Drivers
    ///
    /// On io_uring the kernel accepts: one multishot accept per listener
    /// queues connections on the listener (up to
    /// [`Builder::max_queued_connections`](crate::Builder::max_queued_connections);
    /// the rest wait in the kernel's backlog), and the peer's address is
    /// read from the connection. On epoll each accept is an `accept4(2)`
    /// made once the listener is ready.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a connection is taken from the listener only by the poll that returns
    /// it, so a dropped accept (a `select!` another branch won, a timeout) leaves every
    /// connection, in order, for the next call.
    pub fn accept(&self) -> Accept {
        Accept {
            op: Receive::new(&self.fd, self.accept_conn()),
        }
    }

    /// A stream of incoming connections (a `futures_core::Stream`).
    ///
    /// On io_uring each item comes from the listener's queue, which its
    /// multishot accept keeps filling from a single submission; on epoll
    /// each item is one `accept4(2)`. The stream never ends. It yields
    /// errors as they come; after one that will likely repeat at once (out
    /// of descriptors or memory: `EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`, …)
    /// it pauses before accepting again, 1 ms at first and doubling up to
    /// 100 ms, so a full descriptor table slows the server down instead of
    /// spinning a core.
    ///
    /// ```no_run
    /// # async fn f(listener: runtime::net::TcpListener) {
    /// let mut incoming = listener.incoming();
    /// while let Some(conn) = incoming.next().await {
    ///     match conn {
    ///         Ok(stream) => drop(runtime::spawn(async move { let _ = stream; })),
    ///         Err(e) => eprintln!("accept: {e}"),
    ///     }
    /// }
    /// # }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Each `next()` is cancel safe, like `accept`; dropping the stream itself loses no
    /// connection either.
    pub fn incoming(&self) -> Incoming {
        Incoming {
            inner: Accepting::new(&self.fd, self.accept_conn(), TcpStream::from_shared),
        }
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::local_addr(self.fd.as_fd())?.to_std()
    }
}

/// A listening socket on `addr` (backlog 1024) with `SO_REUSEADDR`, and
/// `SO_REUSEPORT` if `reuseport`.
fn listen_on(addr: SocketAddr, reuseport: bool) -> io::Result<TcpListener> {
    let socket = TcpSocket::for_addr(&addr)?;
    socket.set_reuseaddr(true)?;
    if reuseport {
        socket.set_reuseport(true)?;
    }
    socket.bind(addr)?;
    socket.listen(DEFAULT_BACKLOG)
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for TcpListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl IntoRawFd for TcpListener {
    /// The descriptor, now owned by the caller.
    ///
    /// # Panics
    ///
    /// Only if the kernel still holds the socket for an accept and
    /// duplicating the descriptor fails (the process is out of descriptors);
    /// [`into_std`](TcpListener::into_std) reports that as an error instead.
    fn into_raw_fd(self) -> RawFd {
        match self.into_std() {
            Ok(l) => l.into_raw_fd(),
            Err(e) => panic!("TcpListener::into_raw_fd: cannot take the descriptor: {e}"),
        }
    }
}

impl TryFrom<std::net::TcpListener> for TcpListener {
    type Error = io::Error;

    /// See [`TcpListener::from_std`].
    fn try_from(listener: std::net::TcpListener) -> io::Result<Self> {
        TcpListener::from_std(listener)
    }
}

// `Accept` and `Incoming`, from the one definition they share with
// `unix::Accept` and `unix::Incoming`.
crate::net::incoming::listener_futures! {
    listener: TcpListener,
    stream: TcpStream,
    addr: SocketAddr,
    peer: |peer| peer.to_std()
}
