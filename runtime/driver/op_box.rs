//! Reuse of the heap cells that io_uring ops are boxed into.
//!
//! Every io_uring op lives in a `Box` from submission until its completion is
//! reaped (the kernel holds pointers into it), so a request/response loop
//! allocates and frees one box per op. The freed cells are kept here, per
//! layout, and the next op of the same layout is written into one: a vector
//! push and pop instead of a trip through the allocator. Only ops that
//! complete normally come back; orphans and shutdown free their box as usual.

use std::alloc::Layout;
use std::cell::RefCell;
use std::ptr::NonNull;

/// Cells kept per layout; beyond this a freed cell goes back to the allocator.
const PER_LAYOUT: usize = 256;

/// Free cells, grouped by layout (a worker sees only a handful of op types).
#[derive(Default)]
struct Cells {
    /// (layout, cells of exactly that layout, each allocated by the global
    /// allocator and holding no value).
    free: Vec<(Layout, Vec<NonNull<u8>>)>,
}

impl Drop for Cells {
    fn drop(&mut self) {
        for (layout, cells) in self.free.drain(..) {
            for cell in cells {
                // SAFETY: `cell` was allocated by the global allocator with
                // `layout` (see `Cells::free`) and holds no value.
                unsafe { std::alloc::dealloc(cell.as_ptr(), layout) };
            }
        }
    }
}

thread_local! {
    /// This thread's free cells (each worker boxes its ops on its own thread).
    static CELLS: RefCell<Cells> = RefCell::new(Cells::default());
}

/// Boxes `value`, in a recycled cell if one of its layout is free.
pub(crate) fn boxed<T>(value: T) -> Box<T> {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        return Box::new(value);
    }
    let cell = CELLS
        .try_with(|c| {
            let mut c = c.borrow_mut();
            let (_, cells) = c.free.iter_mut().find(|(l, _)| *l == layout)?;
            cells.pop()
        })
        .ok()
        .flatten();
    match cell {
        Some(cell) => {
            let ptr = cell.cast::<T>().as_ptr();
            // SAFETY: the cell was allocated by the global allocator with
            // `Layout::new::<T>()` and holds no value, so writing a `T` and
            // owning it as a `Box<T>` is what `Box::new` would have done.
            unsafe {
                ptr.write(value);
                Box::from_raw(ptr)
            }
        }
        None => Box::new(value),
    }
}

/// Moves the value out of `b` and keeps its cell for the next `boxed`.
pub(crate) fn unbox<T>(b: Box<T>) -> T {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        return *b;
    }
    let ptr = Box::into_raw(b);
    // SAFETY: `ptr` came from a live `Box<T>`, so it holds a valid `T`; after
    // this read the cell is treated as holding no value.
    let value = unsafe { ptr.read() };
    // SAFETY: `Box::into_raw` never returns null.
    let cell = unsafe { NonNull::new_unchecked(ptr.cast::<u8>()) };
    let kept = CELLS
        .try_with(|c| {
            let mut c = c.borrow_mut();
            let idx = match c.free.iter().position(|(l, _)| *l == layout) {
                Some(i) => i,
                None => {
                    c.free.push((layout, Vec::new()));
                    c.free.len() - 1
                }
            };
            let cells = &mut c.free[idx].1;
            if cells.len() < PER_LAYOUT {
                cells.push(cell);
                true
            } else {
                false
            }
        })
        .unwrap_or(false);
    if !kept {
        // SAFETY: the cell was allocated by the global allocator for a
        // `Box<T>` (so with `layout`) and its value was moved out above.
        unsafe { std::alloc::dealloc(cell.as_ptr(), layout) };
    }
    value
}

#[cfg(test)]
mod tests {
    use super::{boxed, unbox};

    #[test]
    fn cells_are_reused_and_values_intact() {
        let a = boxed([7u64; 4]);
        let addr = &*a as *const [u64; 4] as usize;
        assert_eq!(unbox(a), [7u64; 4]);
        let b = boxed([9u64; 4]);
        assert_eq!(&*b as *const [u64; 4] as usize, addr);
        assert_eq!(*b, [9u64; 4]);
        // A different layout never gets that cell.
        let c = boxed(1u8);
        assert_eq!(unbox(c), 1);
        drop(b); // a plain drop frees the cell through the allocator
        let s = boxed(String::from("kept"));
        assert_eq!(unbox(s), "kept");
    }
}
