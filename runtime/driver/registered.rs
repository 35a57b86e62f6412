//! Registered buffers and files of one ring: its two sparse tables and the
//! slots handed out in them.
//!
//! Both tables are registered sparse (empty) on first use and filled slot by
//! slot with `IORING_REGISTER_{BUFFERS,FILES}_UPDATE`, so any number of pools
//! and files come and go without re-registering the rest. A refused
//! registration (`RLIMIT_MEMLOCK` for buffers, an old kernel, a full table)
//! is never an error for the user: the caller gets the reason, falls back to
//! plain buffers or descriptors, and `op::register` records it, once, in the
//! worker's metrics and its `driver_info()` line.
//!
//! The tables are named by their driver's `DriverId`. Whoever holds a
//! slot also keeps the id, and uses the slot only on the driver with that id: a buffer pool
//! or file that outlives its runtime, or is used under another one on the
//! same thread, falls back to the plain path instead of naming a stranger's slot.
//!
//! Slot reuse: a buffer slot is cleared only when its pool is gone (every
//! `FixedBuf` of it, so every op using it, has completed); a file slot only
//! when its last holder (the `File` and each op) is dropped. So no entry can
//! reach the kernel naming a slot that was refilled after it was queued.
//!
//! Whoever holds slots gets a [`FixedTables`] handle with them and gives
//! them back through it (`fixed_tables.rs`): emptied at once on this
//! worker's thread, else through the worker's release queue
//! (`releases.rs`), which wakes it. When the ring goes, its file table is
//! emptied first, so no file outlives its runtime in the kernel.

use std::io;
use std::os::fd::RawFd;
use std::sync::Arc;

use super::super::emptied::Emptied;
use super::super::fixed_tables::{FixedTables, OnThisThread};
use super::super::protocol::Protocol;
use super::UringDriver;
use crate::metrics::{add, bump};

/// Slots in the buffer table (the kernel's cap is 16384 buffers).
const BUF_SLOTS: u32 = 4096;
/// Slots in the file table, at most `RLIMIT_NOFILE` (the kernel's check).
const FILE_SLOTS: u32 = 4096;

/// One ring's registration state.
pub(crate) struct Registered {
    /// The registered-buffer table.
    bufs: Table,
    /// The registered-file table.
    files: Table,
    /// Memory of buffer slots the kernel refused to clear: they still name
    /// it, so it stays allocated until the ring is gone.
    stuck: Vec<Box<dyn Send>>,
}

impl std::fmt::Debug for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registered")
            .field("bufs", &self.bufs)
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl Registered {
    /// Empty tables of a ring.
    pub(super) fn new() -> Self {
        Registered {
            bufs: Table::Unset,
            files: Table::Unset,
            stuck: Vec::new(),
        }
    }
}

/// A sparse table: not yet registered, registered with free ranges, or refused.
#[derive(Debug)]
enum Table {
    /// Nothing asked for it yet.
    Unset,
    /// Registered; the free slots as `(start, len)` ranges.
    Sparse(Vec<(u32, u32)>),
    /// The kernel refused the table itself; every request falls back, with this reason.
    Refused(String),
}

impl Table {
    /// Registers the table on first use with `register`; the free ranges.
    fn ensure(
        &mut self,
        slots: u32,
        register: impl FnOnce() -> io::Result<()>,
    ) -> Result<&mut Vec<(u32, u32)>, String> {
        if let Table::Unset = self {
            *self = match register() {
                Ok(()) => Table::Sparse(vec![(0, slots)]),
                Err(e) => Table::Refused(format!("the kernel refused a sparse table: {e}")),
            };
        }
        match self {
            Table::Sparse(free) => Ok(free),
            Table::Refused(why) => Err(why.clone()),
            Table::Unset => unreachable!("set above"),
        }
    }
}

/// Takes `n` consecutive slots from `free` (first fit).
fn take(free: &mut Vec<(u32, u32)>, n: u32) -> Option<u32> {
    let i = free.iter().position(|&(_, len)| len >= n)?;
    let (start, len) = free[i];
    if len == n {
        free.remove(i);
    } else {
        free[i] = (start + n, len - n);
    }
    Some(start)
}

/// Gives `n` slots from `start` back to `free`, merging neighbours.
fn give(free: &mut Vec<(u32, u32)>, start: u32, n: u32) {
    free.push((start, n));
    free.sort_unstable();
    let mut merged: Vec<(u32, u32)> = Vec::with_capacity(free.len());
    for &(s, l) in free.iter() {
        match merged.last_mut() {
            Some((ms, ml)) if *ms + *ml == s => *ml += l,
            _ => merged.push((s, l)),
        }
    }
    *free = merged;
}

