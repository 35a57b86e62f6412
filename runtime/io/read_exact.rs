//! `read_exact`: fill a buffer completely, or fail.

use std::io;

use super::ReadOwned;
use crate::buf::{BufResult, IoBuf, IoBufMut};

/// Reads until `buf` is full: all of its [`bytes_total`](IoBuf::bytes_total)
/// (a `Vec`'s capacity), retrying short reads.
///
/// To read exactly `n` bytes into part of a larger buffer, pass a
/// [`Slice`](crate::buf::Slice): `read_exact(&mut r, buf.slice(..n))`.
///
/// # Errors
///
/// `UnexpectedEof` if the stream ends first; otherwise the reader's first
/// error other than `Interrupted`. Either way the buffer comes back with the
/// bytes that did arrive counted as initialised.
///
/// ```no_run
/// use runtime::buf::IoBuf;
/// use runtime::net::TcpStream;
///
/// # async fn f() -> std::io::Result<()> {
/// let mut stream = TcpStream::connect("127.0.0.1:7000").await?;
/// let (res, header) = runtime::io::read_exact(&mut stream, vec![0u8; 16].slice(..4)).await;
/// res?;
/// let len = u32::from_be_bytes(header[..4].try_into().unwrap());
/// # let _ = len;
/// # Ok(())
/// # }
/// ```
pub async fn read_exact<R, B>(reader: &mut R, buf: B) -> BufResult<(), B>
where
    R: ReadOwned + ?Sized,
    B: IoBufMut,
{
    let total = buf.bytes_total();
    let mut buf = buf;
    let mut filled = 0;
    while filled < total {
        let (res, slice) = reader.read(IoBuf::slice(buf, filled..total)).await;
        buf = slice.into_inner();
        match res {
            Ok(0) => return (Err(io::ErrorKind::UnexpectedEof.into()), buf),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (Err(e), buf),
        }
    }
    (Ok(()), buf)
}
