//! tokio's [`AsyncRead`] and [`AsyncWrite`] (feature `tokio-io`) on every
//! stream type and split half, `T` and `&T`, implemented on the types
//! themselves over the one list of [`for_each_stream!`](crate::net::stream_traits::for_each_stream).
//!
//! `poll_read` fills the caller's `ReadBuf` with what the socket received,
//! taking only what the poll that returns it reports, so a caller that stops
//! polling loses nothing; writes, flush and shutdown follow the contract in
//! [`io::compat`](crate::io::compat).

use std::io;
use std::task::{ready, Context, Poll};

use tokio::io::ReadBuf;

use crate::net::stream_core::StreamCore;

/// `poll_read` into the unfilled part of `buf`.
pub(super) fn poll_read(
    core: &StreamCore,
    cx: &mut Context<'_>,
    buf: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    // SAFETY: the kernel writes only initialised bytes into the slice, and
    // nothing here de-initialises any part of it.
    let unfilled = unsafe { buf.unfilled_mut() };
    let n = ready!(core.poll_read(cx, unfilled))?;
    // SAFETY: the read initialised the first `n` bytes of the unfilled part.
    unsafe { buf.assume_init(n) };
    buf.advance(n);
    Poll::Ready(Ok(()))
}

/// tokio's traits for each reader and writer, and for references to them.
macro_rules! tokio_io {
    (read: [$($r:ty),*], write: [$($w:ty),*]) => {
        $(
            tokio_io!(@read $r);
            tokio_io!(@read &$r);
        )*
        $(
            tokio_io!(@write $w);
            tokio_io!(@write &$w);
        )*
    };
    (@read $t:ty) => {
        impl tokio::io::AsyncRead for $t {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut ReadBuf<'_>,
            ) -> Poll<io::Result<()>> {
                poll_read(crate::net::stream_core::AsStreamCore::stream_core(&*self), cx, buf)
            }
        }
    };
    (@write $t:ty) => {
        super::poll_write_impl!(tokio::io::AsyncWrite, $t);
    };
}

crate::net::stream_traits::for_each_stream!(tokio_io);