/// Why a buffer registration failed, in words a user can act on.
fn buffer_refusal(e: &io::Error, bytes: usize) -> String {
    if e.raw_os_error() == Some(libc::ENOMEM) {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `lim` is a valid, writable rlimit for the call.
        let lim = match unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } {
            0 if lim.rlim_cur != libc::RLIM_INFINITY => format!("{} bytes", lim.rlim_cur),
            _ => "its limit".to_owned(),
        };
        return format!(
            "RLIMIT_MEMLOCK ({lim}) is too small to lock {bytes} bytes of registered buffers \
             (ENOMEM); raise it (ulimit -l) or use a smaller pool"
        );
    }
    format!("the kernel refused to register {bytes} bytes of buffers: {e}")
}

/// Empties `n` buffer slots from `start`; whether the kernel cleared them all.
fn clear_buffers(submitter: io_uring::Submitter<'_>, start: u32, n: u32) -> bool {
    let empty = vec![
        libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        n as usize
    ];
    // SAFETY: null, zero-length iovecs clear the slots; nothing is registered.
    let res = unsafe { submitter.register_buffers_update(start, &empty, None) };
    res.is_ok()
}

impl UringDriver {
    /// Registers `iovecs` in consecutive slots of the buffer table; returns
    /// the first slot, or why not.
    ///
    /// # Safety
    ///
    /// The memory each iovec describes must stay allocated until
    /// [`unregister_buffers`](Self::unregister_buffers) clears its slots or the ring is gone.
    unsafe fn register_buffers(&mut self, iovecs: &[libc::iovec]) -> Result<u32, String> {
        let n = u32::try_from(iovecs.len()).unwrap_or(u32::MAX);
        let submitter = self.ring.submitter();
        let free = self
            .registered
            .bufs
            .ensure(BUF_SLOTS, || submitter.register_buffers_sparse(BUF_SLOTS))?;
        let Some(start) = take(free, n) else {
            return Err(format!(
                "the ring's buffer table ({BUF_SLOTS} slots) has no {n} free slots in a row"
            ));
        };
        // One buffer per call: on a refusal part-way the kernel keeps the
        // ones before it, and reports only how many (which the io-uring
        // crate drops), so the count is ours.
        for (i, iov) in (start..).zip(iovecs) {
            // SAFETY: the caller keeps the memory valid until the slots are cleared.
            let res =
                unsafe { submitter.register_buffers_update(i, std::slice::from_ref(iov), None) };
            if let Err(err) = res {
                // Undo the ones taken; a slot that does not clear is never reused.
                if clear_buffers(submitter, start, i - start) {
                    give(free, start, n);
                } else {
                    give(free, i, start + n - i);
                }
                let bytes = iovecs.iter().map(|v| v.iov_len).sum();
                return Err(buffer_refusal(&err, bytes));
            }
        }
        add(&self.counters.registered_buffers, u64::from(n));
        Ok(start)
    }

    /// Clears `n` buffer slots from `start`, which point into `memory`, and
    /// frees them for other pools; then `memory` may go.
    pub(super) fn unregister_buffers(&mut self, start: u32, n: u32, memory: Box<dyn Send>) {
        let Table::Sparse(free) = &mut self.registered.bufs else {
            return;
        };
        // A slot the kernel did not clear still names the old memory: never
        // reuse it, and keep the memory while the ring lives.
        if clear_buffers(self.ring.submitter(), start, n) {
            give(free, start, n);
            add(
                &self.counters.registered_buffers,
                u64::from(n).wrapping_neg(),
            );
            drop(memory);
        } else {
            self.registered.stuck.push(memory);
        }
    }

