//! The `IoBuf` / `IoBufMut` contracts and their implementations for std types.

use super::fixed_slot::{FixedSlot, FixedToken};
use super::Slice;
use std::ops::{Bound, RangeBounds};

/// A buffer the kernel may read from while an operation owns it.
///
/// Write and send operations take any `IoBuf` by value and read its first
/// [`bytes_init`](IoBuf::bytes_init) bytes from [`stable_ptr`](IoBuf::stable_ptr).
/// Use [`slice`](IoBuf::slice) to send only part of a buffer.
///
/// # Safety
///
/// Operations hand `stable_ptr()` to the kernel and then move the value around
/// (into the driver's slab, back to the caller). An implementation must
/// guarantee that, as long as the value lives and is not changed through its
/// own methods:
///
/// - `stable_ptr()` returns the same address every time, wherever the value is
///   moved to (heap or static memory, never inline in the value);
/// - the `bytes_total()` bytes from that address stay allocated and belong to
///   the value, and the first `bytes_init()` of them are initialised and valid
///   for reads;
/// - `bytes_init() <= bytes_total()`.
pub unsafe trait IoBuf: Unpin + 'static {
    /// Address of the first byte; stays the same when the value is moved.
    fn stable_ptr(&self) -> *const u8;

    /// Number of initialised bytes, the ones a write sends (`len()` for `Vec`).
    fn bytes_init(&self) -> usize;

    /// Size of the memory, initialised or not, a read may fill (`capacity()` for `Vec`).
    fn bytes_total(&self) -> usize;

    /// Takes the buffer and returns an owned view of `range` of it.
    ///
    /// The range is checked against [`bytes_total`](IoBuf::bytes_total), not
    /// `bytes_init`, so a read can target the spare capacity of a `Vec`.
    ///
    /// # Panics
    ///
    /// Like `&buf[range]`: if the range ends past `bytes_total()` or starts after
    /// it ends. [`try_slice`](IoBuf::try_slice) returns the buffer instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::buf::IoBuf;
    ///
    /// let slice = b"hello world".to_vec().slice(6..);
    /// assert_eq!(&slice[..], b"world");
    /// assert_eq!(slice.into_inner(), b"hello world");
    /// ```
    #[track_caller]
    fn slice(self, range: impl RangeBounds<usize>) -> Slice<Self>
    where
        Self: Sized,
    {
        let total = self.bytes_total();
        match checked_range(&range, total) {
            Some((begin, end)) => Slice::new(self, begin, end),
            None => out_of_bounds(&range, total),
        }
    }

    /// The registered buffer this memory lies in, so io_uring can use
    /// `READ_FIXED` / `WRITE_FIXED`; `None` (the default) for ordinary memory.
    /// Only [`FixedBuf`](super::FixedBuf) (and a [`Slice`] of one) says
    /// otherwise: the argument cannot be named outside this crate.
    #[doc(hidden)]
    fn fixed_slot(&self, _: FixedToken) -> Option<FixedSlot> {
        None
    }

    /// Like [`slice`](IoBuf::slice), but gives the buffer back in `Err` when the
    /// range does not fit, instead of panicking.
    ///
    /// # Examples
    ///
    /// ```
    /// use runtime::buf::IoBuf;
    ///
    /// let buf = Vec::<u8>::with_capacity(16);
    /// let buf = buf.try_slice(8..32).unwrap_err(); // past the capacity
    /// assert!(buf.try_slice(8..16).is_ok());
    /// ```
    fn try_slice(self, range: impl RangeBounds<usize>) -> Result<Slice<Self>, Self>
    where
        Self: Sized,
    {
        match checked_range(&range, self.bytes_total()) {
            Some((begin, end)) => Ok(Slice::new(self, begin, end)),
            None => Err(self),
        }
    }
}

/// A buffer the kernel may write into while an operation owns it.
///
/// Read and receive operations write up to [`bytes_total`](IoBuf::bytes_total)
/// bytes from [`stable_mut_ptr`](IoBufMut::stable_mut_ptr), starting at offset
/// 0, then call [`set_init`](IoBufMut::set_init) with the count the kernel
/// reported. A `Vec` therefore grows its `len` to cover what was read but never
/// shrinks: `vec![0; 4096]` keeps length 4096 after a short read, while
/// `Vec::with_capacity(4096)` comes back with length `n`.
///
/// # Safety
///
/// On top of the [`IoBuf`] contract, an implementation must guarantee that:
///
/// - `stable_mut_ptr()` is the address `stable_ptr()` returns, and all
///   `bytes_total()` bytes from it are valid for writes through that pointer;
/// - any byte values may be written there without breaking the type's own
///   invariants (which is why `String` is not `IoBufMut`);
/// - `set_init` never makes `bytes_init()` count a byte its caller did not
///   promise is initialised.
pub unsafe trait IoBufMut: IoBuf {
    /// Address of the first byte, for writing; same address as `stable_ptr()`.
    fn stable_mut_ptr(&mut self) -> *mut u8;

    /// Marks the first `pos` bytes as initialised: raises `bytes_init()` to
    /// `pos` if it is lower, never lowers it.
    ///
    /// Operations call this after the kernel reported writing `pos` bytes.
    ///
    /// # Safety
    ///
    /// `pos <= bytes_total()`, and the first `pos` bytes at `stable_mut_ptr()`
    /// are initialised (for example, the kernel just wrote them).
    unsafe fn set_init(&mut self, pos: usize);
}

