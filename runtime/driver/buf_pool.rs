//! The worker's provided-buffer ring (`IORING_REGISTER_PBUF_RING`): the
//! buffers its multishot receives fill. A filled buffer is lent to the
//! socket's receive queue (`source.rs`) until a read has copied its bytes
//! out (or a [`RecvBuf`](crate::buf::RecvBuf) holding it is dropped), then
//! given back at the ring's tail, which the kernel sees at the next park.
//!
//! The epoll driver lends the same kind of buffers without a ring
//! ([`LendPool`]): a `recv_buf` there receives into one, so a zero-copy read
//! costs no allocation on either driver.
//!
//! Two parts: [`BufPool`] is the ring itself, owned by the driver and
//! touched only on its thread; [`PoolMemory`] is the buffers, shared (`Arc`)
//! with every queue holding one of them, so bytes stay readable wherever the
//! socket goes, and a buffer freed on another thread comes back through
//! [`PoolMemory::give_back_remote`]. Both mappings are made and pre-faulted
//! at start-up: the kernel never faults a page in on the receive path, and
//! the pool's memory is one fixed cost per worker, whatever the number of
//! connections.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use io_uring::types::BufRingEntry;
use io_uring::IoUring;

use super::id::DriverId;

/// The buffer group every multishot receive of a worker picks from.
pub(crate) const BUF_GROUP: u16 = 0;

/// The worker's buffers, shared with the queues that hold some of them.
pub(crate) struct PoolMemory {
    /// The buffers, `size` bytes each. Written only by the kernel, while a
    /// buffer is in the ring; read only while a queue holds it.
    bufs: Mapping,
    /// Bytes per buffer.
    size: u32,
    /// Number of buffers.
    count: u16,
    /// The driver whose ring the buffers belong to.
    pub(crate) driver: DriverId,
    /// Buffers freed on other threads, for the owner to put back.
    returns: Mutex<Vec<u16>>,
    /// Whether `returns` may hold any, readable without the lock.
    returned: AtomicBool,
}

// SAFETY: `bufs` is plain memory; a buffer is written by the kernel only
// while it is in the ring, and read by a thread only while that thread's
// queue (or `RecvBuf`) holds it, so no two threads ever race on one buffer.
unsafe impl Send for PoolMemory {}
// SAFETY: as above; the shared state (`returns`, `returned`) is synchronised.
unsafe impl Sync for PoolMemory {}

impl std::fmt::Debug for PoolMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolMemory")
            .field("count", &self.count)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl PoolMemory {
    /// The first `len` bytes of buffer `bid`, from `start`.
    ///
    /// # Safety
    ///
    /// The caller holds buffer `bid` (it is not in the ring), and the kernel
    /// wrote at least `start + len` bytes into it (a completion said so).
    pub(crate) unsafe fn bytes(&self, bid: u16, start: u32, len: u32) -> &[u8] {
        debug_assert!(bid < self.count && start + len <= self.size);
        let at = usize::from(bid) * self.size as usize + start as usize;
        // SAFETY: inside the mapping (bid < count, start + len <= size), and
        // initialised by the kernel (the caller's contract); nobody writes
        // the buffer while the caller holds it.
        unsafe { std::slice::from_raw_parts(self.bufs.ptr.add(at), len as usize) }
    }

    /// Bytes per buffer.
    pub(crate) fn buf_size(&self) -> u32 {
        self.size
    }

    /// Where buffer `bid` starts, for a receive that the caller holds it for.
    pub(crate) fn buf_ptr(&self, bid: u16) -> *mut u8 {
        debug_assert!(bid < self.count);
        self.bufs
            .ptr
            .wrapping_add(usize::from(bid) * self.size as usize)
    }

    /// Moves the buffers given back from other threads into `out`.
    fn take_returns(&self, out: &mut Vec<u16>) {
        if self.returned.load(Ordering::Acquire) {
            self.returned.store(false, Ordering::Relaxed);
            let mut returns = self.returns.lock().unwrap_or_else(|e| e.into_inner());
            out.append(&mut returns);
        }
    }

    /// Any thread but the owner's: buffer `bid` is free; the owner puts it
    /// back in the ring at its next park (a dead owner never does: its ring
    /// is gone, and the memory goes with the last `Arc`).
    pub(crate) fn give_back_remote(&self, bid: u16) {
        self.returns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(bid);
        self.returned.store(true, Ordering::Release);
    }
}

