//! [`RecvBuf`]: bytes a socket received, handed over without a copy: the
//! worker's provided buffer the kernel filled (io_uring), lent to the
//! caller until the `RecvBuf` is dropped, or a plain `Vec` elsewhere.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use super::IoBuf;
use crate::driver::send_queue::Queued;
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
    /// The first byte, wherever that is (kept so that reading a `RecvBuf`
    /// costs no lookup).
    ptr: *const u8,
    /// How many bytes.
    len: usize,
}

// SAFETY: `ptr` points into the bytes the `RecvBuf` owns (a lent buffer,
// shared memory that only the kernel writes while the buffer is in the
// ring, or a `Vec`); it is read only through `&self`.
unsafe impl Send for RecvBuf {}
// SAFETY: as above: shared access only reads.
unsafe impl Sync for RecvBuf {}

/// Where a [`RecvBuf`]'s bytes are.
enum Bytes {
    /// A provided buffer of `memory`, lent.
    Pooled {
        /// The worker's buffers, kept alive while lent.
        memory: Arc<PoolMemory>,
        /// The buffer.
        bid: u16,
    },
    /// A buffer of its own.
    Owned(Vec<u8>),
}

impl RecvBuf {
    /// Lends bytes `start..end` of buffer `bid` of `memory`, which the
    /// kernel wrote and the socket's queue handed over.
    pub(crate) fn pooled(memory: Arc<PoolMemory>, bid: u16, start: u32, end: u32) -> Self {
        // SAFETY: the queue handed buffer `bid` over (the ring gets it back
        // only when this `RecvBuf` drops), and the kernel wrote `..end` of it.
        let bytes = unsafe { memory.bytes(bid, start, end - start) };
        let (ptr, len) = (bytes.as_ptr(), bytes.len());
        RecvBuf {
            bytes: Bytes::Pooled { memory, bid },
            ptr,
            len,
        }
    }

    /// Bytes in a buffer of their own.
    pub(crate) fn owned(bytes: Vec<u8>) -> Self {
        let (ptr, len) = (bytes.as_ptr(), bytes.len());
        RecvBuf {
            bytes: Bytes::Owned(bytes),
            ptr,
            len,
        }
    }

    /// As an item of a socket's send queue, which gives a provided buffer
    /// back to its ring once sent.
    pub(crate) fn into_queued(mut self) -> Queued {
        let (ptr, len) = (self.ptr, self.len);
        match std::mem::replace(&mut self.bytes, Bytes::Owned(Vec::new())) {
            Bytes::Pooled { memory, bid } => Queued::Pooled {
                memory: Some(memory),
                bid,
                ptr,
                len,
            },
            Bytes::Owned(v) => Queued::Copied(v),
        }
    }

    /// The bytes as a `Vec<u8>`: a provided buffer's are copied (and the
    /// buffer given back), a buffer of its own is handed over.
    pub fn into_vec(mut self) -> Vec<u8> {
        match &mut self.bytes {
            Bytes::Owned(v) => {
                self.len = 0;
                std::mem::take(v)
            }
            Bytes::Pooled { .. } => self.to_vec(),
        }
    }
}

impl Deref for RecvBuf {
    type Target = [u8];

    #[inline]
    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` and `len` describe initialised bytes this `RecvBuf`
        // owns (see the fields), alive and unwritten while it lives.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
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
    #[inline]
    fn stable_ptr(&self) -> *const u8 {
        self.ptr
    }

    #[inline]
    fn bytes_init(&self) -> usize {
        self.len
    }

    #[inline]
    fn bytes_total(&self) -> usize {
        self.len
    }
}
