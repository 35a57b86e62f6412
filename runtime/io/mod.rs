//! Owned-buffer I/O traits: [`ReadOwned`] and [`WriteOwned`], and the helpers
//! built on them: [`copy`], [`read_to_end`], [`read_exact`], and the buffered,
//! cancel-safe line reader [`BufReader`].
//!
//! These are the completion-based counterparts of `std::io::Read` and
//! `Write`: the kernel may touch the buffer after the call that started an
//! operation returned, so each method takes its buffer **by value** and hands
//! it back with the result (a [`BufResult`]). They play the part of monoio's
//! `AsyncReadRent`/`AsyncWriteRent`; the names say what differs from the
//! poll-based `AsyncRead`/`AsyncWrite` of tokio and futures: ownership.
//!
//! Stream types ([`TcpStream`](crate::net::TcpStream), its halves, Unix
//! streams) implement both traits, so generic code such as a proxy works over
//! any of them:
//!
//! ```no_run
//! use runtime::io::{copy, WriteOwned};
//! use runtime::net::TcpStream;
//!
//! # async fn proxy() -> std::io::Result<()> {
//! let client = TcpStream::connect("127.0.0.1:7000").await?;
//! let server = TcpStream::connect("127.0.0.1:8000").await?;
//! let (mut client_rd, mut client_wr) = client.into_split();
//! let (mut server_rd, mut server_wr) = server.into_split();
//! let up = runtime::spawn(async move {
//!     let n = copy(&mut client_rd, &mut server_wr).await;
//!     let _ = server_wr.shutdown().await; // the server sees EOF
//!     n
//! });
//! copy(&mut server_rd, &mut client_wr).await?;
//! up.await.map_err(std::io::Error::other)??;
//! # Ok(())
//! # }
//! ```
//!
//! The futures these methods return are `Send` where their buffers are, so
//! a `Send` future may await them; like every operation, they run on the
//! worker that polls them.

