//! `FixedPool`: a worker's pool of buffers registered with its io_uring
//! instance, so file reads and writes into them skip the kernel's per-op
//! page pinning (`READ_FIXED` / `WRITE_FIXED`).
//!
//! Ownership: the pool's memory is one page-aligned allocation behind an
//! `Rc`. Each [`FixedBuf`] holds that `Rc`, and an op owns its buffer until
//! its final completion is reaped (even when its future is dropped), so the
//! memory, and the buffer's slot, stay taken while the kernel may write
//! there. A buffer goes back to the free list when the `FixedBuf` is dropped;
//! when the pool and every buffer are gone, the slots go back through the
//! handle registration made (`driver::FixedTables`), with the memory, which
//! is freed only once the ring has cleared them (at once on the owning
//! worker, else in its next turn).

use std::alloc::{self, Layout};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::ptr::NonNull;
use std::rc::Rc;
use std::task::{Poll, Waker};

use super::fixed_buf::FixedBuf;
use super::fixed_slot::FixedSlot;
use crate::driver::FixedTables;
use crate::op;

/// Most buffers one pool registers (the kernel's table holds 16384).
const MAX_BUFFERS: usize = 4096;
/// Largest registered buffer the kernel takes (1 GiB).
const MAX_BUF_SIZE: usize = 1 << 30;
/// Alignment and size granularity of each buffer: a page, so `O_DIRECT` works.
const ALIGN: usize = 4096;

/// A pool of equal-sized buffers registered with the current worker's
/// io_uring instance (`IORING_REGISTER_BUFFERS`).
///
/// [`File::read_at`](crate::fs::File::read_at) and
/// [`write_at`](crate::fs::File::write_at) (and their `_exact_` / `_all_`
/// forms) with a [`FixedBuf`] from the pool use `IORING_OP_READ_FIXED` /
/// `WRITE_FIXED`: the kernel pinned the pages once, at registration, instead
/// of on every operation. Each buffer is page-aligned and a multiple of 4096
/// bytes long, so it also serves `O_DIRECT` files.
///
/// The pool belongs to the worker that made it (it is `!Send`); create one
/// per worker, inside the runtime.
///
/// # Fallback, never an error
///
/// Registration locks the memory, which counts against `RLIMIT_MEMLOCK`
/// (8 MiB on many systems, 64 KiB on some). If the kernel refuses (too
/// little locked memory, an old kernel, a full table), or the worker runs
/// the epoll driver, or the pool is made outside a runtime, the pool still
/// works with the same API: its buffers are plain memory and reads are plain
/// reads. [`is_registered`](FixedPool::is_registered) and
/// [`fallback_reason`](FixedPool::fallback_reason) say which and why;
/// [`runtime::metrics()`](crate::metrics) counts the fallback
/// (`registration_fallbacks`, `registration_note`) and
/// [`runtime::driver_info()`](crate::driver_info) names it.
///
/// # Examples
///
/// ```
/// use runtime::buf::FixedPool;
/// use runtime::fs::File;
///
/// # runtime::block_on(async {
/// # let path = std::env::temp_dir().join(format!("rt-doc-fixed-{}", std::process::id()));
/// # runtime::fs::write(&path, vec![7u8; 8192]).await?;
/// let pool = FixedPool::new(4, 4096)?; // 4 buffers of 4 KiB
/// let file = File::open(&path).await?;
/// let buf = pool.get().await; // waits while all 4 are in use
/// let (n, buf) = file.read_at(buf, 4096).await;
/// assert_eq!(n?, 4096);
/// assert_eq!(buf[0], 7);
/// drop(buf); // back to the pool
/// assert_eq!(pool.available(), 4);
/// # runtime::fs::remove_file(&path).await?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct FixedPool {
    /// Shared with every buffer handed out.
    inner: Rc<Pool>,
}

/// The pool's memory and bookkeeping, alive while the pool or a buffer is.
#[derive(Debug)]
pub(super) struct Pool {
    /// Start of the memory: `count` buffers of `size` bytes, back to back.
    mem: NonNull<u8>,
    /// The allocation's layout, to free it.
    layout: Layout,
    /// Bytes per buffer, a multiple of `ALIGN`.
    size: usize,
    /// Number of buffers.
    count: usize,
    /// Indices of the buffers not handed out.
    free: RefCell<Vec<u16>>,
    /// Tasks waiting in [`FixedPool::get`] for a buffer to come back.
    waiters: RefCell<VecDeque<Waker>>,
    /// The ring's tables and the first slot, if registered.
    table: Option<(FixedTables, u32)>,
    /// Why the buffers are plain memory, if they are.
    fallback: Option<String>,
}

