//! Bridges to the poll-based ecosystem, each behind its cargo feature and in
//! its own file. The I/O traits are implemented directly on the stream types
//! ([`TcpStream`](crate::net::TcpStream), [`UnixStream`](crate::net::UnixStream),
//! their split halves, and `&` of each): there is no wrapper to name.
//!
//! - `tokio-io`: tokio's `AsyncRead`/`AsyncWrite`, so `tokio::io::copy`,
//!   `BufReader`, `tokio_util::codec`, `tokio-rustls` … take our streams.
//! - `futures-io`: the futures crate's `AsyncRead`/`AsyncWrite`.
//! - `hyper`: hyper 1.x's `rt::Read`/`rt::Write` on the streams, and
//!   `HyperExecutor` and `HyperTimer`, hyper's runtime pieces.
//!
//! All three share one contract, from the stream core's poll-based methods:
//!
//! - **Cancel safe reads.** A read copies what the socket received into the
//!   caller's buffer and takes only what the poll that returns it reports:
//!   a caller that stops polling (`select!`, a timeout) loses nothing.
//! - **The kernel does the I/O.** On io_uring the kernel has already
//!   received the bytes (a multishot receive into the worker's buffers), and
//!   a write's bytes are copied into a kernel send of their own, one send in
//!   flight per socket, the next queued behind it (up to 64 KiB). On epoll
//!   a read is a non-blocking `recv` into the caller's buffer and a write
//!   one `send` (or gather `sendmsg`), made once the socket is ready.
//! - **Errors.** On epoll a write error is that write's; on io_uring the
//!   error of a queued send is reported by the next `poll_write`,
//!   `poll_flush` or `poll_shutdown`. `poll_flush` is ready once every
//!   written byte is the kernel's.
//! - **Shutdown** (`poll_shutdown`, futures' `poll_close`) is `shutdown(2)`
//!   of the write side once the bytes written before have gone out: the
//!   peer reads end of stream after them.
//!
//! ```no_run
//! # #[cfg(feature = "tokio-io")]
//! # async fn f() -> std::io::Result<()> {
//! use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
//!
//! let mut stream = runtime::net::TcpStream::connect("127.0.0.1:7000").await?;
//! // Named: the stream's own owned-buffer `write_all` wins method lookup.
//! AsyncWriteExt::write_all(&mut stream, b"hello\n").await?;
//! let mut lines = BufReader::new(stream).lines();
//! while let Some(line) = lines.next_line().await? {
//!     println!("{line}");
//! }
//! # Ok(())
//! # }
//! ```

/// The write side of a bridge whose trait names its methods as tokio's
/// `AsyncWrite` does (tokio's, and hyper's `rt::Write`): each method is the
/// stream core's, so the two bridges cannot drift apart. (futures-io's
/// `AsyncWrite` has `poll_close` and no `is_write_vectored`.)
#[cfg(any(feature = "tokio-io", feature = "hyper"))]
macro_rules! poll_write_impl {
    ($trait:path, $t:ty) => {
        impl $trait for $t {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                crate::net::stream_core::AsStreamCore::stream_core(&*self).poll_write(cx, buf)
            }

            fn poll_write_vectored(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[std::io::IoSlice<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                crate::net::stream_core::AsStreamCore::stream_core(&*self)
                    .poll_write_vectored(cx, bufs)
            }

            fn is_write_vectored(&self) -> bool {
                true
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                crate::net::stream_core::AsStreamCore::stream_core(&*self).poll_flush(cx)
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                crate::net::stream_core::AsStreamCore::stream_core(&*self).poll_shutdown(cx)
            }
        }
    };
}
#[cfg(any(feature = "tokio-io", feature = "hyper"))]
use poll_write_impl;

#[cfg(feature = "futures-io")]
mod futures_io;
#[cfg(feature = "hyper")]
mod hyper_io;
#[cfg(feature = "hyper")]
mod hyper_rt;
#[cfg(feature = "tokio-io")]
mod tokio_io;

#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub use hyper_rt::{HyperExecutor, HyperTimer};
