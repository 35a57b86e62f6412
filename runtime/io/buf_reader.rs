//! `BufReader`: buffered, cancel-safe line and delimiter reading over any
//! [`ReadOwned`] stream.
//!
//! # Where the bytes are
//!
//! Every byte read from the inner stream goes into the reader's own buffer
//! (`buf[pos..]` is what has not been consumed) and leaves it only when a
//! method returns. A read of the inner stream is handed a buffer that holds
//! nothing of ours: the main buffer when it is empty, else the `spare`, whose
//! bytes are appended to the main buffer once the read completes. So a method
//! future dropped at an `.await` drops at most an empty buffer: the bytes it
//! had gathered stay here, and the ones the inner read had not delivered stay
//! with the inner stream (whose own `read` is cancel-safe).

use std::future::Future;
use std::io;

use super::{Lines, ReadOwned, WriteOwned};
use crate::buf::{fill_from_slice, BufResult, IoBuf, IoBufMut};

/// The default buffer size, as std's and tokio's `BufReader`.
const DEFAULT_CAPACITY: usize = 8 * 1024;

/// A buffered reader over an owned-buffer stream: [`read_line`](Self::read_line),
/// [`read_until`](Self::read_until), [`lines`](Self::lines) and
/// [`fill_buf`](Self::fill_buf)/[`consume`](Self::consume).
///
/// It reads the inner stream in chunks of its capacity (8 KiB by default) and
/// hands out bytes from its buffer; a line longer than the buffer grows it.
/// It is itself [`ReadOwned`] (and passes [`WriteOwned`] through), so it can
/// replace the stream it wraps.
///
/// It may own its stream or borrow it: `&TcpStream` (like `&UnixStream` and
/// the split halves) is `ReadOwned` and `WriteOwned` itself, as std's
/// `&TcpStream` is `Read` and `Write`, so `BufReader::new(&stream)` reads
/// lines while the same stream writes the replies, no split needed:
///
/// ```no_run
/// use runtime::io::BufReader;
///
/// # async fn f(stream: runtime::net::TcpStream) -> std::io::Result<()> {
/// let mut lines = BufReader::new(&stream).lines();
/// while let Some(line) = lines.next_line().await? {
///     let (res, _) = stream.write_all(format!("{line}\n").into_bytes()).await;
///     res?;
/// }
/// # Ok(())
/// # }
/// ```
///
/// # Cancel safety
///
/// Every method is cancel safe: if its future is dropped before it completes
/// (a timeout, the losing branch of a `select!`), no byte is lost. What was
/// already read stays in the `BufReader` and the next call returns it, in
/// order; what was not read yet stays with the stream. Unlike std's and
/// tokio's `read_line`, a partial line is never appended to your `String` or
/// `Vec`: the call appends a whole line (or the rest of the stream at its end)
/// or nothing.
///
/// This holds as long as the inner stream's own `read` is cancel safe, as the
/// runtime's streams' is.
///
/// ```no_run
/// use runtime::io::BufReader;
/// use runtime::net::TcpStream;
///
/// # async fn f() -> std::io::Result<()> {
/// let stream = TcpStream::connect("127.0.0.1:7000").await?;
/// let mut reader = BufReader::new(stream);
/// let mut line = String::new();
/// while reader.read_line(&mut line).await? != 0 {
///     print!("{line}");
///     line.clear();
/// }
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct BufReader<R> {
    /// The stream read from.
    inner: R,
    /// Bytes read and not yet handed out are `buf[pos..]`. Taken (left empty)
    /// while a read into it is in flight, which happens only when it is empty.
    buf: Vec<u8>,
    /// Start of the unconsumed bytes in `buf`.
    pos: usize,
    /// How many bytes each read of the inner stream asks for.
    capacity: usize,
    /// Receives a read while `buf` holds unconsumed bytes, so those bytes are
    /// never in a buffer the inner read owns; kept to reuse its allocation.
    spare: Vec<u8>,
}

impl<R> BufReader<R> {
    /// A reader with the default 8 KiB buffer.
    pub fn new(inner: R) -> Self {
        Self::with_capacity(DEFAULT_CAPACITY, inner)
    }