/// The ring of buffer entries, shared with the kernel; owned by the driver.
pub(crate) struct BufPool {
    /// The buffers.
    memory: Arc<PoolMemory>,
    /// The entries: a page-aligned mapping the kernel reads from its head
    /// up to the tail we publish.
    entries: Mapping,
    /// Our tail: entries added so far.
    tail: u16,
    /// Whether `tail` moved since it was last published.
    dirty: bool,
    /// Buffers in the ring now (the kernel may take any of them).
    free: u32,
    /// Swapped with the memory's return queue at each publish, so neither
    /// loses its capacity.
    spare: Vec<u16>,
}

impl std::fmt::Debug for BufPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BufPool")
            .field("count", &self.memory.count)
            .field("size", &self.memory.size)
            .field("free", &self.free)
            .finish()
    }
}

impl BufPool {
    /// Maps `count` buffers of `size` bytes and their ring (a power of two
    /// entries), registers the ring with `ring` as group [`BUF_GROUP`] and
    /// fills it. Fails where the kernel has no provided-buffer rings (before
    /// Linux 5.19) or memory is short.
    pub(crate) fn new(ring: &IoUring, count: u16, size: u32, driver: DriverId) -> io::Result<Self> {
        if !count.is_power_of_two() || size == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "receive buffers: a power-of-two count of non-empty buffers",
            ));
        }
        let entries = Mapping::new(usize::from(count) * std::mem::size_of::<BufRingEntry>())?;
        let bufs = Mapping::new(usize::from(count) * size as usize)?;
        // SAFETY: `entries` maps `count` entries, page-aligned, and stays
        // mapped until this pool is dropped, which the driver does after
        // unregistering the ring (or dropping the ring itself).
        unsafe {
            ring.submitter().register_buf_ring_with_flags(
                entries.ptr as u64,
                count,
                BUF_GROUP,
                0,
            )?;
        }
        let mut pool = BufPool {
            memory: Arc::new(PoolMemory {
                bufs,
                size,
                count,
                driver,
                returns: Mutex::new(Vec::new()),
                returned: AtomicBool::new(false),
            }),
            entries,
            tail: 0,
            dirty: false,
            free: 0,
            spare: Vec::new(),
        };
        for bid in 0..count {
            pool.give_back(bid);
        }
        pool.publish();
        Ok(pool)
    }

    /// The buffers, for a queue that is lent some.
    pub(crate) fn memory(&self) -> &Arc<PoolMemory> {
        &self.memory
    }

    /// Buffers the kernel may still take.
    pub(crate) fn free(&self) -> u32 {
        self.free
    }

    /// Buffers in all.
    pub(crate) fn count(&self) -> u32 {
        u32::from(self.memory.count)
    }

    /// The kernel took a buffer (a completion names it).
    #[inline]
    pub(crate) fn taken(&mut self) {
        self.free = self.free.saturating_sub(1);
    }

    /// Puts buffer `bid` back at the tail; the kernel sees it after the
    /// next [`publish`](BufPool::publish).
    #[inline]
    pub(crate) fn give_back(&mut self, bid: u16) {
        let mask = self.memory.count - 1;
        let entry = self
            .first_entry()
            .wrapping_add(usize::from(self.tail & mask));
        let size = self.memory.size;
        let addr = self
            .memory
            .bufs
            .ptr
            .wrapping_add(usize::from(bid) * size as usize);
        // SAFETY: the index is masked, so `entry` lies inside the mapping,
        // and the kernel does not read it until `publish` moves the tail
        // past it.
        let entry = unsafe { &mut *entry };
        entry.set_addr(addr as u64);
        entry.set_len(size);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
        self.free += 1;
        self.dirty = true;
    }

    /// Puts back what other threads freed, then shows the kernel every
    /// buffer given back since the last call (once per park).
    #[inline]
    pub(crate) fn publish(&mut self) {
        if self.memory.returned.load(Ordering::Acquire) {
            self.memory.returned.store(false, Ordering::Relaxed);
            let mut returned = std::mem::take(&mut self.spare);
            std::mem::swap(
                &mut returned,
                &mut *self
                    .memory
                    .returns
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()),
            );
            for &bid in &returned {
                self.give_back(bid);
            }
            returned.clear();
            self.spare = returned;
        }
        if !self.dirty {
            return;
        }
        self.dirty = false;
        // SAFETY: the first entry's tail field is an aligned u16 inside the
        // live mapping; the kernel reads it concurrently, so the store is
        // atomic, and Release so that the entries are written before it.
        unsafe {
            let tail = BufRingEntry::tail(self.first_entry()).cast_mut();
            AtomicU16::from_ptr(tail).store(self.tail, Ordering::Release);
        }
    }

    /// Keeps both mappings for good: a ring torn down with receives still
    /// in the kernel may yet write into the buffers and read the entries.
    pub(crate) fn leak(self) {
        std::mem::forget(self);
    }

    fn first_entry(&self) -> *mut BufRingEntry {
        self.entries.ptr.cast()
    }
}

