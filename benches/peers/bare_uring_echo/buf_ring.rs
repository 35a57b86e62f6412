//! The provided-buffer ring that multishot recvs pick their buffers from,
//! and the anonymous mappings behind it. This is the memory shared with the
//! kernel, so it is kept apart from the connection logic in `multishot.rs`.

use std::io;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::types::BufRingEntry;
use io_uring::IoUring;

use crate::BUF;

/// Provided buffers for multishot mode: 16 MiB, several per connection at
/// the benchmark's 256 connections.
const PROVIDED_BUFS: u16 = 1024;
/// The provided-buffer ring's group id.
pub(crate) const BUF_GROUP: u16 = 0;

/// Provided buffers: a ring of entries, shared with the kernel, that names
/// the buffers a multishot recv may fill.
pub(crate) struct BufRing {
    /// The entries. This is a page-aligned mapping that the kernel reads
    /// from its head up to our published tail.
    entries: Mapping,
    /// Our tail: entries added so far, which `publish` shows to the kernel.
    tail: u16,
    /// How many buffers are in the ring for the kernel to pick.
    pub(crate) free: u32,
    /// The buffers, `BUF` bytes each. Only the kernel writes them, so no
    /// Rust reference to them is ever made.
    bufs: Mapping,
}

// The kernel wants a power of two entries.
const _: () = assert!(PROVIDED_BUFS.is_power_of_two());

impl BufRing {
    /// Maps `PROVIDED_BUFS` buffers and their ring, registers the ring with
    /// `uring` as group `BUF_GROUP`, and fills it.
    pub(crate) fn new(uring: &IoUring) -> io::Result<BufRing> {
        let count = usize::from(PROVIDED_BUFS);
        let mut ring = BufRing {
            entries: Mapping::new(count * std::mem::size_of::<BufRingEntry>())?,
            tail: 0,
            free: 0,
            bufs: Mapping::new(count * BUF)?,
        };
        let addr = ring.entries.ptr as u64;
        // SAFETY: `entries` maps `PROVIDED_BUFS` entries, page-aligned, and
        // stays mapped until this `BufRing` is dropped, which is after the
        // ring (`Server` drops its ring first).
        unsafe {
            uring
                .submitter()
                .register_buf_ring_with_flags(addr, PROVIDED_BUFS, BUF_GROUP, 0)?;
        }
        for bid in 0..PROVIDED_BUFS {
            ring.give_back(bid);
        }
        ring.publish();
        Ok(ring)
    }

    /// The start of buffer `bid`.
    pub(crate) fn buf(&self, bid: u16) -> *mut u8 {
        self.bufs.ptr.wrapping_add(usize::from(bid) * BUF)
    }

    /// The kernel picked a buffer (a recv completion names it).
    pub(crate) fn picked(&mut self) {
        self.free -= 1;
    }

    /// Puts buffer `bid` back at the tail. The kernel sees it after the next
    /// `publish`.
    pub(crate) fn give_back(&mut self, bid: u16) {
        let index = usize::from(self.tail & (PROVIDED_BUFS - 1));
        let entry = self.first_entry().wrapping_add(index);
        // SAFETY: the index is masked, so `entry` lies inside the mapping.
        // The kernel does not read it until `publish` moves the tail past it.
        let entry = unsafe { &mut *entry };
        entry.set_addr(self.buf(bid) as u64);
        entry.set_len(BUF as u32);
        entry.set_bid(bid);
        self.tail = self.tail.wrapping_add(1);
        self.free += 1;
    }

    /// Shows the kernel every buffer given back so far.
    pub(crate) fn publish(&self) {
        // The kernel reads the tail concurrently: an atomic store, Release so
        // that the entries are written before it.
        // SAFETY: the first entry's tail is an aligned u16 inside the live mapping.
        unsafe {
            let tail = BufRingEntry::tail(self.first_entry()).cast_mut();
            AtomicU16::from_ptr(tail).store(self.tail, Ordering::Release);
        }
    }

    fn first_entry(&self) -> *mut BufRingEntry {
        self.entries.ptr.cast()
    }
}

/// A fresh anonymous mapping (zeroed and page-aligned), unmapped on drop.
struct Mapping {
    /// Where it starts.
    ptr: *mut u8,
    /// Its length in bytes.
    len: usize,
}

impl Mapping {
    fn new(len: usize) -> io::Result<Mapping> {
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
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
        // SAFETY: `ptr` and `len` describe the mapping that `new` made. Its
        // owner shares it only with the ring, which is gone by now: `Server`
        // drops its ring first.
        unsafe { libc::munmap(self.ptr.cast(), self.len) };
    }
}
