//! A TLS stream (tokio-rustls, over the `tokio-io` traits) as hyper's
//! `rt::Read`/`rt::Write`, for `serve` and the client connector with TLS.
//! hyper-util's `TokioIo` does the same but brings tokio's runtime features
//! with it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A TLS connection (tokio-rustls's client or server stream).
pub(crate) struct TlsIo<T> {
    /// The rustls session and the socket under it.
    inner: T,
}

impl<T> std::fmt::Debug for TlsIo<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIo").finish_non_exhaustive()
    }
}

impl<T> TlsIo<T> {
    /// Wraps a stream whose handshake completed.
    pub(crate) fn new(inner: T) -> Self {
        TlsIo { inner }
    }

    /// The TLS stream.
    #[cfg_attr(not(feature = "client"), allow(dead_code))]
    pub(crate) fn get_ref(&self) -> &T {
        &self.inner
    }
}

impl<T: AsyncRead + Unpin> hyper::rt::Read for TlsIo<T> {
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

impl<T: AsyncWrite + Unpin> hyper::rt::Write for TlsIo<T> {
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
