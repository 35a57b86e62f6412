//! `Slice`: an owned range of a buffer, so an operation can use part of it.

use super::fixed_slot::{FixedSlot, FixedToken};
use super::io_buf::{checked_range, out_of_bounds};
use super::{IoBuf, IoBufMut};
use std::ops::{Deref, DerefMut, RangeBounds};

/// An owned view of `begin..end` of a buffer, made by [`IoBuf::slice`].
///
/// Operations cannot borrow (`&buf[2..]`), so a `Slice` carries the whole
/// buffer plus the range, acts as an [`IoBuf`] / [`IoBufMut`] for that range
/// only, and hands the buffer back through [`into_inner`](Slice::into_inner).
///
/// It dereferences to the initialised part of the range. Slicing a `Slice`
/// gives a `Slice` of the same buffer, with offsets relative to the outer one.
///
/// A read into a range that starts past the buffer's initialised bytes (spare
/// capacity of a `Vec`, say) zeroes the gap in between, so the buffer's
/// initialised bytes stay one prefix and no uninitialised byte is exposed.
///
/// # Examples
///
/// ```
/// use runtime::buf::IoBuf;
///
/// let slice = b"hello world".to_vec().slice(6..);
/// assert_eq!((slice.begin(), slice.end()), (6, 11));
/// let inner = slice.slice(1..3); // still a `Slice<Vec<u8>>`
/// assert_eq!(&inner[..], b"or");
/// assert_eq!(inner.begin(), 7);
/// ```
#[derive(Debug)]
pub struct Slice<T> {
    /// The whole buffer, handed back by `into_inner`.
    buf: T,
    /// Start of the view in `buf`.
    begin: usize,
    /// End of the view in `buf`; `begin <= end <= buf.bytes_total()` when made.
    end: usize,
}

impl<T> Slice<T> {
    /// Only `slice`/`try_slice` call this, after checking the bounds.
    pub(super) fn new(buf: T, begin: usize, end: usize) -> Self {
        Slice { buf, begin, end }
    }

    /// Offset in the buffer where the view starts.
    pub fn begin(&self) -> usize {
        self.begin
    }

    /// Offset in the buffer where the view ends (exclusive).
    pub fn end(&self) -> usize {
        self.end
    }

    /// The whole buffer, ignoring the range.
    pub fn get_ref(&self) -> &T {
        &self.buf
    }

    /// The whole buffer, ignoring the range.
    ///
    /// If the buffer shrinks through this reference, the view shrinks with
    /// it: the range is clamped to the buffer as it is now.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.buf
    }

    /// Gives back the whole buffer.
    pub fn into_inner(self) -> T {
        self.buf
    }
}

impl<T: IoBuf> Slice<T> {
    /// The view as offsets into `buf`, clamped in case `get_mut` shrank it.
    fn bounds(&self) -> (usize, usize) {
        let end = self.end.min(self.buf.bytes_total());
        (self.begin.min(end), end)
    }

    /// Narrows the view to `range`, relative to it, keeping the original buffer.
    ///
    /// This shadows [`IoBuf::slice`], which would wrap a `Slice` in another.
    ///
    /// # Panics
    ///
    /// If the range ends past `bytes_total()` or starts after it ends.
    #[track_caller]
    pub fn slice(self, range: impl RangeBounds<usize>) -> Slice<T> {
        let total = self.bytes_total();
        match checked_range(&range, total) {
            Some((b, e)) => self.narrow(b, e),
            None => out_of_bounds(&range, total),
        }
    }

    /// Like [`slice`](Slice::slice), but gives the `Slice` back unchanged in
    /// `Err` when the range does not fit.
    pub fn try_slice(self, range: impl RangeBounds<usize>) -> Result<Slice<T>, Self> {
        match checked_range(&range, self.bytes_total()) {
            Some((b, e)) => Ok(self.narrow(b, e)),
            None => Err(self),
        }
    }

    /// `b..e`, checked against the view, re-expressed as offsets into `buf`.
    fn narrow(self, b: usize, e: usize) -> Slice<T> {
        let begin = self.bounds().0;
        Slice::new(self.buf, begin + b, begin + e)
    }
}

impl<T: IoBuf> Deref for Slice<T> {
    type Target = [u8];

    /// The initialised bytes of the view.
    fn deref(&self) -> &[u8] {
        let len = self.bytes_init();
        if len == 0 {
            return &[]; // `stable_ptr` may be null for an empty custom buffer
        }
        // SAFETY: by `IoBuf for Slice`, the first `bytes_init()` bytes from
        // `stable_ptr()` are initialised bytes of `buf`, which `&self` borrows.
        unsafe { std::slice::from_raw_parts(self.stable_ptr(), len) }
    }
}

impl<T: IoBufMut> DerefMut for Slice<T> {
    fn deref_mut(&mut self) -> &mut [u8] {
        let len = self.bytes_init();
        if len == 0 {
            return &mut [];
        }
        // SAFETY: as in `deref`, and `IoBufMut` makes those bytes writable
        // through `stable_mut_ptr()`, with `&mut self` excluding other access.
        unsafe { std::slice::from_raw_parts_mut(self.stable_mut_ptr(), len) }
    }
}

