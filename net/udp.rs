//! `UdpSocket`: datagrams over IPv4 and IPv6, sent and received by the kernel
//! from owned buffers.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};

use super::addr::{each_addr, resolve, resolve_now, ToSocketAddrs};
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::op::{DatagramRecv, Op, Receive};
use crate::sys::{socket, FdHandle, One, SharedFd, SockAddr};

/// A UDP socket.
///
/// Datagrams go out with [`send_to`](UdpSocket::send_to) (or
/// [`send`](UdpSocket::send) once [`connect`](UdpSocket::connect)ed) and come
/// in with [`recv_from`](UdpSocket::recv_from) / [`recv`](UdpSocket::recv).
/// Every I/O method takes its buffer by value and gives it back, whatever
/// happened (see [`crate::buf`]).
///
/// A datagram longer than the receive buffer is cut to fit: the rest of it is
/// discarded by the kernel, and the call reports the bytes that fit, as
/// `recv_from(2)` and `std::net::UdpSocket` do. Receive into a buffer of at
/// least 65 535 bytes (or your protocol's maximum) to never lose any.
///
/// # Examples
///
/// ```no_run
/// use runtime::buf::IoBuf;
/// use runtime::net::UdpSocket;
///
/// #[runtime::main]
/// async fn main() -> std::io::Result<()> {
///     let socket = UdpSocket::bind("127.0.0.1:8080")?;
///     let mut buf = vec![0u8; 65_535];
///     loop {
///         let (res, b) = socket.recv_from(buf).await;
///         let (n, peer) = res?;
///         // Echo the datagram back to where it came from.
///         let (res, b) = socket.send_to(b.slice(..n), peer).await;
///         res?;
///         buf = b.into_inner();
///     }
/// }
/// ```
pub struct UdpSocket {
    /// The socket; ops hold clones, so it stays open until they complete.
    fd: FdHandle,
}

impl UdpSocket {
    /// Creates a socket bound to `addr`.
    ///
    /// Each address `addr` resolves to is tried in turn, as
    /// `std::net::UdpSocket::bind` does; port 0 picks a free port (see
    /// [`local_addr`](UdpSocket::local_addr)).
    ///
    /// A host name is looked up on this thread, which blocks it: inside a
    /// task, pass an IP address (`"127.0.0.1:0"`, a `SocketAddr`).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// let socket = runtime::net::UdpSocket::bind("0.0.0.0:5353")?;
    /// # Ok(()) }
    /// ```
    pub fn bind<A: ToSocketAddrs>(addr: A) -> io::Result<UdpSocket> {
        let socket = each_addr(resolve_now(&addr)?, std::net::UdpSocket::bind)?;
        UdpSocket::from_std(socket)
    }

