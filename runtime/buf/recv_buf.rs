//! [`RecvBuf`]: bytes a socket received, handed over without a copy: the
//! worker's provided buffer the kernel filled (io_uring), lent to the
//! caller until the `RecvBuf` is dropped, or a plain `Vec` elsewhere.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use super::IoBuf;
use crate::driver::PoolMemory;

/// Bytes received by [`TcpStream::recv_buf`](crate::net::TcpStream::recv_buf)
/// (and the other streams' `recv_buf`), with no copy in user space.
///
/// On io_uring it is one of the worker's provided buffers, which the kernel
/// received into: dropping the `RecvBuf` gives it back to the worker for the
/// next receive, so keep it only as long as needed (the worker has a
/// bounded number, see [`Builder::recv_buffers`](crate::Builder::recv_buffers);
/// reads go on receiving into their own buffers while they are all lent
/// out). Elsewhere (epoll, or bytes that arrived without a provided buffer)
/// it owns a `Vec<u8>`.
///
/// It derefs to `[u8]`, and it is an [`IoBuf`], so it can be sent on as it is:
///
/// ```no_run
/// # async fn f(stream: runtime::net::TcpStream) -> std::io::Result<()> {
/// loop {
///     let buf = stream.recv_buf().await?;
///     if buf.is_empty() {
///         return Ok(()); // end of stream
///     }
///     let (res, _) = stream.write_all(buf).await; // echoed from where it was received
///     res?;
/// }
/// # }
/// ```
pub struct RecvBuf {
    /// Where the bytes are.
    bytes: Bytes,
}

/// Where a [`RecvBuf`]'s bytes are.
enum Bytes {
    /// Bytes `start..end` of provided buffer `bid` of `memory`.
    Pooled {
        /// The worker's buffers, kept alive while lent.
        memory: Arc<PoolMemory>,
        /// The buffer.
        bid: u16,
        /// First byte.
        start: u32,
        /// End of the bytes.
        end: u32,
    },
    /// A buffer of its own.
    Owned(Vec<u8>),
}

impl RecvBuf {
    /// Lends bytes `start..end` of buffer `bid` of `memory`, which the
    /// kernel wrote and the socket's queue handed over.
    pub(crate) fn pooled(memory: Arc<PoolMemory>, bid: u16, start: u32, end: u32) -> Self {
        RecvBuf {
            bytes: Bytes::Pooled {
                memory,
                bid,
                start,
                end,
            },
        }
    }

    /// Bytes in a buffer of their own.
    pub(crate) fn owned(bytes: Vec<u8>) -> Self {
        RecvBuf {
            bytes: Bytes::Owned(bytes),
        }
    }

    /// The bytes as a `Vec<u8>`: a provided buffer's are copied (and the
    /// buffer given back), a buffer of its own is handed over.
    pub fn into_vec(mut self) -> Vec<u8> {
        match &mut self.bytes {
            Bytes::Owned(v) => std::mem::take(v),
            Bytes::Pooled { .. } => self.to_vec(),
        }
    }
}

impl Deref for RecvBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match &self.bytes {
            Bytes::Pooled {
                memory,
                bid,
                start,
                end,
            } => {
                // SAFETY: this `RecvBuf` holds buffer `bid` (the ring gets it
                // back only in `drop`), and the kernel wrote `..end` of it.
                unsafe { memory.bytes(*bid, *start, end - start) }
            }
            Bytes::Owned(v) => v,
        }
    }
}

impl Drop for RecvBuf {
    fn drop(&mut self) {
        if let Bytes::Pooled { memory, bid, .. } = &self.bytes {
            // The worker puts it back in its ring at its next park, whatever
            // thread this is.
            memory.give_back_remote(*bid);
        }
    }
}

impl fmt::Debug for RecvBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.bytes {
            Bytes::Pooled { .. } => "pooled",
            Bytes::Owned(_) => "owned",
        };
        f.debug_struct("RecvBuf")
            .field("len", &self.len())
            .field("kind", &kind)
            .finish()
    }
}

impl AsRef<[u8]> for RecvBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

// SAFETY: the bytes live in the provided buffer (whose memory the `Arc`
// keeps mapped, at an address that does not move) or in the `Vec`'s heap
// block; moving the `RecvBuf` moves neither, and all of them are initialised.
unsafe impl IoBuf for RecvBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len()
    }

    fn bytes_total(&self) -> usize {
        self.len()
    }
}