// SAFETY: the view lies inside `buf` (`bounds` clamps it to `buf.bytes_total()`),
// so it inherits `buf`'s stable address; `bytes_init` counts only bytes that are
// initialised in `buf` and is at most `bytes_total`.
unsafe impl<T: IoBuf> IoBuf for Slice<T> {
    fn stable_ptr(&self) -> *const u8 {
        // `wrapping_add` keeps this safe; `begin <= bytes_total` keeps it in bounds.
        self.buf.stable_ptr().wrapping_add(self.bounds().0)
    }

    fn bytes_init(&self) -> usize {
        let (begin, end) = self.bounds();
        self.buf.bytes_init().clamp(begin, end) - begin
    }

    fn bytes_total(&self) -> usize {
        let (begin, end) = self.bounds();
        end - begin
    }

    fn fixed_slot(&self, token: FixedToken) -> Option<FixedSlot> {
        // A part of a registered buffer lies in the same registered buffer.
        self.buf.fixed_slot(token)
    }
}

// SAFETY: the view's bytes are writable bytes of `buf`, and `set_init` marks
// them initialised in `buf` only once every byte before them is.
unsafe impl<T: IoBufMut> IoBufMut for Slice<T> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        let begin = self.bounds().0;
        self.buf.stable_mut_ptr().wrapping_add(begin)
    }

    unsafe fn set_init(&mut self, pos: usize) {
        if pos == 0 {
            return;
        }
        let begin = self.bounds().0;
        let init = self.buf.bytes_init();
        if init < begin {
            // The kernel wrote after a gap of uninitialised bytes; zero the gap
            // so `buf` can count one initialised prefix.
            let base = self.buf.stable_mut_ptr();
            // SAFETY: `init..begin` lies inside `buf.bytes_total()`, writable by `IoBufMut`.
            unsafe { base.add(init).write_bytes(0, begin - init) };
        }
        // SAFETY: bytes before `begin` were initialised or just zeroed, and the
        // caller promises the `pos` bytes from `begin`, within `bytes_total()`.
        unsafe { self.buf.set_init(begin + pos) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deref_is_the_initialised_part_of_the_range() {
        let mut v = Vec::with_capacity(16);
        v.extend_from_slice(b"abcdef");
        let s = v.slice(2..10);
        assert_eq!((s.bytes_init(), s.bytes_total()), (4, 8));
        assert_eq!(&s[..], b"cdef");
        let s = s.into_inner().slice(8..12);
        assert_eq!((s.bytes_init(), s.bytes_total()), (0, 4));
        assert!(s.is_empty());
    }

    #[test]
    fn slice_of_slice_offsets() {
        let flat = b"0123456789".to_vec().slice(2..9).slice(1..4);
        assert_eq!((flat.begin(), flat.end()), (3, 6));
        assert_eq!(&flat[..], b"345");

        // Through the trait (as generic code does): nested, same bytes.
        let nested = IoBuf::slice(b"0123456789".to_vec().slice(2..9), 1..4);
        assert_eq!(&nested[..], b"345");
        assert_eq!(
            nested.stable_ptr(),
            nested.get_ref().stable_ptr().wrapping_add(1)
        );
        assert_eq!(nested.bytes_total(), 3);
    }

    #[test]
    fn slice_of_slice_is_bounded_by_the_view() {
        let s = vec![0u8; 10].slice(2..6);
        let s = s.try_slice(..5).unwrap_err(); // fits the Vec, not the view
        assert_eq!((s.begin(), s.end()), (2, 6));
        assert!(s.try_slice(4..).is_ok());
    }

    #[test]
    #[should_panic(expected = "out of bounds")]
    fn slice_of_slice_past_view_panics() {
        let _ = vec![0u8; 10].slice(2..6).slice(..5);
    }

    #[test]
    fn set_init_through_a_slice() {
        let mut s = b"abcd".to_vec().slice(1..3);
        s[0] = b'X';
        // SAFETY: both bytes of the view are initialised already.
        unsafe { s.set_init(2) };
        assert_eq!(s.into_inner(), b"aXcd"); // never shrinks
    }

    #[test]
    fn read_past_init_zeroes_the_gap() {
        let mut v = Vec::with_capacity(16);
        v.push(1u8);
        let mut s = v.slice(4..8);
        // SAFETY: 2 bytes fit in the view; this plays the kernel's part.
        unsafe {
            s.stable_mut_ptr()
                .copy_from_nonoverlapping(b"hi".as_ptr(), 2)
        };
        // SAFETY: the first 2 bytes of the view were just written.
        unsafe { s.set_init(2) };
        assert_eq!(&s[..], b"hi");
        assert_eq!(s.into_inner(), [1, 0, 0, 0, b'h', b'i']);
    }

    #[test]
    fn view_clamps_when_the_buffer_shrinks() {
        let mut s = vec![5u8; 8].slice(4..8);
        *s.get_mut() = vec![5u8; 2];
        assert_eq!((s.bytes_init(), s.bytes_total()), (0, 0));
        assert!(s.is_empty());
    }
}
