//! Owned buffers: memory the kernel reads or writes while an operation is in flight.
//!
//! An io_uring operation hands the kernel a raw pointer and returns before the
//! kernel is done with it. A borrowed `&mut [u8]` cannot promise that memory
//! outlives the operation: the future may be dropped, or the borrow may end,
//! while the kernel is still writing. So every operation takes its buffer **by
//! value**, keeps it alive until the final completion is reaped (even when the
//! future is dropped first), and gives it back with the result:
//!
//! ```
//! # use runtime::buf::BufResult;
//! // What `file.read_at(buf, 0).await` returns: the buffer comes back even on error.
//! fn done(res: BufResult<usize, Vec<u8>>) -> Vec<u8> {
//!     let (n, buf) = res;
//!     if let Ok(n) = n {
//!         assert!(n <= buf.len());
//!     }
//!     buf
//! }
//! # done((Ok(0), Vec::new()));
//! ```
//!
//! The traits say what may be used this way:
//!
//! - [`IoBuf`]: memory the kernel may read (writes and sends), at an address that
//!   stays put when the value moves. `Vec<u8>`, `Box<[u8]>`, `String`, static
//!   slices and [`AlignedBuf`] implement it.
//! - [`IoBufMut`]: memory the kernel may write (reads and receives). After a read
//!   of `n` bytes the operation calls [`IoBufMut::set_init`], so a
//!   `Vec::with_capacity(4096)` comes back with `len() == n`, while a
//!   `vec![0; 4096]` keeps its length. Bytes are counted as initialised only
//!   after the kernel wrote them: no read ever exposes uninitialised memory.
//! - [`Slice`]: an owned range of a buffer, from [`IoBuf::slice`], for reading
//!   into or writing from part of it without giving up the rest.
//! - [`AlignedBuf`]: a heap buffer with a chosen alignment, for `O_DIRECT` files.
//! - [`FixedPool`] / [`FixedBuf`]: buffers registered with the worker's
//!   io_uring instance, read and written with `READ_FIXED` / `WRITE_FIXED`
//!   (plain buffers, same API, where registration is refused or on epoll).
//! - [`RecvBuf`]: bytes a socket received, lent without a copy (on io_uring,
//!   the worker's provided buffer the kernel filled), from `recv_buf()`.

mod aligned;
mod fill;
mod fixed_buf;
mod fixed_pool;
mod fixed_slot;
mod io_buf;
mod recv_buf;
mod slice;

pub use aligned::AlignedBuf;
pub(crate) use fill::fill_from_slice;
pub use fixed_buf::FixedBuf;
pub use fixed_pool::FixedPool;
pub(crate) use fixed_slot::{FixedSlot, FixedToken};
pub use io_buf::{IoBuf, IoBufMut};
pub use recv_buf::RecvBuf;
pub(crate) use recv_buf::RecvTarget;
pub use slice::Slice;

/// The result of an operation that owned a buffer: the outcome, and the buffer back.
///
/// The buffer is returned whatever happened, so an error never costs the
/// caller its allocation.
pub type BufResult<T, B> = (std::io::Result<T>, B);
