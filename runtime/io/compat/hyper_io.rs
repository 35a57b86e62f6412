//! hyper 1.x's [`hyper::rt::Read`] and [`hyper::rt::Write`] (feature
//! `hyper`) on every stream type and split half, `T` and `&T`, implemented on
//! the types themselves over the one list of
//! [`for_each_stream!`](crate::net::stream_traits::for_each_stream): hyper's connections
//! take a `TcpStream` as it is, no `TokioIo` wrapper.
//!
//! Reads fill hyper's buffer and are cancel safe; writes, flush and shutdown
//! follow the contract in [`io::compat`](crate::io::compat) (hyper's own
//! write buffer and vectored writes do the batching).

use std::io;
use std::task::{ready, Context, Poll};

use hyper::rt::ReadBufCursor;

use crate::net::stream_core::StreamCore;

/// `poll_read` into the unfilled part of hyper's buffer.
fn poll_read(
    core: &StreamCore,
    cx: &mut Context<'_>,
    mut buf: ReadBufCursor<'_>,
) -> Poll<io::Result<()>> {
    // SAFETY: the kernel writes only initialised bytes into the slice, and
    // nothing here de-initialises any part of it.
    let unfilled = unsafe { buf.as_mut() };
    let n = ready!(core.poll_read(cx, unfilled))?;
    // SAFETY: the read initialised the first `n` bytes of the unfilled part.
    unsafe { buf.advance(n) };
    Poll::Ready(Ok(()))
}

/// hyper's traits for each reader and writer, and references to them.
macro_rules! hyper_io {
    (read: [$($r:ty),*], write: [$($w:ty),*]) => {
        $(
            hyper_io!(@read $r);
            hyper_io!(@read &$r);
        )*
        $(
            hyper_io!(@write $w);
            hyper_io!(@write &$w);
        )*
    };
    (@read $t:ty) => {
        impl hyper::rt::Read for $t {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: ReadBufCursor<'_>,
            ) -> Poll<io::Result<()>> {
                poll_read(crate::net::stream_core::AsStreamCore::stream_core(&*self), cx, buf)
            }
        }
    };
    (@write $t:ty) => {
        super::poll_write_impl!(hyper::rt::Write, $t);
    };
}

crate::net::stream_traits::for_each_stream!(hyper_io);
