//! The read buffers: one page-aligned allocation cut into `depth` slots of
//! `bs` bytes, which the ring registers (and `O_DIRECT` accepts).

use std::alloc::{self, Layout};
use std::io;

/// `depth` buffers of `bs` bytes in one zeroed, page-aligned allocation.
pub(crate) struct Bufs {
    /// Start of the allocation.
    ptr: *mut u8,
    /// What it was allocated with, to free it.
    layout: Layout,
    /// Bytes per buffer, a multiple of 512.
    bs: usize,
    /// Number of buffers.
    count: usize,
}

impl Bufs {
    /// Allocates `count` buffers of `bs` bytes.
    pub(crate) fn new(count: usize, bs: usize) -> io::Result<Bufs> {
        let size = count
            .checked_mul(bs)
            .filter(|&s| s > 0)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "buffer size"))?;
        let layout = Layout::from_size_align(size, 4096)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: the layout's size is not zero (checked above).
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        if ptr.is_null() {
            alloc::handle_alloc_error(layout);
        }
        Ok(Bufs {
            ptr,
            layout,
            bs,
            count,
        })
    }

    /// Address of buffer `i` (`i < count`).
    pub(crate) fn ptr(&self, i: usize) -> *mut u8 {
        self.ptr.wrapping_add(i * self.bs)
    }

    /// One iovec per buffer, for `register_buffers`.
    pub(crate) fn iovecs(&self) -> Vec<libc::iovec> {
        (0..self.count)
            .map(|i| libc::iovec {
                iov_base: self.ptr(i).cast(),
                iov_len: self.bs,
            })
            .collect()
    }
}

impl Drop for Bufs {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `alloc_zeroed(self.layout)` and is freed only here.
        unsafe { alloc::dealloc(self.ptr, self.layout) };
    }
}
