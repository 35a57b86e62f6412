//! Per-worker counters and the `runtime::metrics()` snapshot.
//!
//! Each counter has a single writer (its worker thread), so a bump is a plain
//! load and store; any thread may read a snapshot.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use crate::context;
use crate::DriverKind;

/// One worker's counters, written by that worker only.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    /// Tasks spawned on this worker.
    pub(crate) tasks_spawned: AtomicU64,
    /// Tasks that finished, were aborted or were dropped at shutdown.
    pub(crate) tasks_finished: AtomicU64,
    /// Operations handed to the kernel (or the blocking pool).
    pub(crate) ops_submitted: AtomicU64,
    /// Operations whose final completion was reaped.
    pub(crate) ops_completed: AtomicU64,
    /// Operations dropped in flight and cancelled.
    pub(crate) ops_cancelled: AtomicU64,
    /// Slots in use at the last park.
    pub(crate) ops_in_flight: AtomicU64,
    /// Times an entry found the submission queue full.
    pub(crate) sq_full_waits: AtomicU64,
    /// Times the completion queue overflowed into the kernel's list.
    pub(crate) cq_overflows: AtomicU64,
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

/// A snapshot of one worker's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// The worker's index (0 runs `block_on`).
    pub worker: usize,
    /// The driver the worker runs.
    pub driver: DriverKind,
    /// Tasks spawned on the worker so far.
    pub tasks_spawned: u64,
    /// Tasks alive now (spawned and not yet finished).
    pub tasks_alive: u64,
    /// Operations submitted to the kernel or the blocking pool.
    pub ops_submitted: u64,
    /// Operations whose final completion was reaped.
    pub ops_completed: u64,
    /// Operations dropped in flight and cancelled.
    pub ops_cancelled: u64,
    /// Operations holding driver state (exact for the calling worker, as of
    /// its last park for the others).
    pub ops_in_flight: u64,
    /// Times a submission found the submission queue full.
    pub sq_full_waits: u64,
    /// Times the completion queue overflowed (completions were kept by the kernel, not lost).
    pub cq_overflows: u64,
    /// Wake-ups and completions pushed to the worker from other threads.
    pub remote_wakes: u64,
    /// Times the worker blocked in the kernel waiting for work.
    pub parks: u64,
    /// Event-loop turns.
    pub ticks: u64,
    /// Buffers registered with the worker's ring now (`FixedPool` buffers).
    pub registered_buffers: u64,
    /// Files registered with the worker's ring now (`File::register`).
    pub registered_files: u64,
    /// Registrations that fell back to plain buffers or descriptors: never
    /// an error, but slower. [`registration_note`](Self::registration_note) says why.
    pub registration_fallbacks: u64,
    /// Why the last registration fell back, e.g. "RLIMIT_MEMLOCK … too small";
    /// `None` if none did.
    pub registration_note: Option<String>,
}

impl WorkerMetrics {
    /// Reads `counters`.
    pub(crate) fn read(worker: usize, driver: DriverKind, c: &Counters) -> Self {
        let spawned = c.tasks_spawned.load(Relaxed);
        WorkerMetrics {
            worker,
            driver,
            tasks_spawned: spawned,
            tasks_alive: spawned.saturating_sub(c.tasks_finished.load(Relaxed)),
            ops_submitted: c.ops_submitted.load(Relaxed),
            ops_completed: c.ops_completed.load(Relaxed),
            ops_cancelled: c.ops_cancelled.load(Relaxed),
            ops_in_flight: c.ops_in_flight.load(Relaxed),
            sq_full_waits: c.sq_full_waits.load(Relaxed),
            cq_overflows: c.cq_overflows.load(Relaxed),
            remote_wakes: c.remote_wakes.load(Relaxed),
            parks: c.parks.load(Relaxed),
            ticks: c.ticks.load(Relaxed),
            registered_buffers: c.registered_buffers.load(Relaxed),
            registered_files: c.registered_files.load(Relaxed),
            registration_fallbacks: c.registration_fallbacks.load(Relaxed),
            registration_note: c
                .registration_note
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

/// Counters of every worker of the current runtime, one entry per worker.
///
/// Returns an empty list outside a runtime.
///
/// ```
/// runtime::block_on(async {
///     let m = runtime::metrics();
///     assert_eq!(m.len(), 1);
///     assert_eq!(m[0].ops_in_flight, 0);
/// });
/// ```
pub fn metrics() -> Vec<WorkerMetrics> {
    let Some(worker) = context::current() else {
        return Vec::new();
    };
    let in_flight = worker.driver.borrow().in_flight() as u64;
    worker
        .handle
        .workers
        .iter()
        .enumerate()
        .map(|(i, shared)| {
            let mut m = WorkerMetrics::read(i, worker.handle.driver_of(i), &shared.counters);
            if i == worker.index {
                m.ops_in_flight = in_flight;
            }
            m
        })
        .collect()
}
