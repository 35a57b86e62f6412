//! `read_to_end`: read until end of stream into a growing `Vec`.

use std::io;

use super::ReadOwned;
use crate::buf::{BufResult, IoBuf};

/// The first reservation, and the smallest growth step.
const MIN_GROWTH: usize = 8 * 1024;
/// The largest growth step, so a huge stream does not double a huge buffer.
const MAX_GROWTH: usize = 1024 * 1024;

/// Reads from `reader` until end of stream, appending to `buf`, and returns
/// the number of bytes appended along with the buffer.
///
/// The bytes already in `buf` are kept. Spare capacity is filled first; the
/// buffer then grows by its own size (between 8 KiB and 1 MiB at a time).
///
/// # Errors
///
/// The reader's first error other than `Interrupted`; the bytes read until
/// then stay in the returned buffer.
///
/// ```no_run
/// use runtime::net::TcpStream;
///
/// # async fn f() -> std::io::Result<()> {
/// let mut stream = TcpStream::connect("127.0.0.1:7000").await?;
/// let (n, body) = runtime::io::read_to_end(&mut stream, Vec::new()).await;
/// println!("{} bytes: {:?}", n?, &body[..]);
/// # Ok(())
/// # }
/// ```
pub async fn read_to_end<R>(reader: &mut R, buf: Vec<u8>) -> BufResult<usize, Vec<u8>>
where
    R: ReadOwned + ?Sized,
{
    let start = buf.len();
    let mut buf = buf;
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(buf.capacity().clamp(MIN_GROWTH, MAX_GROWTH));
        }
        let (len, cap) = (buf.len(), buf.capacity());
        let (res, slice) = reader.read(buf.slice(len..cap)).await;
        buf = slice.into_inner();
        match res {
            Ok(0) => return (Ok(buf.len() - start), buf),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (Err(e), buf),
        }
    }
}
