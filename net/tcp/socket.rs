//! `TcpSocket`: a TCP socket not yet connected or listening, for setting
//! options first; and the `Connect` future.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use super::{TcpListener, TcpStream};
use crate::op;
use crate::op::Op;
use crate::sys::{socket, SharedFd, SockAddr};

/// A TCP socket before `connect` or `listen`: set options, bind, then turn
/// it into a [`TcpStream`] or a [`TcpListener`].
///
/// ```no_run
/// use runtime::net::TcpSocket;
///
/// # fn f() -> std::io::Result<()> {
/// // One listener per worker, all on the same port (see examples/echo.rs).
/// let socket = TcpSocket::new_v4()?;
/// socket.set_reuseaddr(true)?;
/// socket.set_reuseport(true)?;
/// socket.bind("0.0.0.0:7000".parse().unwrap())?;
/// let listener = socket.listen(1024)?;
/// # let _ = listener;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct TcpSocket {
    /// The socket; shared with the driver only once it connects or listens.
    fd: OwnedFd,
}

impl TcpSocket {
    /// A new IPv4 TCP socket.
    pub fn new_v4() -> io::Result<TcpSocket> {
        Self::new(libc::AF_INET)
    }

    /// A new IPv6 TCP socket.
    pub fn new_v6() -> io::Result<TcpSocket> {
        Self::new(libc::AF_INET6)
    }

    /// A socket of the family of `addr`.
    pub(crate) fn for_addr(addr: &SocketAddr) -> io::Result<TcpSocket> {
        match addr {
            SocketAddr::V4(_) => Self::new_v4(),
            SocketAddr::V6(_) => Self::new_v6(),
        }
    }

    fn new(domain: libc::c_int) -> io::Result<TcpSocket> {
        Ok(TcpSocket {
            fd: socket::socket(domain, libc::SOCK_STREAM)?,
        })
    }

    /// `SO_REUSEADDR`: bind to a port whose earlier connections linger in
    /// `TIME_WAIT`. [`TcpListener::bind`] sets it, as std and tokio do.
    pub fn set_reuseaddr(&self, on: bool) -> io::Result<()> {
        set_flag(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, on)
    }

    /// Whether `SO_REUSEADDR` is set.
    pub fn reuseaddr(&self) -> io::Result<bool> {
        flag(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR)
    }

    /// `SO_REUSEPORT`: several sockets (one per worker, say) listen on the same
    /// port and the kernel spreads incoming connections across them.
    pub fn set_reuseport(&self, on: bool) -> io::Result<()> {
        set_flag(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT, on)
    }

    /// Whether `SO_REUSEPORT` is set.
    pub fn reuseport(&self) -> io::Result<bool> {
        flag(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT)
    }

    /// `SO_RCVBUF`: the receive buffer size. The kernel doubles the value
    /// (for its bookkeeping) and caps it at `net.core.rmem_max`.
    pub fn set_recv_buffer_size(&self, size: u32) -> io::Result<()> {
        let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
        socket::setsockopt(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, size)
    }

    /// `SO_RCVBUF` as the kernel reports it.
    pub fn recv_buffer_size(&self) -> io::Result<u32> {
        let size: libc::c_int =
            socket::getsockopt(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF)?;
        Ok(size.max(0) as u32)
    }

    /// `SO_SNDBUF`: the send buffer size. The kernel doubles the value and
    /// caps it at `net.core.wmem_max`.
    pub fn set_send_buffer_size(&self, size: u32) -> io::Result<()> {
        let size = libc::c_int::try_from(size).unwrap_or(libc::c_int::MAX);
        socket::setsockopt(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF, size)
    }

    /// `SO_SNDBUF` as the kernel reports it.
    pub fn send_buffer_size(&self) -> io::Result<u32> {
        let size: libc::c_int =
            socket::getsockopt(self.fd.as_fd(), libc::SOL_SOCKET, libc::SO_SNDBUF)?;
        Ok(size.max(0) as u32)
    }

