//! What a running runtime reports about itself: which driver each worker
//! runs and why ([`driver_kind()`], [`driver_info()`]), and each worker's
//! counters ([`metrics()`]).
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::atomic::Ordering::Relaxed;

use crate::context::{self, Worker};
use crate::driver::DriverKind;
use crate::executor::Handle;
use crate::metrics::Counters;

/// Which driver each worker runs and why the other was not chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverInfo {
    /// One entry per worker: (driver, reason).
    pub workers: Vec<(DriverKind, String)>,
}

impl DriverInfo {
    /// The lines of `handle`'s workers.
    pub(crate) fn of(handle: &Handle) -> Self {
        DriverInfo {
            workers: handle
                .drivers
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        }
    }
}

impl fmt::Display for DriverInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.workers.is_empty() {
            return f.write_str("no runtime on this thread");
        }
        for (i, (kind, why)) in self.workers.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "worker {i}: {kind} ({why})")?;
        }
        Ok(())
    }
}

/// Records a registration the kernel refused, in the one place that does:
/// counted in `worker`'s metrics (`registration_fallbacks`, with `why` as
/// its `registration_note`) and added as "`what` fell back: `why`" to its
/// line of [`driver_info()`] (once per kind).
pub(crate) fn note_fallback(worker: &Worker, what: &str, why: &str) {
    let counters = &worker.shared.counters;
    crate::metrics::bump(&counters.registration_fallbacks);
    *counters
        .registration_note
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = Some(why.to_owned());
    let mut drivers = worker
        .handle
        .drivers
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some((_, line)) = drivers.get_mut(worker.index) {
        let prefix = format!("; {what} fell back to plain ones: ");
        if !line.contains(&prefix) {
            line.push_str(&prefix);
            line.push_str(why);
        }
    }
}

/// The driver the current worker runs; `Auto` outside a runtime.
pub fn driver_kind() -> DriverKind {
    match context::current() {
        Some(w) => w.driver.borrow().kind(),
        None => DriverKind::Auto,
    }
}

/// Which driver each worker of the current runtime runs, and why the other
/// driver was not chosen. Empty outside a runtime.
///
/// ```
/// runtime::block_on(async {
///     let info = runtime::driver_info();
///     println!("{info}"); // e.g. "worker 0: io_uring (io_uring available …)"
///     assert_eq!(info.workers.len(), 1);
/// });
/// ```
pub fn driver_info() -> DriverInfo {
    match context::current() {
        Some(w) => DriverInfo::of(&w.handle),
        None => DriverInfo {
            workers: Vec::new(),
        },
    }
}

/// A snapshot of one worker's counters.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WorkerMetrics {
    /// The worker's index (0 runs `block_on`).
    pub worker: usize,
    /// The driver the worker runs.
    pub driver: DriverKind,
    /// Tasks started on the worker so far: a `spawn_on` task counts on the
    /// worker it runs on (from its first run), not on the one that spawned it.
    pub tasks_spawned: u64,
    /// Tasks alive now (spawned and not yet finished).
    pub tasks_alive: u64,
    /// Operations submitted to the kernel or the blocking pool.
    pub ops_submitted: u64,
    /// Operations whose final completion was reaped.
    pub ops_completed: u64,
    /// Operations dropped in flight and cancelled.
    pub ops_cancelled: u64,
    /// Operations the epoll driver ran on the blocking pool (regular-file
    /// I/O that might wait for the disk); always 0 on io_uring.
    pub ops_offloaded: u64,
    /// Operations holding driver state (exact for the calling worker, as of
    /// its last park for the others).
    pub ops_in_flight: u64,
    /// Times a submission found the submission queue full.
    pub sq_full_waits: u64,
    /// Times the completion queue overflowed (completions were kept by the kernel, not lost).
    pub cq_overflows: u64,
    /// Receives whose future was dropped after the kernel had received into
    /// its buffer (io_uring): what they received waited in their socket's
    /// queue for the next read, as it should.
    pub receives_adopted: u64,
    /// `write_all` sends that went zero-copy (`IORING_OP_SEND_ZC`, see
    /// [`Builder::send_zerocopy_threshold`](crate::Builder::send_zerocopy_threshold))
    /// and sent bytes, counted once the kernel let go of their buffer;
    /// always 0 on epoll.
    pub sends_zerocopy: u64,
    /// Of [`sends_zerocopy`](Self::sends_zerocopy), the ones whose bytes
    /// the kernel copied after all (every one on loopback, and with a
    /// device that cannot send from user pages; counted on Linux 6.2+).
    pub sends_zerocopy_copied: u64,
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
            ops_offloaded: c.ops_offloaded.load(Relaxed),
            ops_in_flight: c.ops_in_flight.load(Relaxed),
            sq_full_waits: c.sq_full_waits.load(Relaxed),
            cq_overflows: c.cq_overflows.load(Relaxed),
            receives_adopted: c.receives_adopted.load(Relaxed),
            sends_zerocopy: c.sends_zerocopy.load(Relaxed),
            sends_zerocopy_copied: c.sends_zerocopy_copied.load(Relaxed),
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
