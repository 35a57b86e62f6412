//! A TLS stream (tokio-rustls, over the `tokio-io` traits) as hyper's
//! `rt::Read`/`rt::Write`, for `serve` with TLS. hyper-util's `TokioIo`
//! does the same but brings tokio's runtime features with it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::net::TcpStream;

/// A server-side TLS connection over a runtime `TcpStream`.
pub(crate) struct TlsIo {
    /// The rustls session and the socket under it.
    inner: tokio_rustls::server::TlsStream<TcpStream>,
}

impl TlsIo {
    /// Wraps a stream whose handshake completed.
    pub(crate) fn new(inner: tokio_rustls::server::TlsStream<TcpStream>) -> Self {
        TlsIo { inner }
    }
}

impl hyper::rt::Read for TlsIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        // SAFETY: the uninitialised tail goes to tokio's `ReadBuf`, which
        // never de-initialises bytes; only what it reports filled counts.
        let n = unsafe {
            let mut tail = ReadBuf::uninit(buf.as_mut());
            match Pin::new(&mut self.inner).poll_read(cx, &mut tail) {
                Poll::Ready(Ok(())) => tail.filled().len(),
                other => return other,
            }
        };
        // SAFETY: the read above initialised the first `n` bytes of the tail.
        unsafe { buf.advance(n) };
        Poll::Ready(Ok(()))
    }
}

impl hyper::rt::Write for TlsIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
