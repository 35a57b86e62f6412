//! `Runtime` and its workers: worker 0 on the thread calling `block_on`,
//! the others on threads it starts; their start-up, `block_on`, shutdown.
//! What a running runtime reports about itself is in `report.rs`.
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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};

use crate::blocking::BlockingPool;
use crate::builder::Builder;
use crate::context::{self, Worker};
use crate::driver::{detect, Driver, DriverKind};
use crate::executor::{self, Handle, Shared};
use crate::report::DriverInfo;
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