    /// `TCP_NODELAY` (see [`TcpStream::set_nodelay`]).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        set_nodelay(self.fd.as_fd(), on)
    }

    /// `SO_LINGER` (see [`TcpStream::set_linger`]).
    pub fn set_linger(&self, dur: Option<Duration>) -> io::Result<()> {
        set_linger(self.fd.as_fd(), dur)
    }

    /// Binds to `addr` (port 0: the kernel picks one).
    pub fn bind(&self, addr: SocketAddr) -> io::Result<()> {
        socket::bind(self.fd.as_fd(), &SockAddr::from_std(&addr))
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::local_addr(self.fd.as_fd())?.to_std()
    }

    /// Starts listening, with room for `backlog` connections not yet
    /// accepted (the kernel caps it at `net.core.somaxconn`).
    pub fn listen(self, backlog: u32) -> io::Result<TcpListener> {
        socket::listen(self.fd.as_fd(), backlog)?;
        Ok(TcpListener::from_shared(SharedFd::new(self.fd)))
    }

    /// Connects to `addr`; the future resolves to the connected stream.
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// use runtime::net::TcpSocket;
    ///
    /// # async fn f() -> std::io::Result<()> {
    /// let socket = TcpSocket::new_v4()?;
    /// socket.set_nodelay(true)?;
    /// let addr = "127.0.0.1:7000".parse().unwrap();
    /// let stream = socket.connect(addr).timeout(Duration::from_secs(3)).await?;
    /// # let _ = stream;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropping it cancels the connect; the socket is closed and nothing else changes.
    pub fn connect(self, addr: SocketAddr) -> Connect {
        let fd = SharedFd::new(self.fd);
        Connect {
            op: Op::connect(&fd, SockAddr::from_std(&addr)),
            fd: Some(fd),
        }
    }
}

impl AsRawFd for TcpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for TcpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl IntoRawFd for TcpSocket {
    fn into_raw_fd(self) -> RawFd {
        self.fd.into_raw_fd()
    }
}

/// The future of [`TcpSocket::connect`] (and of
/// [`TcpStream::connect_timeout`]): resolves to the connected stream.
#[must_use = "an operation does nothing unless awaited"]
#[derive(Debug)]
pub struct Connect {
    /// The `connect` operation.
    op: Op<op::Connect>,
    /// The socket, handed to the stream on success.
    fd: Option<SharedFd>,
}

impl Connect {
    /// Gives up after `dur`: the kernel cancels the connect and the future
    /// resolves to an error of kind `TimedOut`.
    pub fn timeout(self, dur: Duration) -> Self {
        Connect {
            op: self.op.timeout(dur),
            fd: self.fd,
        }
    }
}

impl Future for Connect {
    type Output = io::Result<TcpStream>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let res = std::task::ready!(Pin::new(&mut this.op).poll(cx));
        Poll::Ready(res.and_then(|()| {
            let fd = this
                .fd
                .take()
                .ok_or_else(|| io::Error::other("polled after completion"))?;
            Ok(TcpStream::from_shared(fd))
        }))
    }
}

/// Sets a boolean socket option.
fn set_flag(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int, on: bool) -> io::Result<()> {
    socket::setsockopt(fd, level, name, libc::c_int::from(on))
}

/// Reads a boolean socket option.
fn flag(fd: BorrowedFd<'_>, level: libc::c_int, name: libc::c_int) -> io::Result<bool> {
    let v: libc::c_int = socket::getsockopt(fd, level, name)?;
    Ok(v != 0)
}

/// `TCP_NODELAY` on.
pub(crate) fn set_nodelay(fd: BorrowedFd<'_>, on: bool) -> io::Result<()> {
    set_flag(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, on)
}

/// `TCP_NODELAY` as set.
pub(crate) fn nodelay(fd: BorrowedFd<'_>) -> io::Result<bool> {
    flag(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY)
}

/// `SO_LINGER`; whole seconds, rounded up so a short linger is not "abort".
pub(crate) fn set_linger(fd: BorrowedFd<'_>, dur: Option<Duration>) -> io::Result<()> {
    let secs = dur.map_or(0, |d| {
        let whole = d.as_secs() + u64::from(d.subsec_nanos() > 0);
        libc::c_int::try_from(whole).unwrap_or(libc::c_int::MAX)
    });
    let linger = libc::linger {
        l_onoff: libc::c_int::from(dur.is_some()),
        l_linger: secs,
    };
    socket::setsockopt(fd, libc::SOL_SOCKET, libc::SO_LINGER, linger)
}

/// `SO_LINGER` as set.
pub(crate) fn linger(fd: BorrowedFd<'_>) -> io::Result<Option<Duration>> {
    let l: libc::linger = socket::getsockopt(fd, libc::SOL_SOCKET, libc::SO_LINGER)?;
    Ok((l.l_onoff != 0).then(|| Duration::from_secs(l.l_linger.max(0) as u64)))
}
