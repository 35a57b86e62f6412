//! Per-worker counters, a leaf: the driver and the executor bump them;
//! `runtime::metrics()` (in `report.rs`) reads them into a `WorkerMetrics`.
//!
//! Each counter has a single writer (its worker thread), so a bump is a plain
//! load and store; any thread may read a snapshot.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

/// One worker's counters, written by that worker only.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Tasks registered on this worker (the one that runs them).
    pub(crate) tasks_spawned: AtomicU64,
    /// Tasks that finished, were aborted or were dropped at shutdown.
    pub(crate) tasks_finished: AtomicU64,
    /// Operations handed to the kernel (or the blocking pool).
    pub(crate) ops_submitted: AtomicU64,
    /// Operations whose final completion was reaped.
    pub(crate) ops_completed: AtomicU64,
    /// Operations dropped in flight and cancelled.
    pub(crate) ops_cancelled: AtomicU64,
    /// Operations the epoll driver ran on the blocking pool.
    pub(crate) ops_offloaded: AtomicU64,
    /// Slots in use at the last park.
    pub(crate) ops_in_flight: AtomicU64,
    /// Times an entry found the submission queue full.
    pub(crate) sq_full_waits: AtomicU64,
    /// Times the completion queue overflowed into the kernel's list.
    pub(crate) cq_overflows: AtomicU64,
    /// Receives whose future was dropped after the kernel took data: what
    /// they received went to their socket's queue.
    pub(crate) receives_adopted: AtomicU64,
    /// Zero-copy sends (`IORING_OP_SEND_ZC`) that sent bytes, counted when
    /// the kernel let go of their buffer.
    pub(crate) sends_zerocopy: AtomicU64,
    /// Of those, the ones whose bytes the kernel copied after all.
    pub(crate) sends_zerocopy_copied: AtomicU64,
    /// Wake-ups and completions pushed to this worker from other threads.
    pub(crate) remote_wakes: AtomicU64,
    /// Times the worker blocked in the kernel waiting for work.
    pub(crate) parks: AtomicU64,
    /// Loop turns (one submit-and-reap each).
    pub(crate) ticks: AtomicU64,
    /// Buffers in the ring's registered-buffer table now.
    pub(crate) registered_buffers: AtomicU64,
    /// Files in the ring's registered-file table now.
    pub(crate) registered_files: AtomicU64,
    /// Registrations refused (buffers or files), which fell back to plain ones.
    pub(crate) registration_fallbacks: AtomicU64,
    /// Why the last registration fell back (`RLIMIT_MEMLOCK`, an old kernel …).
    pub(crate) registration_note: Mutex<Option<String>>,
}

/// Adds `delta` (which may wrap, to subtract) to a counter only the calling thread writes.
#[inline]
pub(crate) fn add(counter: &AtomicU64, delta: u64) {
    counter.store(counter.load(Relaxed).wrapping_add(delta), Relaxed);
}

/// Adds one to a counter that only the calling thread writes.
#[inline]
pub(crate) fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Relaxed) + 1, Relaxed);
}
