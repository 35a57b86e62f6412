//! TCP: [`TcpListener`], [`TcpStream`] with its owned halves, and
//! [`TcpSocket`] for setting options before `bind`/`listen`/`connect`.
//!
//! The main types are re-exported from [`runtime::net`](crate::net); this
//! module also holds their named futures ([`Accept`], [`Connect`]), the
//! [`Incoming`] stream and the halves of [`TcpStream::into_split`].

mod listener;
mod socket;
mod split;
mod stream;

pub use listener::{Accept, Incoming, TcpListener};
pub use socket::{Connect, TcpSocket};
pub use split::{OwnedReadHalf, OwnedWriteHalf, ReuniteError};
pub use stream::TcpStream;
