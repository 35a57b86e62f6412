//! `OwnedReadHalf` / `OwnedWriteHalf`: a `UnixStream` split for two tasks,
//! defined by the split-half core shared with TCP streams.

use std::io;
use std::os::unix::net::SocketAddr;

use super::UnixStream;
use crate::net::stream_core::StreamCore;
use crate::sys::unix_from_sock_addr;

crate::net::split::owned_halves! {
    stream: UnixStream,
    addr: SocketAddr,
    peer: peer_addr,
    local: local_addr,
    kind: "Unix"
}

/// The address of the peer of `core`'s socket (unnamed if it is not bound).
pub(super) fn peer_addr(core: &StreamCore) -> io::Result<SocketAddr> {
    unix_from_sock_addr(&crate::sys::socket::peer_addr(std::os::fd::AsFd::as_fd(
        core.fd(),
    ))?)
}

/// The local address of `core`'s socket (unnamed unless it was bound).
pub(super) fn local_addr(core: &StreamCore) -> io::Result<SocketAddr> {
    unix_from_sock_addr(&crate::sys::socket::local_addr(std::os::fd::AsFd::as_fd(
        core.fd(),
    ))?)
}