    /// Wraps a socket created by std (or any other library).
    ///
    /// The socket is switched back to blocking mode if it was non-blocking:
    /// the driver manages that flag itself.
    ///
    /// # Errors
    ///
    /// Only if the descriptor's flags cannot be read or changed.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// let std_socket = std::net::UdpSocket::bind("127.0.0.1:0")?;
    /// std_socket.set_ttl(16)?;
    /// let socket = runtime::net::UdpSocket::from_std(std_socket)?;
    /// # Ok(()) }
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        let fd = OwnedFd::from(socket);
        socket::set_blocking(fd.as_fd())?;
        Ok(UdpSocket {
            fd: FdHandle::new(SharedFd::new(fd)),
        })
    }

    /// Hands the socket back as a `std::net::UdpSocket`; its blocking mode is
    /// unspecified. If an operation still holds the socket (one dropped but
    /// not yet let go of by the kernel), the descriptor is duplicated.
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        crate::net::into_owned_fd(self.fd.into_shared()).map(std::net::UdpSocket::from)
    }

    /// Sets the default destination of [`send`](UdpSocket::send) and the only
    /// source [`recv`](UdpSocket::recv) accepts datagrams from.
    ///
    /// Each address `addr` resolves to is tried until one works (a host
    /// name is looked up on the blocking pool). A UDP connect sends nothing;
    /// it fails only for an unreachable or incompatible address.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[runtime::main] async fn main() -> std::io::Result<()> {
    /// let socket = runtime::net::UdpSocket::bind("127.0.0.1:0")?;
    /// socket.connect("127.0.0.1:8080").await?;
    /// let (res, _buf) = socket.send(b"ping".to_vec()).await;
    /// res?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Connecting a datagram socket only sets its default peer: a dropped call
    /// may or may not have set it; calling it again is harmless.
    pub async fn connect<A: ToSocketAddrs>(&self, addr: A) -> io::Result<()> {
        let mut last = None;
        for addr in resolve(&addr).await? {
            match Op::connect(&self.fd, SockAddr::from_std(&addr)).await {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        // `resolve` returns at least one address, so `last` is set.
        Err(last.unwrap_or_else(|| io::Error::from(io::ErrorKind::InvalidInput)))
    }

    /// Sends `buf`'s initialised bytes as one datagram to `target`.
    ///
    /// Returns the number of bytes sent, which for UDP is all of them; a
    /// datagram too large for the protocol fails with `EMSGSIZE`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe in general: dropped before it completes, the send may still happen
    /// (on io_uring the kernel may finish it after the drop); a datagram is sent whole or
    /// not at all. Await it to learn the outcome.
    pub async fn send_to<B: IoBuf>(&self, buf: B, target: SocketAddr) -> BufResult<usize, B> {
        let addr = SockAddr::from_std(&target);
        let (res, One(buf)) = Op::send_to(&self.fd, buf, addr).await;
        (res, buf)
    }

    /// Receives one datagram into `buf`, and the address it came from.
    ///
    /// The bytes land at the start of `buf` (up to its capacity); a longer
    /// datagram is cut to fit (see the type's docs).
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
            res.and_then(|(n, from)| Ok((n, self.source_of(from)?))),
            buf,
        )
    }

    /// Like [`recv_from`](UdpSocket::recv_from), but leaves the datagram
    /// queued: the next receive gets it again.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a peek takes nothing from the socket.
    pub async fn peek_from<B: IoBufMut>(&self, buf: B) -> BufResult<(usize, SocketAddr), B> {
        let (res, buf) = Receive::new(&self.fd, DatagramRecv::new(buf, true)).await;
        (
            res.and_then(|(n, from)| Ok((n, self.source_of(from)?))),
            buf,
        )
    }

    /// Sends `buf`'s initialised bytes as one datagram to the connected peer.
    ///
    /// Fails with `ENOTCONN` (or `EDESTADDRREQ`) if the socket is not
    /// connected. After an ICMP "port unreachable" from the peer, a later
    /// send or receive may fail with `ECONNREFUSED`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe in general: dropped before it completes, the send may still happen
    /// (on io_uring the kernel may finish it after the drop); a datagram is sent whole or
    /// not at all. Await it to learn the outcome.
    pub async fn send<B: IoBuf>(&self, buf: B) -> BufResult<usize, B> {
        Op::send(&self.fd, buf, 0).await
    }

    /// Receives one datagram from the connected peer into `buf`.
    ///
    /// Datagrams from other sources are dropped by the kernel. A longer
    /// datagram is cut to fit (see the type's docs).
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

    /// The source of a received datagram: its address, or the connected
    /// peer's for one whose receive did not ask (an adopted `recv`).
    fn source_of(&self, from: SockAddr) -> io::Result<SocketAddr> {
        match from.len() {
            0 => self.peer_addr(),
            _ => from.to_std(),
        }
    }

    /// The address this socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::local_addr(self.fd.as_fd())?.to_std()
    }

    /// The address of the connected peer; `NotConnected` if there is none.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        socket::peer_addr(self.fd.as_fd())?.to_std()
    }

    /// Allows (or forbids) sending to broadcast addresses (`SO_BROADCAST`).
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.set_flag(libc::SOL_SOCKET, libc::SO_BROADCAST, on)
    }

    /// Whether sending to broadcast addresses is allowed (`SO_BROADCAST`).
    pub fn broadcast(&self) -> io::Result<bool> {
        self.flag(libc::SOL_SOCKET, libc::SO_BROADCAST)
    }

    /// Sets the time-to-live of outgoing unicast IPv4 datagrams (`IP_TTL`).
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.set_int(libc::IPPROTO_IP, libc::IP_TTL, ttl)
    }

    /// The time-to-live of outgoing unicast IPv4 datagrams (`IP_TTL`).
    pub fn ttl(&self) -> io::Result<u32> {
        self.int(libc::IPPROTO_IP, libc::IP_TTL)
    }

    /// Whether this host receives the IPv4 multicast datagrams it sends
    /// (`IP_MULTICAST_LOOP`, on by default).
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.set_flag(libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP, on)
    }

    /// See [`set_multicast_loop_v4`](UdpSocket::set_multicast_loop_v4).
    pub fn multicast_loop_v4(&self) -> io::Result<bool> {
        self.flag(libc::IPPROTO_IP, libc::IP_MULTICAST_LOOP)
    }

    /// Sets the time-to-live of outgoing IPv4 multicast datagrams
    /// (`IP_MULTICAST_TTL`, 1 by default: they stay on the local network).
    pub fn set_multicast_ttl_v4(&self, ttl: u32) -> io::Result<()> {
        self.set_int(libc::IPPROTO_IP, libc::IP_MULTICAST_TTL, ttl)
    }

    /// See [`set_multicast_ttl_v4`](UdpSocket::set_multicast_ttl_v4).
    pub fn multicast_ttl_v4(&self) -> io::Result<u32> {
        self.int(libc::IPPROTO_IP, libc::IP_MULTICAST_TTL)
    }

    /// Whether this host receives the IPv6 multicast datagrams it sends
    /// (`IPV6_MULTICAST_LOOP`, on by default).
    pub fn set_multicast_loop_v6(&self, on: bool) -> io::Result<()> {
        self.set_flag(libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, on)
    }

    /// See [`set_multicast_loop_v6`](UdpSocket::set_multicast_loop_v6).
    pub fn multicast_loop_v6(&self) -> io::Result<bool> {
        self.flag(libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP)
    }

    /// Sends outgoing IPv4 multicast datagrams through the interface with
    /// address `interface` (`IP_MULTICAST_IF`; `0.0.0.0`: the routing table decides).
    pub fn set_multicast_if_v4(&self, interface: Ipv4Addr) -> io::Result<()> {
        let addr = libc::in_addr {
            s_addr: u32::from_ne_bytes(interface.octets()),
        };
        socket::setsockopt(
            self.fd.as_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            addr,
        )
    }

    /// See [`set_multicast_if_v4`](UdpSocket::set_multicast_if_v4).
    pub fn multicast_if_v4(&self) -> io::Result<Ipv4Addr> {
        let addr: libc::in_addr =
            socket::getsockopt(self.fd.as_fd(), libc::IPPROTO_IP, libc::IP_MULTICAST_IF)?;
        Ok(Ipv4Addr::from(addr.s_addr.to_ne_bytes()))
    }

    /// Joins the IPv4 multicast group `multiaddr` on the interface with
    /// address `interface` (`0.0.0.0`: the kernel picks one).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn main() -> std::io::Result<()> {
    /// use std::net::Ipv4Addr;
    ///
    /// let socket = runtime::net::UdpSocket::bind("0.0.0.0:5353")?;
    /// socket.join_multicast_v4(Ipv4Addr::new(224, 0, 0, 251), Ipv4Addr::UNSPECIFIED)?;
    /// # Ok(()) }
    /// ```
    pub fn join_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        let mreq = ip_mreq(multiaddr, interface);
        socket::setsockopt(
            self.fd.as_fd(),
            libc::IPPROTO_IP,
            libc::IP_ADD_MEMBERSHIP,
            mreq,
        )
    }

    /// Leaves a group joined with [`join_multicast_v4`](UdpSocket::join_multicast_v4).
    pub fn leave_multicast_v4(&self, multiaddr: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        let mreq = ip_mreq(multiaddr, interface);
        socket::setsockopt(
            self.fd.as_fd(),
            libc::IPPROTO_IP,
            libc::IP_DROP_MEMBERSHIP,
            mreq,
        )
    }

    /// Joins the IPv6 multicast group `multiaddr` on the interface with index
    /// `interface` (0: the kernel picks one).
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        let mreq = ipv6_mreq(multiaddr, interface);
        let opt = libc::IPV6_ADD_MEMBERSHIP;
        socket::setsockopt(self.fd.as_fd(), libc::IPPROTO_IPV6, opt, mreq)
    }

    /// Leaves a group joined with [`join_multicast_v6`](UdpSocket::join_multicast_v6).
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, interface: u32) -> io::Result<()> {
        let mreq = ipv6_mreq(multiaddr, interface);
        let opt = libc::IPV6_DROP_MEMBERSHIP;
        socket::setsockopt(self.fd.as_fd(), libc::IPPROTO_IPV6, opt, mreq)
    }

    /// Takes the socket's pending error (`SO_ERROR`), such as an
    /// `ECONNREFUSED` left by an ICMP message, clearing it.
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        socket::take_error(self.fd.as_fd())
    }

    /// Sets an `int`-valued option from a `bool`.
    fn set_flag(&self, level: libc::c_int, name: libc::c_int, on: bool) -> io::Result<()> {
        socket::setsockopt(self.fd.as_fd(), level, name, libc::c_int::from(on))
    }

    /// Reads an `int`-valued option as a `bool`.
    fn flag(&self, level: libc::c_int, name: libc::c_int) -> io::Result<bool> {
        Ok(socket::getsockopt::<libc::c_int>(self.fd.as_fd(), level, name)? != 0)
    }

    /// Sets an `int`-valued option; values past `i32::MAX` are `InvalidInput`.
    fn set_int(&self, level: libc::c_int, name: libc::c_int, value: u32) -> io::Result<()> {
        let value = libc::c_int::try_from(value)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "value out of range"))?;
        socket::setsockopt(self.fd.as_fd(), level, name, value)
    }

    /// Reads an `int`-valued option.
    fn int(&self, level: libc::c_int, name: libc::c_int) -> io::Result<u32> {
        let value: libc::c_int = socket::getsockopt(self.fd.as_fd(), level, name)?;
        Ok(value.max(0) as u32)
    }
}

/// The `ip_mreq` of a v4 multicast join or leave.
fn ip_mreq(multiaddr: Ipv4Addr, interface: Ipv4Addr) -> libc::ip_mreq {
    libc::ip_mreq {
        imr_multiaddr: libc::in_addr {
            s_addr: u32::from_ne_bytes(multiaddr.octets()),
        },
        imr_interface: libc::in_addr {
            s_addr: u32::from_ne_bytes(interface.octets()),
        },
    }
}

/// The `ipv6_mreq` of a v6 multicast join or leave.
fn ipv6_mreq(multiaddr: &Ipv6Addr, interface: u32) -> libc::ipv6_mreq {
    libc::ipv6_mreq {
        ipv6mr_multiaddr: libc::in6_addr {
            s6_addr: multiaddr.octets(),
        },
        ipv6mr_interface: interface,
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let addrs = (self.local_addr(), self.peer_addr());
        crate::net::fmt_socket(f, "UdpSocket", self.fd.raw(), addrs)
    }
}

impl AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}

impl AsFd for UdpSocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}
