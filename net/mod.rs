//! Networking: TCP (and UDP and Unix) sockets as true asynchronous I/O with
//! owned buffers.
//!
//! On io_uring the kernel performs `accept`, `connect`, `recv` and `send`
//! itself and reports completion; on epoll the same calls run as
//! non-blocking syscalls retried on readiness. Either way each I/O method
//! takes its buffer by value and gives it back with the result (see
//! [`crate::buf`]). Sends never raise `SIGPIPE`.
//!
//! - [`TcpListener`], [`TcpStream`], [`TcpSocket`]; futures, halves and the
//!   `Incoming` stream live in [`tcp`].
//! - [`UdpSocket`] for datagrams; [`UnixListener`], [`UnixStream`] and
//!   [`UnixDatagram`] for Unix-domain sockets (pathname, abstract and unnamed
//!   addresses), with their futures and halves in [`unix`].
//! - [`Read`], [`Write`], [`Readv`], [`Writev`]: the futures of stream reads
//!   and writes, each with `.timeout(dur)` that cancels the operation in the
//!   kernel and still returns the buffer.
//! - [`ToSocketAddrs`]: what `bind` and `connect` accept.
//!
//! The streams implement [`crate::io::ReadOwned`] and
//! [`crate::io::WriteOwned`], for generic code such as [`crate::io::copy`].
#![forbid(unsafe_code)]

mod addr;
mod incoming;
mod split;
pub(crate) mod stream_core;
mod stream_futures;
mod stream_methods;
pub(crate) mod stream_traits;
pub mod tcp;
mod udp;
pub mod unix;
mod write_all;

pub use addr::ToSocketAddrs;
pub use stream_futures::{Read, Readv, RecvBufFuture, Write, WriteQueued, Writev};
pub use tcp::{TcpListener, TcpSocket, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};

use std::fmt;
use std::io;
use std::os::fd::{AsFd, OwnedFd, RawFd};

use crate::sys::SharedFd;

/// Takes the descriptor out of `fd`: moved if this is the last handle,
/// duplicated if an operation still holds it (it closes its copy later).
pub(crate) fn into_owned_fd(fd: SharedFd) -> io::Result<OwnedFd> {
    match fd.try_unwrap() {
        Ok(owned) => Ok(owned),
        Err(shared) => shared.as_fd().try_clone_to_owned(),
    }
}

/// The `Debug` of a socket that is not a stream (`UdpSocket`,
/// `UnixDatagram`): its type, descriptor and whichever of its `(local,
/// peer)` addresses it has.
pub(crate) fn fmt_socket<A: fmt::Debug>(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    fd: RawFd,
    (local, peer): (io::Result<A>, io::Result<A>),
) -> fmt::Result {
    let mut d = f.debug_struct(name);
    d.field("fd", &fd);
    if let Ok(addr) = local {
        d.field("local", &addr);
    }
    if let Ok(addr) = peer {
        d.field("peer", &addr);
    }
    d.finish()
}