    /// Puts `fd` in a free slot of the file table; returns the slot, or why not.
    fn register_file(&mut self, fd: RawFd) -> Result<u32, String> {
        // Slots let go elsewhere may be reused.
        self.take_releases();
        let mut nofile = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: `nofile` is a valid, writable rlimit for the call.
        let slots = match unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut nofile) } {
            0 => FILE_SLOTS.min(u32::try_from(nofile.rlim_cur).unwrap_or(u32::MAX)),
            _ => 64,
        };
        let submitter = self.ring.submitter();
        let free = self
            .registered
            .files
            .ensure(slots, || submitter.register_files_sparse(slots))?;
        let Some(slot) = take(free, 1) else {
            return Err(format!("the ring's file table ({slots} slots) is full"));
        };
        match submitter.register_files_update(slot, &[fd]) {
            Ok(1) => {
                bump(&self.counters.registered_files);
                Ok(slot)
            }
            res => {
                give(free, slot, 1);
                let e = res
                    .err()
                    .unwrap_or_else(|| io::Error::from_raw_os_error(libc::EBADF));
                Err(format!("the kernel refused to register the file: {e}"))
            }
        }
    }

    /// Empties file slot `slot`, whose last holder is gone, and collects
    /// the waker of the close waiting on it.
    pub(super) fn empty_file_slot(&mut self, slot: u32, done: Option<Arc<Emptied>>) {
        let outcome = match &mut self.registered.files {
            // -1 empties the slot; the kernel drops its reference to the
            // file once no request in flight uses it.
            Table::Sparse(free) => match self.ring.submitter().register_files_update(slot, &[-1]) {
                Ok(_) => {
                    give(free, slot, 1);
                    add(&self.counters.registered_files, u64::MAX);
                    Ok(())
                }
                // Never reused: it may still name the file.
                Err(e) => Err(format!(
                    "the kernel refused to empty its registered slot: {e}"
                )),
            },
            _ => Ok(()),
        };
        if let Some(waker) = done.and_then(|d| d.give(outcome)) {
            self.deferred.wakers.push(waker);
        }
    }
}

impl Drop for UringDriver {
    /// Empties the file table before the ring goes: the kernel frees a
    /// closed ring (and the files in its table) later, on its own thread,
    /// and a file must not stay open past its runtime. Skipped if ops are
    /// still in flight (a shutdown that had to leak them), which an older
    /// kernel would wait for.
    fn drop(&mut self) {
        let outcome = match &self.registered.files {
            Table::Sparse(_) if self.ops.len() > 0 || self.wake_armed => Err(
                "the runtime went away with operations in flight; the kernel lets the file go \
                 after them"
                    .to_owned(),
            ),
            Table::Sparse(_) => match self.ring.submitter().unregister_files() {
                Ok(()) => Ok(()),
                Err(e) => Err(format!("the kernel refused to empty the file table: {e}")),
            },
            _ => Ok(()),
        };
        // What is still queued, and what comes later, hears it.
        self.unpark.releases.close(outcome);
    }
}

impl UringDriver {
    /// Registers buffers; returns the first slot and the handle to give
    /// them back through (`here` finds this driver on the releasing
    /// thread), or why they stay plain (the caller records that:
    /// `op::register`).
    ///
    /// # Safety
    ///
    /// As [`register_buffers`](Self::register_buffers): the memory stays
    /// allocated until it is handed back with the slots
    /// ([`FixedTables::release_buffers`]) or the ring is gone.
    pub(crate) unsafe fn register_buffers_with(
        &mut self,
        iovecs: &[libc::iovec],
        here: OnThisThread,
    ) -> Result<(u32, FixedTables), String> {
        // SAFETY: the caller's promise, passed on.
        let start = unsafe { self.register_buffers(iovecs) }?;
        Ok((start, self.fixed_tables(here)))
    }

    /// Registers `fd`; returns its slot and the handle to give it back
    /// through, or why it stays a plain descriptor (the caller records
    /// that: `op::register`).
    pub(crate) fn register_file_with(
        &mut self,
        fd: RawFd,
        here: OnThisThread,
    ) -> Result<(u32, FixedTables), String> {
        let slot = self.register_file(fd)?;
        Ok((slot, self.fixed_tables(here)))
    }

    /// A handle on this ring's tables.
    fn fixed_tables(&self, here: OnThisThread) -> FixedTables {
        FixedTables::new(self.id, self.unpark.clone(), here)
    }
}

#[cfg(test)]
mod tests {
    use super::{give, take};

    #[test]
    fn ranges_are_taken_first_fit_and_merged_back() {
        let mut free = vec![(0, 10)];
        assert_eq!(take(&mut free, 4), Some(0));
        assert_eq!(take(&mut free, 4), Some(4));
        assert_eq!(take(&mut free, 4), None);
        give(&mut free, 0, 4);
        assert_eq!(take(&mut free, 2), Some(0));
        give(&mut free, 4, 4);
        give(&mut free, 0, 2);
        assert_eq!(free, vec![(0, 10)]);
    }
}
