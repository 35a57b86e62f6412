//! Reuse of the heap cells that io_uring ops are boxed into.
//!
//! Every io_uring op lives in a `Box` from submission until its completion is
//! reaped (the kernel holds pointers into it), so a request/response loop
//! allocates and frees one box per op. The freed cells are kept here (one set
//! per driver), per layout, and the next op of the same layout is written into one: a vector
//! push and pop instead of a trip through the allocator. Only ops that
//! complete normally come back; orphans and shutdown free their box as usual.

use std::alloc::Layout;
use std::ptr::NonNull;

/// Cells kept per class; beyond this a freed cell goes back to the allocator.
const PER_CLASS: usize = 256;

/// Ops of 8-byte alignment up to this size are recycled (every op is).
const MAX_SIZE: usize = 512;

/// One class per multiple of 8 bytes: a cell is only ever reused for the exact
/// layout it was allocated with, as `Box`'s deallocation requires.
const CLASSES: usize = MAX_SIZE / 8;

/// The class of `T`'s layout, computed at compile time; `None`: not recycled.
const fn class_of<T>() -> Option<usize> {
    let (size, align) = (size_of::<T>(), align_of::<T>());
    if size == 0 || size > MAX_SIZE || size % 8 != 0 || align != 8 {
        None
    } else {
        Some(size / 8 - 1)
    }
}

/// Free cells by class, each allocated by the global allocator with the
/// class's layout (`Layout::from_size_align(8 * (class + 1), 8)`) and holding
/// no value. One per driver, so reaching it costs no thread-local lookup.
pub(crate) struct Cells {
    /// Indexed by `class_of`.
    free: [Vec<NonNull<u8>>; CLASSES],
}

impl Default for Cells {
    fn default() -> Self {
        Cells {
            free: [const { Vec::new() }; CLASSES],
        }
    }
}

impl std::fmt::Debug for Cells {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept: usize = self.free.iter().map(Vec::len).sum();
        f.debug_struct("Cells").field("kept", &kept).finish()
    }
}

impl Drop for Cells {
    fn drop(&mut self) {
        for (class, cells) in self.free.iter_mut().enumerate() {
            let layout = Layout::from_size_align(8 * (class + 1), 8).expect("valid layout");
            for cell in cells.drain(..) {
                // SAFETY: `cell` was allocated by the global allocator with the
                // layout of its class (see `Cells`) and holds no value.
                unsafe { std::alloc::dealloc(cell.as_ptr(), layout) };
            }
        }
    }
}

impl Cells {
    /// Boxes `value`, in a recycled cell if one of its layout is free.
    #[inline]
    pub(crate) fn boxed<T>(&mut self, value: T) -> Box<T> {
        let Some(class) = (const { class_of::<T>() }) else {
            return Box::new(value);
        };
        match self.free[class].pop() {
            Some(cell) => {
                let ptr = cell.cast::<T>().as_ptr();
                // The cell came from the global allocator with the layout of
                // `T`'s class, equal to `Layout::new::<T>()`, and is empty.
                // SAFETY: so writing a `T` and owning it is what `Box::new` does.
                unsafe {
                    ptr.write(value);
                    Box::from_raw(ptr)
                }
            }
            None => Box::new(value),
        }
    }

    /// Moves the value out of `b` and keeps its cell for the next `boxed`.
    #[inline]
    pub(crate) fn unbox<T>(&mut self, b: Box<T>) -> T {
        let Some(class) = (const { class_of::<T>() }) else {
            return *b;
        };
        let ptr = Box::into_raw(b);
        // SAFETY: `ptr` came from a live `Box<T>`, so it holds a valid `T`;
        // after this read the cell is treated as holding no value.
        let value = unsafe { ptr.read() };
        // SAFETY: `Box::into_raw` never returns null.
        let cell = unsafe { NonNull::new_unchecked(ptr.cast::<u8>()) };
        let cells = &mut self.free[class];
        if cells.len() < PER_CLASS {
            cells.push(cell);
        } else {
            // SAFETY: the cell was allocated by the global allocator for a
            // `Box<T>` (so with `Layout::new::<T>()`); its value was moved out.
            unsafe { std::alloc::dealloc(cell.as_ptr(), Layout::new::<T>()) };
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::Cells;

    #[test]
    fn cells_are_reused_and_values_intact() {
        let mut cells = Cells::default();
        let a = cells.boxed([7u64; 4]);
        let addr = &*a as *const [u64; 4] as usize;
        assert_eq!(cells.unbox(a), [7u64; 4]);
        let b = cells.boxed([9u64; 4]);
        assert_eq!(&*b as *const [u64; 4] as usize, addr);
        assert_eq!(*b, [9u64; 4]);
        // A different layout never gets that cell.
        let c = cells.boxed(1u8);
        assert_eq!(cells.unbox(c), 1);
        drop(b); // a plain drop frees the cell through the allocator
        let s = cells.boxed(String::from("kept"));
        assert_eq!(cells.unbox(s), "kept");
    }
}