/// The epoll driver's buffers for zero-copy reads: lent one at a time to a
/// receive, and back (from any thread) when the `RecvBuf` holding it drops.
#[derive(Debug)]
pub(crate) struct LendPool {
    /// The buffers.
    memory: Arc<PoolMemory>,
    /// The buffers free to lend.
    free: Vec<u16>,
}

impl LendPool {
    /// Maps `count` buffers of `size` bytes, all free.
    pub(crate) fn new(count: u16, size: u32, driver: DriverId) -> io::Result<Self> {
        Ok(LendPool {
            memory: Arc::new(PoolMemory {
                bufs: Mapping::new(usize::from(count) * size as usize)?,
                size,
                count,
                driver,
                returns: Mutex::new(Vec::new()),
                returned: AtomicBool::new(false),
            }),
            free: (0..count).rev().collect(),
        })
    }

    /// A free buffer, lent: the taker gives it back (`give_back_remote`).
    pub(crate) fn lend(&mut self) -> Option<(Arc<PoolMemory>, u16)> {
        if self.free.is_empty() {
            self.memory.take_returns(&mut self.free);
        }
        self.free.pop().map(|bid| (self.memory.clone(), bid))
    }
}

/// A fresh anonymous mapping, zeroed, page-aligned and pre-faulted,
/// unmapped on drop.
struct Mapping {
    /// Where it starts.
    ptr: *mut u8,
    /// Its length in bytes.
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> io::Result<Mapping> {
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_POPULATE;
        // SAFETY: an anonymous mapping at an address the kernel picks
        // touches no existing memory.
        let ptr = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, -1, 0) };
        if ptr == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(Mapping {
            ptr: ptr.cast(),
            len,
        })
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // The pool's entries outlive the ring's registration (the driver
        // drops the pool after its ring), and the buffers every
        // `Arc<PoolMemory>`, so no queue reads them after this.
        // SAFETY: `ptr` and `len` describe the mapping `new` made, unused now.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}

#[cfg(test)]
impl PoolMemory {
    /// Buffers with no ring, for the receive protocol's unit tests.
    pub(crate) fn for_tests(count: u16, size: u32) -> Arc<PoolMemory> {
        Arc::new(PoolMemory {
            bufs: Mapping::new(usize::from(count) * size as usize).expect("map test buffers"),
            size,
            count,
            driver: DriverId::next(),
            returns: Mutex::new(Vec::new()),
            returned: AtomicBool::new(false),
        })
    }

    /// Writes `bytes` at the start of buffer `bid`, as the kernel would.
    pub(crate) fn fill_for_tests(&self, bid: u16, bytes: &[u8]) {
        assert!(bid < self.count && bytes.len() <= self.size as usize);
        let at = usize::from(bid) * self.size as usize;
        // SAFETY: inside the mapping (checked above); tests hold no other
        // reference to this buffer while writing it.
        unsafe {
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), self.bufs.ptr.add(at), bytes.len())
        };
    }
}