/// The loop of `write_all`: writes `$buf` with `$write` (one write of
/// `$rest`, the bytes not yet written) until all are written, retrying short
/// writes and `Interrupted`. It evaluates to the result and the buffer, and
/// `return`s them from the enclosing async body on failure. A macro because
/// the trait's default cannot hand its `&mut self` to `write_all_with`'s
/// closure (each write's future would borrow it past the call).
macro_rules! write_all_loop {
    ($buf:expr, |$rest:ident| $write:expr) => {{
        let mut buf = $buf;
        let end = buf.bytes_init();
        let mut done = 0;
        while done < end {
            let $rest = IoBuf::slice(buf, done..end);
            let (res, slice) = $write.await;
            buf = slice.into_inner();
            match res {
                Ok(0) => return (Err(io::ErrorKind::WriteZero.into()), buf),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }};
}

mod buf_reader;
// Always in the docs, which link to it; its items need their features.
#[cfg(any(doc, feature = "hyper", feature = "tokio-io", feature = "futures-io"))]
pub mod compat;
mod copy;
mod lines;
mod read_exact;
mod read_to_end;

use std::future::Future;
use std::io;

use crate::buf::{BufResult, IoBuf, IoBufMut};

pub use buf_reader::BufReader;
pub use copy::copy;
pub use lines::Lines;
pub use read_exact::read_exact;
pub use read_to_end::read_to_end;

/// A source of bytes read into owned buffers.
///
/// Implement [`read`](ReadOwned::read); [`readv`](ReadOwned::readv) has a
/// default that reads into the first buffer with room.
pub trait ReadOwned {
    /// Reads into `buf`, from its start, up to its
    /// [`bytes_total`](IoBuf::bytes_total), and returns how many bytes arrived
    /// (`Ok(0)`: end of stream, or a zero-sized buffer) along with the buffer.
    ///
    /// The buffer's initialised length grows to cover the bytes read (a
    /// `Vec::with_capacity(n)` comes back with `len()` equal to the count).
    fn read<B: IoBufMut>(&mut self, buf: B) -> impl Future<Output = BufResult<usize, B>>;

    /// Reads into `bufs` in order, as one operation where the type supports it.
    fn readv<B: IoBufMut>(
        &mut self,
        bufs: Vec<B>,
    ) -> impl Future<Output = BufResult<usize, Vec<B>>> {
        first_with(bufs, |b| b.bytes_total() > 0, move |b| self.read(b))
    }
}

/// The default `readv` and `writev`: `io` on the first of `bufs` that
/// `wanted` (has room, or has bytes), put back in its place; `Ok(0)` when
/// none is.
async fn first_with<B, F>(
    mut bufs: Vec<B>,
    wanted: impl Fn(&B) -> bool,
    io: impl FnOnce(B) -> F,
) -> BufResult<usize, Vec<B>>
where
    F: Future<Output = BufResult<usize, B>>,
{
    let Some(i) = bufs.iter().position(wanted) else {
        return (Ok(0), bufs);
    };
    let (res, buf) = io(bufs.remove(i)).await;
    bufs.insert(i, buf);
    (res, bufs)
}

/// A sink of bytes written from owned buffers.
///
/// Implement [`write`](WriteOwned::write) and
/// [`shutdown`](WriteOwned::shutdown); the others have defaults.
pub trait WriteOwned {
    /// Writes the initialised bytes of `buf` (maybe only some of them) and
    /// returns how many were written, along with the buffer.
    fn write<B: IoBuf>(&mut self, buf: B) -> impl Future<Output = BufResult<usize, B>>;

    /// Writes from `bufs` in order, as one operation where the type supports it.
    fn writev<B: IoBuf>(&mut self, bufs: Vec<B>) -> impl Future<Output = BufResult<usize, Vec<B>>> {
        first_with(bufs, |b| b.bytes_init() > 0, move |b| self.write(b))
    }

    /// Writes every initialised byte of `buf`, retrying short writes.
    ///
    /// A write that makes no progress is an error of kind `WriteZero`. On
    /// error, some bytes may have been written.
    fn write_all<B: IoBuf>(&mut self, buf: B) -> impl Future<Output = BufResult<(), B>> {
        async move { write_all_loop!(buf, |rest| self.write(rest)) }
    }

    /// Sends anything buffered in user space; sockets have nothing to flush.
    fn flush(&mut self) -> impl Future<Output = io::Result<()>> {
        std::future::ready(Ok(()))
    }

    /// Ends the writing direction: the peer reads end-of-stream.
    fn shutdown(&mut self) -> impl Future<Output = io::Result<()>>;
}

impl<T: ReadOwned + ?Sized> ReadOwned for &mut T {
    fn read<B: IoBufMut>(&mut self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        (**self).read(buf)
    }

    fn readv<B: IoBufMut>(
        &mut self,
        bufs: Vec<B>,
    ) -> impl Future<Output = BufResult<usize, Vec<B>>> {
        (**self).readv(bufs)
    }
}

impl<T: WriteOwned + ?Sized> WriteOwned for &mut T {
    fn write<B: IoBuf>(&mut self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        (**self).write(buf)
    }

    fn writev<B: IoBuf>(&mut self, bufs: Vec<B>) -> impl Future<Output = BufResult<usize, Vec<B>>> {
        (**self).writev(bufs)
    }

    fn write_all<B: IoBuf>(&mut self, buf: B) -> impl Future<Output = BufResult<(), B>> {
        (**self).write_all(buf)
    }

    fn flush(&mut self) -> impl Future<Output = io::Result<()>> {
        (**self).flush()
    }

    fn shutdown(&mut self) -> impl Future<Output = io::Result<()>> {
        (**self).shutdown()
    }
}

/// `write_all` over any single-write function: sends the rest of `buf` until
/// it is all written, retrying short writes and `Interrupted`.
pub(crate) async fn write_all_with<B, W, F>(buf: B, mut write: W) -> BufResult<(), B>
where
    B: IoBuf,
    W: FnMut(crate::buf::Slice<B>) -> F,
    F: Future<Output = BufResult<usize, crate::buf::Slice<B>>>,
{
    write_all_loop!(buf, |rest| write(rest))
}
