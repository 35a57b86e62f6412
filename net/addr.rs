//! `ToSocketAddrs`: what `connect` and `bind` accept, resolved without
//! blocking a worker where that matters.
//!
//! Literal addresses (`SocketAddr`, `"127.0.0.1:80"`, `(ip, port)`) resolve at
//! once. Host names need `getaddrinfo(3)`, which blocks, so the async
//! `connect` runs it on the blocking pool; the synchronous `bind` has to run
//! it in place (as std does), so pass it literals inside a worker.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// A lookup that must run off the worker: it may block in `getaddrinfo(3)`.
type Lookup = Box<dyn FnOnce() -> io::Result<Vec<SocketAddr>> + Send>;

// The sealing pattern needs a `pub` trait in a private module; it is not
// reachable from outside, which is the point.
#[allow(unreachable_pub)]
mod sealed {
    use super::*;

    /// How an address argument resolves.
    pub enum Resolve {
        /// Known without a lookup.
        Ready(io::Result<Vec<SocketAddr>>),
        /// Needs a name lookup.
        Lookup(Lookup),
    }

    impl std::fmt::Debug for Resolve {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                Resolve::Ready(res) => f.debug_tuple("Ready").field(res).finish(),
                Resolve::Lookup(_) => f.write_str("Lookup(..)"),
            }
        }
    }

    /// Implemented only here, so the resolution protocol can change freely.
    pub trait Sealed {
        /// Starts resolving.
        fn resolve(&self) -> Resolve;
    }
}

use sealed::{Resolve, Sealed};

/// Something that names one or more socket addresses: a [`SocketAddr`], an
/// `(IpAddr, u16)` pair, a `"host:port"` string or a `(host, port)` pair, or a
/// slice of addresses. The counterpart of [`std::net::ToSocketAddrs`],
/// resolved without blocking the worker in async `connect`.
///
/// Operations try each address in turn and return the last error if none works.
pub trait ToSocketAddrs: Sealed {}

impl<T: Sealed + ?Sized> ToSocketAddrs for T {}

impl Sealed for SocketAddr {
    fn resolve(&self) -> Resolve {
        Resolve::Ready(Ok(vec![*self]))
    }
}

impl Sealed for SocketAddrV4 {
    fn resolve(&self) -> Resolve {
        Resolve::Ready(Ok(vec![SocketAddr::V4(*self)]))
    }
}

impl Sealed for SocketAddrV6 {
    fn resolve(&self) -> Resolve {
        Resolve::Ready(Ok(vec![SocketAddr::V6(*self)]))
    }
}

impl Sealed for (IpAddr, u16) {
    fn resolve(&self) -> Resolve {
        Resolve::Ready(Ok(vec![SocketAddr::new(self.0, self.1)]))
    }
}

impl Sealed for (Ipv4Addr, u16) {
    fn resolve(&self) -> Resolve {
        Resolve::Ready(Ok(vec![SocketAddr::new(self.0.into(), self.1)]))
    }
}

impl Sealed for (Ipv6Addr, u16) {
    fn resolve(&self) -> Resolve {
        Resolve::Ready(Ok(vec![SocketAddr::new(self.0.into(), self.1)]))
    }
}

impl Sealed for [SocketAddr] {
    fn resolve(&self) -> Resolve {
        Resolve::Ready(Ok(self.to_vec()))
    }
}

impl Sealed for Vec<SocketAddr> {
    fn resolve(&self) -> Resolve {
        Resolve::Ready(Ok(self.clone()))
    }
}

impl Sealed for str {
    fn resolve(&self) -> Resolve {
        if let Ok(addr) = self.parse::<SocketAddr>() {
            return Resolve::Ready(Ok(vec![addr]));
        }
        let host = self.to_owned();
        Resolve::Lookup(Box::new(move || {
            std::net::ToSocketAddrs::to_socket_addrs(&host).map(Iterator::collect)
        }))
    }
}

impl Sealed for String {
    fn resolve(&self) -> Resolve {
        self.as_str().resolve()
    }
}

impl Sealed for (&str, u16) {
    fn resolve(&self) -> Resolve {
        if let Ok(ip) = self.0.parse::<IpAddr>() {
            return Resolve::Ready(Ok(vec![SocketAddr::new(ip, self.1)]));
        }
        let (host, port) = (self.0.to_owned(), self.1);
        Resolve::Lookup(Box::new(move || {
            std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port)).map(Iterator::collect)
        }))
    }
}

impl Sealed for (String, u16) {
    fn resolve(&self) -> Resolve {
        (self.0.as_str(), self.1).resolve()
    }
}

impl<T: Sealed + ?Sized> Sealed for &T {
    fn resolve(&self) -> Resolve {
        (**self).resolve()
    }
}

/// The error when an argument names no address at all.
fn no_addresses() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "could not resolve to any addresses",
    )
}

/// Resolves `addr`, running a name lookup on the blocking pool.
pub(crate) async fn resolve<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<Vec<SocketAddr>> {
    let addrs = match addr.resolve() {
        Resolve::Ready(res) => res?,
        Resolve::Lookup(_) if crate::context::current().is_none() => {
            return Err(io::Error::other(
                "no runtime on this thread: resolve host names inside runtime::block_on or a task",
            ));
        }
        Resolve::Lookup(lookup) => crate::spawn_blocking(lookup)
            .await
            .map_err(|e| io::Error::other(format!("address lookup failed: {e}")))??,
    };
    if addrs.is_empty() {
        return Err(no_addresses());
    }
    Ok(addrs)
}

/// Resolves `addr` on this thread; a name lookup blocks until it finishes.
pub(crate) fn resolve_now<A: ToSocketAddrs + ?Sized>(addr: &A) -> io::Result<Vec<SocketAddr>> {
    let addrs = match addr.resolve() {
        Resolve::Ready(res) => res?,
        Resolve::Lookup(lookup) => lookup()?,
    };
    if addrs.is_empty() {
        return Err(no_addresses());
    }
    Ok(addrs)
}

/// Runs `f` on each address in turn; returns the first success or the last error.
pub(crate) fn each_addr<T>(
    addrs: Vec<SocketAddr>,
    mut f: impl FnMut(SocketAddr) -> io::Result<T>,
) -> io::Result<T> {
    let mut last = no_addresses();
    for addr in addrs {
        match f(addr) {
            Ok(v) => return Ok(v),
            Err(e) => last = e,
        }
    }
    Err(last)
}
