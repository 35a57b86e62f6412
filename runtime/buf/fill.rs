//! Filling an owned buffer from memory rather than from the kernel (buffered
//! readers hand out bytes they already hold).

use super::IoBufMut;

/// Copies as much of `src` as fits into `buf`, from its start, marks those
/// bytes initialised, and returns how many were copied.
pub(crate) fn fill_from_slice<B: IoBufMut>(buf: &mut B, src: &[u8]) -> usize {
    let n = src.len().min(buf.bytes_total());
    // SAFETY: `n <= bytes_total()`, so the destination is valid for `n` byte
    // writes (`IoBufMut` contract), and `ptr::copy` allows the two to overlap.
    unsafe { std::ptr::copy(src.as_ptr(), buf.stable_mut_ptr(), n) };
    // SAFETY: `n <= bytes_total()`, and the first `n` bytes were just written.
    unsafe { buf.set_init(n) };
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buf::IoBuf;

    #[test]
    fn copies_what_fits_and_counts_it_initialised() {
        let mut v = Vec::with_capacity(4);
        assert_eq!(fill_from_slice(&mut v, b"abcdef"), 4);
        assert_eq!(v, b"abcd");
        let mut s = vec![0u8; 8].slice(2..5);
        assert_eq!(fill_from_slice(&mut s, b"xy"), 2);
        assert_eq!(s.into_inner()[..5], [0, 0, b'x', b'y', 0]);
        let mut empty: Vec<u8> = Vec::new();
        assert_eq!(fill_from_slice(&mut empty, b"abc"), 0);
    }
}
