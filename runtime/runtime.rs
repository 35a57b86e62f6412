//! `Runtime`: its workers (worker 0 on the thread calling `block_on`, the
//! others on threads it starts), `block_on`, shutdown, and what the current
//! runtime reports: `driver_kind()`, `driver_info()`, `metrics()`.
//!
//! A `Runtime` is `!Send`: worker 0's driver belongs to the thread that built it.
//!
//! A worker thread that panics outside any task stops the runtime from
//! pretending: `build` fails if one panics while starting, and after that
//! `block_on` and `Drop` report it (see `executor/failure.rs`).
#![forbid(unsafe_code)]

use std::fmt;
use std::future::Future;
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use crate::blocking::BlockingPool;
use crate::builder::Builder;
use crate::context::{self, Worker};
use crate::driver::{detect, Driver, DriverKind};
use crate::executor::{self, Handle, Shared};
use crate::metrics::Counters;
use crate::time::Timers;

impl Runtime {
    /// Starts the workers `cfg` asks for (already validated by `Builder::build`).
    pub(crate) fn start(cfg: &Builder) -> io::Result<Runtime> {
        let workers = (0..cfg.workers)
            .map(|_| Shared::new().map(Arc::new))
            .collect::<io::Result<Vec<_>>>()?;
        let handle = Arc::new(Handle {
            drivers: Mutex::new(vec![
                (DriverKind::Auto, "not started".into());
                workers.len()
            ]),
            workers,
            pool: BlockingPool::new(
                cfg.max_blocking_threads,
                cfg.blocking_keep_alive,
                format!("{}-blocking", cfg.thread_name),
            ),
            failures: Default::default(),
        });
        let main = make_worker(0, &handle, cfg)?;
        let mut rt = Runtime {
            main,
            handle: handle.clone(),
            threads: Vec::new(),
            pid: std::process::id(),
        };
        for index in 1..cfg.workers {
            rt.threads.push(start_thread(cfg, index, &handle)?);
        }
        Ok(rt)
    }
}

/// Starts worker `index` on its own thread; returns once its driver is up
/// and the `on_thread_start` hook returned (an error if either failed or
/// panicked).
fn start_thread(cfg: &Builder, index: usize, handle: &Arc<Handle>) -> io::Result<WorkerThread> {
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel();
    let mut thread = std::thread::Builder::new().name(format!("{}-{index}", cfg.thread_name));
    if let Some(size) = cfg.thread_stack_size {
        thread = thread.stack_size(size);
    }
    let (cfg, handle2, stop2) = (cfg.clone(), handle.clone(), stop.clone());
    let join = thread.spawn(move || {
        let started = catch_unwind(AssertUnwindSafe(|| {
            let worker = make_worker(index, &handle2, &cfg)?;
            if let Some(f) = &cfg.on_thread_start {
                f();
            }
            Ok(worker)
        }));
        let worker = match started {
            Ok(Ok(w)) => {
                let _ = tx.send(Ok(()));
                w
            }
            Ok(Err(e)) => {
                let _ = tx.send(Err(e));
                return;
            }
            Err(payload) => {
                let msg = executor::panic_message(&*payload);
                let msg = format!("runtime: worker {index} panicked while starting: {msg}");
                let _ = tx.send(Err(io::Error::other(msg)));
                return;
            }
        };
        let _enter = context::enter(worker.clone());
        executor::run_worker(&worker, &stop2);
        if let Some(f) = &cfg.on_thread_stop {
            f();
        }
    })?;
    let started = rx
        .recv()
        .unwrap_or_else(|_| Err(io::Error::other("worker thread exited during startup")));
    let t = WorkerThread {
        join: Some(join),
        stop,
        shared: handle.workers[index].clone(),
    };
    started.map(|()| t)
}

/// Builds worker `index`'s driver on the calling thread.
fn make_worker(index: usize, handle: &Arc<Handle>, cfg: &Builder) -> io::Result<Rc<Worker>> {
    let shared = handle.workers[index].clone();
    let choice = detect::choose(cfg.driver, cfg.entries)?;
    let mut driver = Driver::new(
        choice.ring,
        shared.unpark.clone(),
        handle.pool.clone(),
        shared.counters.clone(),
        cfg.recv,
    )?;
    driver.set_send_zerocopy(cfg.send_zerocopy);
    let reason = match driver.receive_info() {
        Some(info) => format!("{}; {info}", choice.reason),
        None => choice.reason,
    };
    handle.drivers.lock().unwrap_or_else(|e| e.into_inner())[index] = (choice.kind, reason);
    Ok(Rc::new(Worker {
        index,
        driver: std::cell::RefCell::new(driver),
        timers: std::cell::RefCell::new(Timers::default()),
        run_queue: Default::default(),
        owned: Default::default(),
        shared,
        handle: handle.clone(),
        event_interval: cfg.event_interval,
        wake_batch: Default::default(),
    }))
}

