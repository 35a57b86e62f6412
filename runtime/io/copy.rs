//! `copy`: move every byte from a reader to a writer until end of stream.

use std::io;

use super::{ReadOwned, WriteOwned};

/// Size of the buffer `copy` reads into.
const COPY_BUF: usize = 64 * 1024;

/// Copies everything `reader` yields into `writer` until the reader reports
/// end of stream, and returns the number of bytes copied.
///
/// One 64 KiB buffer moves back and forth between the two; nothing is copied
/// in user space. `writer` is not shut down at the end: call
/// [`WriteOwned::shutdown`] if the peer should see end of stream.
///
/// # Errors
///
/// The first error of either side (`Interrupted` reads are retried). Bytes
/// read but not yet written when a write fails are lost.
///
/// ```no_run
/// use runtime::net::TcpStream;
///
/// # async fn f() -> std::io::Result<()> {
/// let mut a = TcpStream::connect("127.0.0.1:7000").await?;
/// let mut b = TcpStream::connect("127.0.0.1:8000").await?;
/// let n = runtime::io::copy(&mut a, &mut b).await?;
/// println!("copied {n} bytes");
/// # Ok(())
/// # }
/// ```
pub async fn copy<R, W>(reader: &mut R, writer: &mut W) -> io::Result<u64>
where
    R: ReadOwned + ?Sized,
    W: WriteOwned + ?Sized,
{
    let mut buf = Vec::with_capacity(COPY_BUF);
    let mut total = 0u64;
    loop {
        buf.clear();
        let (res, b) = reader.read(buf).await;
        buf = b;
        let n = match res {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let (res, b) = writer.write_all(buf).await;
        buf = b;
        res?;
        total += n as u64;
    }
}
