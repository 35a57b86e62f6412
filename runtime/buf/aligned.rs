//! `AlignedBuf`: a heap buffer with a chosen alignment, for `O_DIRECT` files.
//!
//! `O_DIRECT` reads and writes bypass the page cache and need the buffer's
//! address, its length and the file offset aligned to the device's logical
//! block size (512 or 4096 bytes). A `Vec<u8>` is only byte-aligned.

use super::{IoBuf, IoBufMut};
use std::alloc::{self, Layout};
use std::ops::{Deref, DerefMut};
use std::ptr::{self, NonNull};
use std::{fmt, io};

/// Alignment of [`AlignedBuf::new`]: a page, a multiple of common block sizes.
const DEFAULT_ALIGN: usize = 4096;

/// A fixed-capacity heap buffer whose address and capacity are multiples of
/// its alignment, as `O_DIRECT` needs.
///
/// It works like a `Vec<u8>` that never reallocates: [`len`](AlignedBuf::len)
/// bytes are in use, and a read fills up to [`capacity`](AlignedBuf::capacity)
/// and raises `len` to what was read. The memory is zeroed when allocated.
///
/// # Examples
///
/// ```
/// use runtime::buf::AlignedBuf;
///
/// let mut buf = AlignedBuf::new(1000);
/// assert_eq!(buf.capacity(), 4096); // rounded up to the alignment
/// assert_eq!(buf.as_ptr() as usize % 4096, 0);
/// buf.extend_from_slice(b"header")?;
/// assert_eq!(&buf[..], b"header");
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct AlignedBuf {
    /// Start of the memory, aligned; dangling but still aligned when the capacity is 0.
    ptr: NonNull<u8>,
    /// Capacity and alignment, kept to free the memory with the layout it came from.
    layout: Layout,
    /// Bytes in use, `<= layout.size()`; all bytes are initialised (zeroed), these are exposed.
    len: usize,
}

impl AlignedBuf {
    /// Allocates a zeroed buffer aligned to 4096 bytes, with `capacity` rounded
    /// up to a multiple of 4096, and a length of 0.
    ///
    /// # Panics
    ///
    /// If the rounded capacity exceeds `isize::MAX`, like `Vec::with_capacity`.
    /// Running out of memory aborts via [`std::alloc::handle_alloc_error`].
    #[track_caller]
    pub fn new(capacity: usize) -> Self {
        match Self::with_alignment(capacity, DEFAULT_ALIGN) {
            Ok(buf) => buf,
            Err(e) => panic!("AlignedBuf::new({capacity}): {e}"),
        }
    }

    /// Allocates a zeroed buffer aligned to `align` bytes, with `capacity`
    /// rounded up to a multiple of `align`, and a length of 0.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `align` is not a power of two (0 included), or if the
    /// rounded capacity exceeds `isize::MAX`. Running out of memory aborts via
    /// [`std::alloc::handle_alloc_error`], as for `Vec`.
    pub fn with_alignment(capacity: usize, align: usize) -> io::Result<Self> {
        if !align.is_power_of_two() {
            return Err(invalid("alignment must be a power of two"));
        }
        let size = capacity
            .checked_next_multiple_of(align)
            .ok_or_else(|| invalid("capacity too large"))?;
        let layout =
            Layout::from_size_align(size, align).map_err(|_| invalid("capacity too large"))?;
        Ok(AlignedBuf {
            ptr: allocate(layout),
            layout,
            len: 0,
        })
    }

    /// Number of bytes in use.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no bytes are in use.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Size of the memory; fixed, and a multiple of [`alignment`](AlignedBuf::alignment).
    pub fn capacity(&self) -> usize {
        self.layout.size()
    }

    /// Alignment of the memory's address, in bytes.
    pub fn alignment(&self) -> usize {
        self.layout.align()
    }

    /// Shortens the buffer to `len` bytes; does nothing if it is not longer.
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Sets the length to 0, keeping the memory.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Appends `data`.
    ///
    /// # Errors
    ///
    /// `InvalidInput`, with nothing copied, if `data` does not fit in the spare
    /// capacity: the buffer never reallocates.
    pub fn extend_from_slice(&mut self, data: &[u8]) -> io::Result<()> {
        if data.len() > self.capacity() - self.len {
            return Err(invalid("data does not fit in the AlignedBuf's capacity"));
        }
        // SAFETY: `len + data.len() <= capacity`, so the target lies inside our
        // allocation, which `data` (a shared borrow) cannot overlap.
        unsafe {
            let dst = self.ptr.as_ptr().add(self.len);
            ptr::copy_nonoverlapping(data.as_ptr(), dst, data.len());
        }
        self.len += data.len();
        Ok(())
    }
}

/// `InvalidInput` with a fixed message.
fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

