//! `FixedBuf`: one buffer of a [`FixedPool`](super::FixedPool), owned until dropped.

use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::rc::Rc;

use super::fixed_pool::Pool;
use super::fixed_slot::{FixedSlot, FixedToken};
use super::{IoBuf, IoBufMut};

/// A buffer from a [`FixedPool`](super::FixedPool): registered with the
/// worker's io_uring instance (when the pool is), page-aligned, of the pool's
/// `buf_size()`.
///
/// It works like an [`AlignedBuf`](super::AlignedBuf): `len()` bytes are in
/// use, a read fills up to `capacity()` and raises `len` to what was read.
/// Dropping it gives it back to its pool. While an operation owns it (even
/// one whose future was dropped), it is not back: the pool hands it out
/// again only after the kernel's completion for that operation was reaped.
pub struct FixedBuf {
    /// Start of this buffer inside the pool's memory. Kept here, not looked
    /// up through `pool`, so a blocking-pool thread running an epoll read
    /// touches only this field, never the `Rc`.
    ptr: NonNull<u8>,
    /// Size of the buffer (the pool's `buf_size`, at most 1 GiB); 32 bits
    /// keep the buffer, and the ops that carry it, small.
    cap: u32,
    /// Bytes in use, `<= cap`; all bytes are initialised (the pool is zeroed).
    len: usize,
    /// Which buffer of the pool this is.
    index: u16,
    /// Keeps the memory (and its registration) alive; takes the buffer back on drop.
    pool: Rc<Pool>,
}

impl FixedBuf {
    /// Buffer `index` of `pool`, empty.
    pub(super) fn new(pool: Rc<Pool>, index: u16) -> FixedBuf {
        FixedBuf {
            ptr: pool.buf_ptr(index),
            cap: u32::try_from(pool.size()).expect("a pool's buffers are at most 1 GiB"),
            len: 0,
            index,
            pool,
        }
    }

    /// Number of bytes in use.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no bytes are in use.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Size of the buffer; fixed.
    pub fn capacity(&self) -> usize {
        self.cap as usize
    }

    /// Which buffer of its pool this is (0-based).
    pub fn index(&self) -> usize {
        usize::from(self.index)
    }

    /// Sets the length to 0, keeping the memory.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Shortens the buffer to `len` bytes; does nothing if it is not longer.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Appends `data`.
    ///
    /// # Errors
    ///
    /// `InvalidInput`, with nothing copied, if `data` does not fit in the
    /// spare capacity: the buffer never grows.
    pub fn extend_from_slice(&mut self, data: &[u8]) -> io::Result<()> {
        if data.len() > (self.cap as usize) - self.len {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "data does not fit in the FixedBuf's capacity",
            ));
        }
        // SAFETY: `len + data.len() <= cap`, so the target lies inside this
        // buffer, which `data` (a shared borrow elsewhere) cannot overlap.
        unsafe {
            let dst = self.ptr.as_ptr().add(self.len);
            std::ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len());
        }
        self.len += data.len();
        Ok(())
    }
}

impl Drop for FixedBuf {
    fn drop(&mut self) {
        self.pool.put_back(self.index);
    }
}

impl Deref for FixedBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` is valid for `cap` initialised bytes that only this
        // buffer hands out; `len <= cap`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for FixedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl AsRef<[u8]> for FixedBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl AsMut<[u8]> for FixedBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl fmt::Debug for FixedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBuf")
            .field("index", &self.index)
            .field("len", &self.len)
            .field("capacity", &self.cap)
            .field("registered", &self.pool.slot(self.index).is_some())
            .finish()
    }
}

// SAFETY: the bytes live in the pool's heap allocation, which this value
// keeps alive and which does not move with it; all `cap` bytes are
// initialised (zeroed at allocation) and `len <= cap`.
unsafe impl IoBuf for FixedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len
    }

    fn bytes_total(&self) -> usize {
        self.cap as usize
    }

    fn fixed_slot(&self, _: FixedToken) -> Option<FixedSlot> {
        self.pool.slot(self.index)
    }
}

// SAFETY: the buffer is handed out to one `FixedBuf` at a time, writable for
// `cap` bytes from the same address, and any byte values are valid;
// `set_init` only raises `len`, clamped to `cap`.
unsafe impl IoBufMut for FixedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    #[inline]
    unsafe fn set_init(&mut self, pos: usize) {
        self.len = self.len.max(pos.min(self.cap as usize));
    }
}
