//! [`RecvBuf`]: bytes a socket received, handed over without a copy: the
//! worker's provided buffer the kernel filled (io_uring), lent to the
//! caller until the `RecvBuf` is dropped, or a plain `Vec` elsewhere.
//! [`RecvTarget`] is what a one-shot `recv_buf` receives into before it
//! becomes a `RecvBuf`: on epoll, a buffer the driver lends (no allocation).

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use super::{IoBuf, IoBufMut};
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
    #[inline]
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
    #[inline]
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

/// The buffer a one-shot `recv_buf` receives into: one the driver lent
/// (epoll), or a `Vec` of its own when none is free.
#[derive(Debug)]
pub(crate) enum RecvTarget {
    /// A lent buffer, as the `RecvBuf` it becomes (holding what was
    /// received so far; it gives the buffer back if dropped).
    Lent(RecvBuf),
    /// A buffer of its own.
    Vec(Vec<u8>),
}

impl RecvTarget {
    /// Receives into buffer `bid` of `memory`, lent until the `RecvBuf` it
    /// becomes drops.
    pub(crate) fn lent(memory: Arc<PoolMemory>, bid: u16) -> Self {
        RecvTarget::Lent(RecvBuf::pooled(memory, bid, 0, 0))
    }

    /// What was received, as a `RecvBuf`.
    pub(crate) fn into_recv_buf(self) -> RecvBuf {
        match self {
            RecvTarget::Lent(buf) => buf,
            RecvTarget::Vec(v) => RecvBuf::owned(v),
        }
    }
}

/// The lent buffer's memory, its start (writable) and its size.
fn lent_buffer(buf: &RecvBuf) -> (*mut u8, usize) {
    match &buf.bytes {
        Bytes::Pooled { memory, bid } => (memory.buf_ptr(*bid), memory.buf_size() as usize),
        // Never built: a lent target is always pooled.
        Bytes::Owned(v) => (v.as_ptr().cast_mut(), 0),
    }
}

// SAFETY: a lent buffer lives in the driver's mapping, which the `Arc`
// keeps mapped at an address that does not move; a `Vec`'s heap block does
// not move with it either. `bytes_init` counts only what a receive wrote.
unsafe impl IoBuf for RecvTarget {
    fn stable_ptr(&self) -> *const u8 {
        match self {
            RecvTarget::Lent(buf) => lent_buffer(buf).0,
            RecvTarget::Vec(v) => v.as_ptr(),
        }
    }

    fn bytes_init(&self) -> usize {
        match self {
            RecvTarget::Lent(buf) => buf.len,
            RecvTarget::Vec(v) => v.len(),
        }
    }

    fn bytes_total(&self) -> usize {
        match self {
            RecvTarget::Lent(buf) => lent_buffer(buf).1,
            RecvTarget::Vec(v) => v.capacity(),
        }
    }
}

// SAFETY: as for `IoBuf`; the driver lends each buffer to one taker, so
// nothing else writes or reads it while it is lent.
unsafe impl IoBufMut for RecvTarget {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        match self {
            RecvTarget::Lent(buf) => lent_buffer(buf).0,
            RecvTarget::Vec(v) => v.as_mut_ptr(),
        }
    }

    unsafe fn set_init(&mut self, pos: usize) {
        match self {
            RecvTarget::Lent(buf) => {
                let (ptr, size) = lent_buffer(buf);
                buf.ptr = ptr;
                buf.len = buf.len.max(pos.min(size));
            }
            // SAFETY: the caller's contract: `..pos` is initialised.
            RecvTarget::Vec(v) => unsafe { v.set_init(pos) },
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