/// Zeroed memory for `layout`, or an aligned dangling pointer if it is empty.
fn allocate(layout: Layout) -> NonNull<u8> {
    if layout.size() == 0 {
        // The address alone, with no provenance: never read, but aligned for the kernel.
        return NonNull::new(ptr::null_mut::<u8>().wrapping_add(layout.align()))
            .unwrap_or(NonNull::dangling());
    }
    // SAFETY: the layout's size is not zero.
    let ptr = unsafe { alloc::alloc_zeroed(layout) };
    NonNull::new(ptr).unwrap_or_else(|| alloc::handle_alloc_error(layout))
}

impl Drop for AlignedBuf {
    fn drop(&mut self) {
        if self.layout.size() != 0 {
            // SAFETY: `ptr` came from `alloc_zeroed(self.layout)` and is freed only here.
            unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) };
        }
    }
}

impl Clone for AlignedBuf {
    /// A new allocation with the same capacity, alignment and bytes in use.
    fn clone(&self) -> Self {
        let ptr = allocate(self.layout);
        let mut copy = AlignedBuf {
            ptr,
            layout: self.layout,
            len: self.len,
        };
        copy.copy_from_slice(self);
        copy
    }
}

impl Deref for AlignedBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: `ptr` is non-null, aligned, and valid for `capacity` bytes,
        // all zeroed at allocation or written since; `len <= capacity`.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `deref`, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl AsRef<[u8]> for AlignedBuf {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl AsMut<[u8]> for AlignedBuf {
    fn as_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlignedBuf")
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .field("alignment", &self.alignment())
            .finish()
    }
}

// SAFETY: the buffer owns its memory alone, as a `Box<[u8]>` does, and hands
// out `&[u8]` / `&mut [u8]` only under the matching borrow of itself.
unsafe impl Send for AlignedBuf {}
// SAFETY: `&AlignedBuf` allows reads only.
unsafe impl Sync for AlignedBuf {}

// SAFETY: the memory is on the heap (or an empty dangling address), so moving
// the value does not move it; all `capacity` bytes are initialised and `len <= capacity`.
unsafe impl IoBuf for AlignedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr.as_ptr()
    }

    fn bytes_init(&self) -> usize {
        self.len
    }

    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: the buffer owns its memory, writable for `capacity` bytes from the
// same address, and any byte values are valid; `set_init` only raises `len`.
unsafe impl IoBufMut for AlignedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    unsafe fn set_init(&mut self, pos: usize) {
        // Clamped as well, so even a wrong `pos` cannot push `len` past the memory.
        self.len = self.len.max(pos.min(self.capacity()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_and_capacity_are_aligned() {
        for align in [1, 512, 4096, 1 << 16] {
            for cap in [0, 1, 511, 4096, 5000] {
                let buf = AlignedBuf::with_alignment(cap, align).unwrap();
                assert_eq!(buf.as_ptr() as usize % align, 0, "align {align} cap {cap}");
                assert_eq!(buf.capacity() % align, 0);
                assert!(buf.capacity() >= cap && buf.capacity() < cap + align);
                assert_eq!((buf.len(), buf.alignment()), (0, align));
            }
        }
        let buf = AlignedBuf::new(1);
        assert_eq!((buf.capacity(), buf.alignment()), (4096, 4096));
    }

    #[test]
    fn bad_alignment_or_capacity_is_invalid_input() {
        for (cap, align) in [(64, 0), (64, 3), (64, 4097), (usize::MAX, 4096)] {
            let err = AlignedBuf::with_alignment(cap, align).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        }
    }

    #[test]
    fn extend_truncate_clear() {
        let mut buf = AlignedBuf::with_alignment(8, 8).unwrap();
        buf.extend_from_slice(b"abcdef").unwrap();
        let err = buf.extend_from_slice(b"xyz").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert_eq!(&buf[..], b"abcdef"); // nothing copied
        buf.truncate(10);
        buf.truncate(3);
        buf[0] = b'A';
        assert_eq!(&buf[..], b"Abc");
        let copy = buf.clone();
        buf.clear();
        assert!(buf.is_empty());
        assert_eq!((&copy[..], copy.capacity()), (&b"Abc"[..], 8));
    }

    #[test]
    fn read_raises_len_and_never_shrinks() {
        let mut buf = AlignedBuf::with_alignment(16, 16).unwrap();
        let ptr = buf.stable_mut_ptr();
        // SAFETY: 4 bytes fit in the capacity; this plays the kernel's part.
        unsafe { ptr.copy_from_nonoverlapping(b"data".as_ptr(), 4) };
        // SAFETY: the first 4 bytes were just written.
        unsafe { buf.set_init(4) };
        assert_eq!(&buf[..], b"data");
        // SAFETY: every byte of the buffer is initialised (zeroed at allocation).
        unsafe { buf.set_init(1) };
        assert_eq!((buf.bytes_init(), buf.bytes_total()), (4, 16));
    }

    #[test]
    fn slices_keep_the_alignment_of_their_start() {
        let s = AlignedBuf::new(8192).slice(4096..);
        assert_eq!(s.stable_ptr() as usize % 4096, 0);
        assert_eq!((s.bytes_init(), s.bytes_total()), (0, 4096));
    }

    #[test]
    fn send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<AlignedBuf>();
    }
}
