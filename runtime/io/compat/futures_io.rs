//! futures-io's [`AsyncRead`](futures_io::AsyncRead) and
//! [`AsyncWrite`](futures_io::AsyncWrite) (feature `futures-io`) on every
//! stream type and split half, `T` and `&T`, implemented on the types
//! themselves over the one list of [`for_each_stream!`](crate::net::stream_traits::for_each_stream).
//!
//! The same contract as the tokio bridge (see [`io::compat`](crate::io::compat)):
//! cancel safe reads into the caller's slice, writes the kernel performs,
//! and `poll_close` shuts the write side down after them.
#![forbid(unsafe_code)]

use std::io::{self, IoSlice};
use std::task::{Context, Poll};

/// futures-io's traits for each reader and writer, and references to them.
macro_rules! futures_io {
    (read: [$($r:ty),*], write: [$($w:ty),*]) => {
        $(
            futures_io!(@read $r);
            futures_io!(@read &$r);
        )*
        $(
            futures_io!(@write $w);
            futures_io!(@write &$w);
        )*
    };
    (@read $t:ty) => {
        impl futures_io::AsyncRead for $t {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                crate::net::stream_core::AsStreamCore::stream_core(&*self).poll_read_init(cx, buf)
            }
        }
    };
    (@write $t:ty) => {
        impl futures_io::AsyncWrite for $t {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                crate::net::stream_core::AsStreamCore::stream_core(&*self).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[IoSlice<'_>],
            ) -> Poll<io::Result<usize>> {
                crate::net::stream_core::AsStreamCore::stream_core(&*self)
                    .poll_write_vectored(cx, bufs)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<io::Result<()>> {
                crate::net::stream_core::AsStreamCore::stream_core(&*self).poll_flush(cx)
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<io::Result<()>> {
                crate::net::stream_core::AsStreamCore::stream_core(&*self).poll_shutdown(cx)
            }
        }
    };
}

crate::net::stream_traits::for_each_stream!(futures_io);
