//! `SockAddr`: an owned `sockaddr_storage` the kernel reads (connect, bind,
//! sendmsg) or fills (accept, recvmsg, getsockname), and its conversion to and
//! from `std::net::SocketAddr`.

use std::io;
use std::mem;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// A socket address in the kernel's layout, large enough for any family.
#[derive(Clone, Copy)]
pub(crate) struct SockAddr {
    /// The address bytes; the family field says how to read them.
    storage: libc::sockaddr_storage,
    /// How many bytes of `storage` are in use (set by the kernel on output).
    len: libc::socklen_t,
}

impl std::fmt::Debug for SockAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.to_std() {
            Ok(addr) => write!(f, "SockAddr({addr})"),
            Err(_) => f
                .debug_struct("SockAddr")
                .field("family", &self.family())
                .field("len", &self.len)
                .finish(),
        }
    }
}

impl SockAddr {
    /// An empty address for the kernel to fill; `len` is the full storage size.
    pub(crate) fn empty() -> Self {
        SockAddr {
            // SAFETY: sockaddr_storage is plain old data; all zeroes is a valid value (AF_UNSPEC).
            storage: unsafe { mem::zeroed() },
            len: mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t,
        }
    }

    /// Wraps raw storage and the number of bytes of it in use (other families,
    /// such as `AF_UNIX`, build their storage themselves).
    pub(crate) fn from_parts(storage: libc::sockaddr_storage, len: libc::socklen_t) -> Self {
        let max = mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        SockAddr {
            storage,
            len: len.min(max),
        }
    }

    /// An address the kernel wrote as `bytes` (a `sockaddr` of that length;
    /// more than fits the storage is cut, as the kernel cuts it).
    pub(crate) fn from_bytes(bytes: &[u8]) -> Self {
        let mut out = SockAddr::empty();
        let len = bytes.len().min(mem::size_of::<libc::sockaddr_storage>());
        // SAFETY: `len` bytes fit the storage, which is plain old data that
        // any bytes make valid; the slices do not overlap.
        unsafe {
            std::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                (&mut out.storage as *mut libc::sockaddr_storage).cast::<u8>(),
                len,
            );
        }
        out.len = len as libc::socklen_t;
        out
    }

    /// The kernel's form of an IPv4 or IPv6 address.
    pub(crate) fn from_std(addr: &SocketAddr) -> Self {
        let mut out = SockAddr::empty();
        match addr {
            SocketAddr::V4(a) => {
                let sin = libc::sockaddr_in {
                    sin_family: libc::AF_INET as libc::sa_family_t,
                    sin_port: a.port().to_be(),
                    sin_addr: libc::in_addr {
                        s_addr: u32::from_ne_bytes(a.ip().octets()),
                    },
                    sin_zero: [0; 8],
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
                unsafe { std::ptr::write(out.as_mut_ptr().cast::<libc::sockaddr_in>(), sin) };
                out.len = mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            }
            SocketAddr::V6(a) => {
                let sin6 = libc::sockaddr_in6 {
                    sin6_family: libc::AF_INET6 as libc::sa_family_t,
                    sin6_port: a.port().to_be(),
                    sin6_flowinfo: a.flowinfo(),
                    sin6_addr: libc::in6_addr {
                        s6_addr: a.ip().octets(),
                    },
                    sin6_scope_id: a.scope_id(),
                };
                // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
                unsafe { std::ptr::write(out.as_mut_ptr().cast::<libc::sockaddr_in6>(), sin6) };
                out.len = mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t;
            }
        }
        out
    }

    /// The address family (`AF_INET`, `AF_INET6`, `AF_UNIX`, …).
    pub(crate) fn family(&self) -> libc::c_int {
        libc::c_int::from(self.storage.ss_family)
    }

    /// The raw storage, for families this file does not convert.
    pub(crate) fn storage(&self) -> &libc::sockaddr_storage {
        &self.storage
    }

    /// Number of bytes of the storage in use.
    pub(crate) fn len(&self) -> libc::socklen_t {
        self.len
    }

    /// For the kernel to read.
    pub(crate) fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.storage as *const libc::sockaddr_storage).cast()
    }

    /// For the kernel to fill.
    pub(crate) fn as_mut_ptr(&mut self) -> *mut libc::sockaddr {
        (&mut self.storage as *mut libc::sockaddr_storage).cast()
    }

    /// For the kernel to set the length it filled in.
    pub(crate) fn len_mut(&mut self) -> &mut libc::socklen_t {
        &mut self.len
    }

    /// The IPv4 or IPv6 address this holds; `InvalidInput` for other families.
    pub(crate) fn to_std(self) -> io::Result<SocketAddr> {
        let len = self.len as usize;
        match self.family() {
            libc::AF_INET if len >= mem::size_of::<libc::sockaddr_in>() => {
                // SAFETY: the family and length say the storage holds a sockaddr_in,
                // and sockaddr_storage is aligned for it.
                let sin = unsafe { &*(self.as_ptr() as *const libc::sockaddr_in) };
                let ip = Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
                Ok(SocketAddr::V4(SocketAddrV4::new(
                    ip,
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 if len >= mem::size_of::<libc::sockaddr_in6>() => {
                // SAFETY: the family and length say the storage holds a sockaddr_in6,
                // and sockaddr_storage is aligned for it.
                let sin6 = unsafe { &*(self.as_ptr() as *const libc::sockaddr_in6) };
                Ok(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                    u16::from_be(sin6.sin6_port),
                    sin6.sin6_flowinfo,
                    sin6.sin6_scope_id,
                )))
            }
            family => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("not an IPv4 or IPv6 socket address (family {family}, {len} bytes)"),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_v4_and_v6() {
        for s in ["127.0.0.1:8080", "[::1]:443", "[fe80::1%2]:1", "0.0.0.0:0"] {
            let addr: SocketAddr = s.parse().unwrap();
            assert_eq!(SockAddr::from_std(&addr).to_std().unwrap(), addr);
        }
    }

    #[test]
    fn other_families_are_invalid_input() {
        let empty = SockAddr::empty();
        assert_eq!(empty.family(), libc::AF_UNSPEC);
        let err = empty.to_std().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        let mut short = SockAddr::from_std(&"1.2.3.4:5".parse().unwrap());
        *short.len_mut() = 4;
        assert!(short.to_std().is_err());
    }
}