/// `(begin, end)` of `range` if `begin <= end <= total`; `None` on overflow too.
pub(super) fn checked_range(
    range: &impl RangeBounds<usize>,
    total: usize,
) -> Option<(usize, usize)> {
    let begin = match range.start_bound() {
        Bound::Included(&n) => n,
        Bound::Excluded(&n) => n.checked_add(1)?,
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&n) => n.checked_add(1)?,
        Bound::Excluded(&n) => n,
        Bound::Unbounded => total,
    };
    (begin <= end && end <= total).then_some((begin, end))
}

/// The panic of `slice` for a range [`checked_range`] rejected.
#[track_caller]
pub(super) fn out_of_bounds(range: &impl RangeBounds<usize>, total: usize) -> ! {
    panic!(
        "range ({:?}, {:?}) out of bounds for a buffer of {total} bytes",
        range.start_bound(),
        range.end_bound()
    )
}

/// `IoBuf` for types whose bytes live on the heap or in static memory, the
/// first `len` of them initialised, with room for `$total` (`capacity` for a
/// growable one, `len` for one that cannot grow).
macro_rules! heap_io_buf {
    ($total:ident: $($ty:ty),* $(,)?) => {$(
        // SAFETY: the bytes live on the heap or in static memory, so moving the
        // value does not move them; the first `len` are initialised, and
        // `len <= $total`.
        unsafe impl IoBuf for $ty {
            fn stable_ptr(&self) -> *const u8 {
                self.as_ptr()
            }

            fn bytes_init(&self) -> usize {
                self.len()
            }

            fn bytes_total(&self) -> usize {
                self.$total()
            }
        }
    )*};
}

// A `String` is a `Vec<u8>` underneath, but not `IoBufMut`: the kernel could
// write bytes that are not UTF-8.
heap_io_buf!(capacity: Vec<u8>, String);
// `Box<str>` and `&str` are `IoBuf` only, for the same reason as `String`.
heap_io_buf!(len: Box<[u8]>, Box<str>, &'static [u8], &'static str);

// SAFETY: `as_mut_ptr` is the heap address `as_ptr` returns and is valid for
// writes of `capacity` bytes; `set_init` raises `len` to `pos` and no further.
unsafe impl IoBufMut for Vec<u8> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }

    unsafe fn set_init(&mut self, pos: usize) {
        debug_assert!(pos <= self.capacity(), "set_init past the capacity");
        if pos > self.len() {
            // SAFETY: the caller promises `pos <= capacity` and that the first
            // `pos` bytes are initialised.
            unsafe { self.set_len(pos) };
        }
    }
}

// SAFETY: the box owns its bytes uniquely, so they are valid for writes through
// `as_mut_ptr`; they are all initialised already, so `set_init` has nothing to do.
unsafe impl IoBufMut for Box<[u8]> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }

    unsafe fn set_init(&mut self, _pos: usize) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vec_with_capacity_grows_to_what_was_read() {
        let mut buf = Vec::<u8>::with_capacity(64);
        assert_eq!((buf.bytes_init(), buf.bytes_total()), (0, buf.capacity()));
        let ptr = buf.stable_mut_ptr();
        // SAFETY: 5 bytes fit in the capacity of 64; this plays the kernel's part.
        unsafe { ptr.copy_from_nonoverlapping(b"hello".as_ptr(), 5) };
        // SAFETY: the first 5 bytes were just written.
        unsafe { buf.set_init(5) };
        assert_eq!(buf, b"hello");
    }

    #[test]
    fn set_init_never_shrinks() {
        let mut buf = vec![7u8; 32];
        // SAFETY: all 32 bytes are initialised, so the first 4 are.
        unsafe { buf.set_init(4) };
        assert_eq!(buf.len(), 32);

        let mut boxed: Box<[u8]> = vec![1u8; 8].into_boxed_slice();
        // SAFETY: all 8 bytes are initialised.
        unsafe { boxed.set_init(2) };
        assert_eq!((boxed.bytes_init(), boxed.bytes_total()), (8, 8));
    }

    #[test]
    fn stable_ptr_survives_a_move() {
        let buf = vec![1u8, 2, 3];
        let before = buf.stable_ptr();
        let moved = Box::new(buf);
        assert_eq!(moved.stable_ptr(), before);
    }

    #[test]
    fn slice_bounds() {
        let buf = Vec::<u8>::with_capacity(16);
        let total = buf.bytes_total();
        let s = buf.slice(..);
        assert_eq!((s.begin(), s.end()), (0, total));
        let s = s.into_inner().slice(2..=5);
        assert_eq!((s.begin(), s.end()), (2, 6));
        let s = s.into_inner().slice(total..);
        assert_eq!((s.begin(), s.end()), (total, total));
        let s = s
            .into_inner()
            .slice((Bound::Excluded(1), Bound::Included(3)));
        assert_eq!((s.begin(), s.end()), (2, 4));
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn slice_past_total_panics() {
        let _ = b"abc".as_slice().slice(..4);
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    #[allow(clippy::reversed_empty_ranges)] // the point of the test
    fn slice_start_after_end_panics() {
        let _ = "abc".slice(2..1);
    }

    #[test]
    fn try_slice_gives_the_buffer_back() {
        let buf = String::from("hello");
        let total = buf.bytes_total();
        let buf = buf.try_slice(..total + 1).unwrap_err();
        assert_eq!(buf, "hello");
        let buf = buf.try_slice((Bound::Included(0), Bound::Included(usize::MAX)));
        let buf = buf.unwrap_err();
        let buf = buf.try_slice((Bound::Excluded(usize::MAX), Bound::Unbounded));
        assert_eq!(buf.unwrap_err(), "hello");
    }
}
