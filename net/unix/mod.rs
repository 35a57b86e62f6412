//! Unix-domain sockets: [`UnixListener`] and [`UnixStream`] (with its owned
//! halves) for streams, [`UnixDatagram`] for messages.
//!
//! Addresses are std's [`SocketAddr`](std::os::unix::net::SocketAddr), which
//! covers the three kinds Linux has: a filesystem path, a name in the
//! abstract namespace (no file; made with
//! [`SocketAddrExt::from_abstract_name`](std::os::linux::net::SocketAddrExt::from_abstract_name)),
//! and unnamed (a socket that never bound). The main types are re-exported
//! from [`runtime::net`](crate::net); this module also holds the named
//! futures and halves.

mod datagram;
mod listener;
mod split;
mod stream;

pub use datagram::UnixDatagram;
pub use listener::{Accept, Incoming, UnixListener};
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
pub use stream::UnixStream;
