//! `OwnedReadHalf` / `OwnedWriteHalf`: a `TcpStream` split for two tasks,
//! defined by the split-half core shared with Unix streams.

use std::io;
use std::net::SocketAddr;

use super::TcpStream;
use crate::net::stream_core::StreamCore;

crate::net::split::owned_halves! {
    stream: TcpStream,
    addr: SocketAddr,
    peer: peer_addr,
    local: local_addr,
    kind: "TCP"
}

/// The address of the peer of `core`'s socket.
pub(super) fn peer_addr(core: &StreamCore) -> io::Result<SocketAddr> {
    crate::sys::socket::peer_addr(std::os::fd::AsFd::as_fd(core.fd()))?.to_std()
}

/// The local address of `core`'s socket.
pub(super) fn local_addr(core: &StreamCore) -> io::Result<SocketAddr> {
    crate::sys::socket::local_addr(std::os::fd::AsFd::as_fd(core.fd()))?.to_std()
}