impl FixedPool {
    /// Allocates `count` buffers of `size` bytes (rounded up to a multiple of
    /// 4096), page-aligned, and registers them with the current worker's
    /// io_uring instance, or falls back to plain buffers (see the type's docs).
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `count` is 0 or above 4096, or `size` is 0 or above
    /// 1 GiB. Running out of memory aborts, as for `Vec`.
    pub fn new(count: usize, size: usize) -> io::Result<FixedPool> {
        let invalid = |msg: &str| io::Error::new(io::ErrorKind::InvalidInput, msg.to_owned());
        if count == 0 || count > MAX_BUFFERS {
            return Err(invalid("FixedPool: count must be between 1 and 4096"));
        }
        if size == 0 || size > MAX_BUF_SIZE {
            return Err(invalid("FixedPool: size must be between 1 byte and 1 GiB"));
        }
        let size = size.next_multiple_of(ALIGN);
        let layout = count
            .checked_mul(size)
            .and_then(|total| Layout::from_size_align(total, ALIGN).ok())
            .ok_or_else(|| invalid("FixedPool: count × size is too large"))?;
        // SAFETY: the layout's size is at least 4096 (count and size are positive).
        let ptr = unsafe { alloc::alloc_zeroed(layout) };
        let mem = NonNull::new(ptr).unwrap_or_else(|| alloc::handle_alloc_error(layout));
        let mut pool = Pool {
            mem,
            layout,
            size,
            count,
            free: RefCell::new((0..count as u16).rev().collect()),
            waiters: RefCell::default(),
            table: None,
            fallback: None,
        };
        match pool.register() {
            Ok(table) => pool.table = Some(table),
            Err(why) => pool.fallback = Some(why),
        }
        Ok(FixedPool {
            inner: Rc::new(pool),
        })
    }

    /// A free buffer (empty, `capacity()` bytes), or `None` if all are in use.
    pub fn try_get(&self) -> Option<FixedBuf> {
        let index = self.inner.free.borrow_mut().pop()?;
        Some(FixedBuf::new(self.inner.clone(), index))
    }

    /// A free buffer, waiting for one to come back if all are in use.
    ///
    /// Cancel safety: dropping the future takes no buffer.
    pub async fn get(&self) -> FixedBuf {
        poll_fn(|cx| match self.try_get() {
            Some(buf) => Poll::Ready(buf),
            None => {
                let mut waiters = self.inner.waiters.borrow_mut();
                if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                    waiters.push_back(cx.waker().clone());
                }
                Poll::Pending
            }
        })
        .await
    }

    /// Buffers not handed out now.
    pub fn available(&self) -> usize {
        self.inner.free.borrow().len()
    }

    /// Number of buffers in the pool.
    pub fn len(&self) -> usize {
        self.inner.count
    }

    /// Always `false`: a pool has at least one buffer.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Bytes per buffer (the size asked for, rounded up to a multiple of 4096).
    pub fn buf_size(&self) -> usize {
        self.inner.size
    }

    /// Whether the buffers are registered with the worker's ring.
    pub fn is_registered(&self) -> bool {
        self.inner.table.is_some()
    }

    /// Why the buffers are plain memory (`None` when registered), e.g.
    /// "RLIMIT_MEMLOCK (65536 bytes) is too small to lock …".
    pub fn fallback_reason(&self) -> Option<&str> {
        self.inner.fallback.as_deref()
    }
}

impl Pool {
    /// Registers the buffers with the current worker's driver: its tables
    /// and the first slot, or why not (also recorded in the worker's
    /// metrics and driver info).
    fn register(&self) -> Result<(FixedTables, u32), String> {
        let iovecs: Vec<libc::iovec> = (0..self.count)
            .map(|i| libc::iovec {
                iov_base: self.buf_ptr(i as u16).as_ptr().cast(),
                iov_len: self.size,
            })
            .collect();
        let (first, tables) = op::register("registered buffers", |driver, here| {
            // SAFETY: `Drop for Pool` hands the memory back with the slots
            // (`release_buffers`), and the driver frees it only once they
            // are cleared or its ring is gone.
            unsafe { driver.register_buffers(&iovecs, here) }
        })?;
        Ok((tables, first))
    }

    /// Address of buffer `index` (`index < count`).
    pub(super) fn buf_ptr(&self, index: u16) -> NonNull<u8> {
        // SAFETY: `index < count`, so the offset stays inside the allocation.
        unsafe { self.mem.add(usize::from(index) * self.size) }
    }

    /// Bytes per buffer.
    pub(super) fn size(&self) -> usize {
        self.size
    }

    /// The registered slot of buffer `index`, if the pool is registered.
    pub(super) fn slot(&self, index: u16) -> Option<FixedSlot> {
        let (tables, first) = self.table.as_ref()?;
        let index = u16::try_from(first + u32::from(index)).ok()?;
        Some(FixedSlot {
            table: tables.id(),
            index,
        })
    }

    /// Takes buffer `index` back and wakes the tasks waiting for one.
    pub(super) fn put_back(&self, index: u16) {
        self.free.borrow_mut().push(index);
        let waiters = std::mem::take(&mut *self.waiters.borrow_mut());
        for w in waiters {
            w.wake();
        }
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        let memory = Memory {
            ptr: self.mem,
            layout: self.layout,
        };
        match self.table.take() {
            // Every buffer is back (each holds the `Rc`), so no op uses the
            // slots; the memory goes when they are cleared.
            Some((tables, first)) => {
                tables.release_buffers(first, self.count as u32, Box::new(memory))
            }
            None => drop(memory),
        }
    }
}

/// A pool's allocation on its way out: freed when dropped, on whichever
/// thread its driver clears the slots that point into it.
struct Memory {
    /// Start of the allocation.
    ptr: NonNull<u8>,
    /// Its layout, to free it.
    layout: Layout,
}

// SAFETY: plain heap memory that nothing refers to any more (its pool and
// every buffer are gone); only the kernel's registration may still name it,
// and the driver drops this only once that is cleared (or the ring is gone).
unsafe impl Send for Memory {}

impl Drop for Memory {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from `alloc_zeroed(self.layout)` in
        // `FixedPool::new` and is freed only here, once.
        unsafe { alloc::dealloc(self.ptr.as_ptr(), self.layout) };
    }
}