/// A worker thread and how to stop it.
struct WorkerThread {
    join: Option<std::thread::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    shared: Arc<Shared>,
}

/// A running runtime: worker 0 on this thread, the others on their own.
///
/// Dropping it drops every task, cancels every operation in flight and reaps
/// the completions before the rings are freed.
///
/// # Panics
///
/// When a worker thread panicked outside any task (its driver failed, a
/// waker panicked …), that worker is gone: its tasks' handles resolve with
/// a `JoinError` carrying the panic message, `spawn_on` to it fails the
/// same way, and [`block_on`](Runtime::block_on) panics with the message
/// unless its future finishes anyway. `Drop` then panics with it (unless
/// `block_on` did, or the thread is already panicking), as
/// `std::thread::scope` does for a thread that panicked.
///
/// # Fork
///
/// A runtime belongs to the process that built it: after `fork()`, the
/// child has none of its worker threads and shares its rings with the
/// parent. In the child, `block_on` panics saying so, and dropping the
/// runtime leaks it without touching what the parent still uses; a new
/// runtime built in the child works.
pub struct Runtime {
    /// Worker 0, run by `block_on` on this thread.
    main: Rc<Worker>,
    /// Runtime-wide state.
    handle: Arc<Handle>,
    /// Workers 1..
    threads: Vec<WorkerThread>,
    /// The process that built it (see "Fork").
    pid: u32,
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Runtime")
            .field("workers", &(self.threads.len() + 1))
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Runs `future` to completion on this thread (worker 0), running the
    /// worker's tasks meanwhile. Tasks left when it returns stay until the
    /// runtime drops (or the next `block_on`).
    ///
    /// # Panics
    ///
    /// When called from inside a runtime (that would block a worker), in a
    /// child process forked from the one that built the runtime, or when a
    /// worker died and `future` waits (see [`Runtime`]).
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        if context::current().is_some() {
            panic!(
                "block_on called inside a runtime: this would block a worker; use spawn or .await"
            );
        }
        if self.forked() {
            panic!(
                "runtime: this Runtime was built by process {} and cannot run in process {} \
                 (a fork() child has none of its threads and shares its rings); build a new \
                 runtime in the child",
                self.pid,
                std::process::id()
            );
        }
        let _enter = context::enter(self.main.clone());
        executor::block_on_worker(&self.main, future)
    }

    /// The driver each worker runs, and why.
    pub fn driver_info(&self) -> DriverInfo {
        DriverInfo::of(&self.handle)
    }
}

impl Runtime {
    /// Whether this is a `fork()` child's copy of the runtime.
    fn forked(&self) -> bool {
        std::process::id() != self.pid
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if self.forked() {
            // The threads to join are not in this process, and the rings
            // are shared with the parent: touch nothing, leak it all.
            std::mem::forget(self.main.clone());
            std::mem::forget(self.handle.clone());
            std::mem::forget(std::mem::take(&mut self.threads));
            return;
        }
        for t in &self.threads {
            t.stop.store(true, Ordering::SeqCst);
            t.shared.notify();
        }
        for (index, t) in (1..).zip(&mut self.threads) {
            if let Some(Err(payload)) = t.join.take().map(|j| j.join()) {
                // Only the `on_thread_stop` hook runs outside the worker's own catch.
                let msg = executor::panic_message(&*payload);
                let msg = format!("runtime: worker {index} panicked while stopping: {msg}");
                self.handle.failures.record(&msg);
            }
        }
        {
            let _enter = context::enter(self.main.clone());
            executor::shutdown_worker(&self.main);
        }
        self.handle.pool.shutdown();
        if !std::thread::panicking() {
            if let Some(msg) = self.handle.failures.take_unreported() {
                panic!("{msg}");
            }
        }
    }
}

/// Which driver each worker runs and why the other was not chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverInfo {
    /// One entry per worker: (driver, reason).
    pub workers: Vec<(DriverKind, String)>,
}

impl DriverInfo {
    fn of(handle: &Handle) -> Self {
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

/// Adds "`what` fell back: `why`" to `worker`'s line of [`driver_info()`]
/// (once per kind), for registrations refused by the kernel.
pub(crate) fn note_fallback(worker: &Worker, what: &str, why: &str) {
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

/// Builds a default runtime and runs `future` on it; the runtime (and every
/// task left) is dropped when `future` completes.
///
/// # Panics
///
/// If the runtime cannot start (see [`Builder::build`]) or when called inside a runtime.
///
/// ```
/// let v = runtime::block_on(async { 6 * 7 });
/// assert_eq!(v, 42);
/// ```
#[track_caller]
pub fn block_on<F: Future>(future: F) -> F::Output {
    let rt = match Builder::new().build() {
        Ok(rt) => rt,
        Err(e) => panic!("runtime::block_on: cannot start the runtime: {e}"),
    };
    rt.block_on(future)
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