    /// A reader whose reads of `inner` ask for `capacity` bytes (at least one).
    /// The buffer is allocated on the first read.
    pub fn with_capacity(capacity: usize, inner: R) -> Self {
        BufReader {
            inner,
            buf: Vec::new(),
            pos: 0,
            capacity: capacity.max(1),
            spare: Vec::new(),
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The wrapped stream, mutably. Reading from it directly skips the
    /// buffered bytes.
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The wrapped stream; bytes still buffered are dropped (take them with
    /// [`buffer`](Self::buffer) first).
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// The bytes read from the stream and not yet consumed.
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// How many bytes each read of the inner stream asks for.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Marks `amt` bytes of [`buffer`](Self::buffer) (or all, if fewer) as
    /// consumed: later reads start after them.
    pub fn consume(&mut self, amt: usize) {
        self.pos = self.pos.saturating_add(amt).min(self.buf.len());
    }
}

impl<R: ReadOwned> BufReader<R> {
    /// The buffered bytes, reading the stream first if there are none.
    /// An empty slice means end of stream. Call [`consume`](Self::consume)
    /// with what you used.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it reads only into an empty buffer.
    ///
    /// ```no_run
    /// # async fn f(stream: runtime::net::TcpStream) -> std::io::Result<()> {
    /// let mut reader = runtime::io::BufReader::new(stream);
    /// let chunk = reader.fill_buf().await?;
    /// let n = chunk.len();
    /// println!("{n} bytes waiting");
    /// reader.consume(n);
    /// # Ok(())
    /// # }
    /// ```
    pub async fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pos >= self.buf.len() {
            self.fill_empty().await?;
        }
        Ok(self.buffer())
    }

    /// Reads until `byte` (included) or the end of the stream and appends
    /// those bytes to `out`; returns how many (0 at end of stream).
    ///
    /// # Errors
    ///
    /// The stream's error. The bytes gathered so far stay buffered and `out`
    /// is unchanged, so calling again continues where this call stopped.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe (see the [type docs](BufReader#cancel-safety)): `out` gets
    /// a whole segment or nothing.
    pub async fn read_until(&mut self, byte: u8, out: &mut Vec<u8>) -> io::Result<usize> {
        let len = self.next_segment(byte).await?;
        out.extend_from_slice(&self.buf[self.pos..self.pos + len]);
        self.pos += len;
        Ok(len)
    }

    /// Reads a line, `\n` included (a `\r\n` ending comes through as is), and
    /// appends it to `out`; returns its length in bytes (0 at end of stream).
    /// The last line of a stream may lack its `\n`.
    ///
    /// # Errors
    ///
    /// `InvalidData` if the line is not UTF-8: the line is consumed and
    /// `out` is unchanged, as with std's `read_line`. Otherwise the stream's
    /// error, with the partial line kept buffered.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe (see the [type docs](BufReader#cancel-safety)): `out` gets
    /// a whole line or nothing.
    pub async fn read_line(&mut self, out: &mut String) -> io::Result<usize> {
        let len = self.next_segment(b'\n').await?;
        let line = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        match std::str::from_utf8(line) {
            Ok(s) => {
                out.push_str(s);
                Ok(len)
            }
            Err(_) => Err(invalid_utf8()),
        }
    }

    /// The next line without its `\n` or `\r\n`, or `None` at end of stream.
    /// This is what [`Lines`] yields.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`read_line`](Self::read_line).
    pub async fn next_line(&mut self) -> io::Result<Option<String>> {
        let mut line = String::new();
        if self.read_line(&mut line).await? == 0 {
            return Ok(None);
        }
        if line.ends_with('\n') {
            line.pop();
            if line.ends_with('\r') {
                line.pop();
            }
        }
        Ok(Some(line))
    }

    /// The lines of the stream, each without its `\n` or `\r\n`: one at a
    /// time by [`Lines::next_line`], and, when the reader owns its stream
    /// (`R: 'static`), as a [`Stream`](futures_core::Stream) of
    /// `io::Result<String>`.
    ///
    /// ```no_run
    /// use runtime::io::BufReader;
    ///
    /// # async fn f(stream: runtime::net::TcpStream) -> std::io::Result<()> {
    /// let mut lines = BufReader::new(stream).lines();
    /// while let Some(line) = lines.next_line().await? {
    ///     println!("{line}");
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn lines(self) -> Lines<R> {
        Lines::new(self)
    }

    /// Makes sure `buf[pos..]` holds a `byte` or the stream's last bytes and
    /// returns the length of the segment up to and including it; 0 at end of
    /// stream. Consumes nothing.
    async fn next_segment(&mut self, byte: u8) -> io::Result<usize> {
        // Bytes of `buf[pos..]` already searched; a fill only appends.
        let mut searched = 0;
        loop {
            let avail = &self.buf[self.pos..];
            if let Some(i) = avail[searched..].iter().position(|&b| b == byte) {
                return Ok(searched + i + 1);
            }
            searched = avail.len();
            match self.fill_more().await {
                Ok(0) => return Ok(self.buf.len() - self.pos),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads the stream into the empty main buffer; the count, 0 at its end.
    async fn fill_empty(&mut self) -> io::Result<usize> {
        let mut buf = std::mem::take(&mut self.buf);
        self.pos = 0;
        buf.clear();
        if buf.capacity() > 4 * self.capacity {
            // One long line grew it: give the memory back.
            buf = Vec::new();
        }
        buf.reserve_exact(self.capacity);
        let (res, buf) = self.inner.read(buf).await;
        self.buf = buf;
        res
    }

    /// Reads more of the stream after the unconsumed bytes (through `spare`
    /// if there are any, so they never ride in a read); the count, 0 at its end.
    async fn fill_more(&mut self) -> io::Result<usize> {
        if self.pos >= self.buf.len() {
            return self.fill_empty().await;
        }
        let mut spare = std::mem::take(&mut self.spare);
        spare.clear();
        spare.reserve_exact(self.capacity);
        let (res, mut spare) = self.inner.read(spare).await;
        if res.is_ok() && !spare.is_empty() {
            if self.pos > 0 {
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            self.buf.extend_from_slice(&spare);
        }
        spare.clear();
        self.spare = spare;
        res
    }
}

/// std's error for a line that is not UTF-8.
fn invalid_utf8() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        "stream did not contain valid UTF-8",
    )
}

/// Buffered bytes first; a read at least as large as the buffer, with none
/// buffered, goes straight to the stream.
///
/// # Cancel safety
///
/// Cancel safe: the inner read is given either your buffer or an empty one.
impl<R: ReadOwned> ReadOwned for BufReader<R> {
    async fn read<B: IoBufMut>(&mut self, buf: B) -> BufResult<usize, B> {
        let mut buf = buf;
        if buf.bytes_total() == 0 {
            return (Ok(0), buf);
        }
        if self.pos >= self.buf.len() {
            if buf.bytes_total() >= self.capacity {
                return self.inner.read(buf).await;
            }
            if let Err(e) = self.fill_empty().await {
                return (Err(e), buf);
            }
        }
        let n = fill_from_slice(&mut buf, &self.buf[self.pos..]);
        self.pos += n;
        (Ok(n), buf)
    }
}

/// Writes go straight to the inner stream.
impl<R: WriteOwned> WriteOwned for BufReader<R> {
    fn write<B: IoBuf>(&mut self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        self.inner.write(buf)
    }

    fn writev<B: IoBuf>(&mut self, bufs: Vec<B>) -> impl Future<Output = BufResult<usize, Vec<B>>> {
        self.inner.writev(bufs)
    }

    fn write_all<B: IoBuf>(&mut self, buf: B) -> impl Future<Output = BufResult<(), B>> {
        self.inner.write_all(buf)
    }

    fn flush(&mut self) -> impl Future<Output = io::Result<()>> {
        self.inner.flush()
    }

    fn shutdown(&mut self) -> impl Future<Output = io::Result<()>> {
        self.inner.shutdown()
    }
}
