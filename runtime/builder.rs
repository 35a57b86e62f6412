//! `Builder`, `Runtime` and `DriverKind`: configuring and starting workers.
//!
//! Worker 0 is the thread that calls `block_on`; workers 1.. are threads the
//! runtime starts, each with its own driver, running until the runtime drops.
//! A `Runtime` is `!Send`: worker 0's ring belongs to the thread that built it.
#![forbid(unsafe_code)]

use std::fmt;
use std::future::Future;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use crate::blocking::BlockingPool;
use crate::context::{self, Worker};
use crate::driver::detect;
use crate::driver::epoll::EpollDriver;
use crate::driver::uring::UringDriver;
use crate::driver::Driver;
use crate::executor::{self, Handle, Shared};
use crate::time::Timers;

/// Which I/O driver a worker runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DriverKind {
    /// io_uring if this machine allows it, else epoll (`RUNTIME_DRIVER` may override).
    #[default]
    Auto,
    /// io_uring: the kernel performs each operation and reports its completion.
    Uring,
    /// epoll: non-blocking syscalls retried on readiness; files on the blocking pool.
    Epoll,
}

impl fmt::Display for DriverKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DriverKind::Auto => "auto",
            DriverKind::Uring => "io_uring",
            DriverKind::Epoll => "epoll",
        })
    }
}

/// A hook run on each worker thread the runtime starts.
type Hook = Arc<dyn Fn() + Send + Sync>;

/// Configures and builds a [`Runtime`].
///
/// ```
/// use runtime::{Builder, DriverKind};
/// let rt = Builder::new().workers(2).driver(DriverKind::Epoll).entries(256).build()?;
/// assert_eq!(rt.block_on(async { 1 + 1 }), 2);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone)]
pub struct Builder {
    workers: usize,
    driver: DriverKind,
    entries: u32,
    thread_name: String,
    thread_stack_size: Option<usize>,
    max_blocking_threads: usize,
    blocking_keep_alive: Duration,
    event_interval: usize,
    on_thread_start: Option<Hook>,
    on_thread_stop: Option<Hook>,
}

impl fmt::Debug for Builder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Builder")
            .field("workers", &self.workers)
            .field("driver", &self.driver)
            .field("entries", &self.entries)
            .field("thread_name", &self.thread_name)
            .field("max_blocking_threads", &self.max_blocking_threads)
            .finish_non_exhaustive()
    }
}

impl Default for Builder {
    fn default() -> Self {
        Self::new()
    }
}

impl Builder {
    /// One worker, automatic driver, 1024 ring entries.
    pub fn new() -> Self {
        Builder {
            workers: 1,
            driver: DriverKind::Auto,
            entries: 1024,
            thread_name: "runtime-worker".into(),
            thread_stack_size: None,
            max_blocking_threads: 512,
            blocking_keep_alive: Duration::from_secs(10),
            event_interval: 61,
            on_thread_start: None,
            on_thread_stop: None,
        }
    }

    /// Number of worker threads, each with its own driver (worker 0 is the
    /// thread calling `block_on`). Zero is rejected by `build`.
    pub fn workers(&mut self, n: usize) -> &mut Self {
        self.workers = n;
        self
    }

    /// The driver: explicit `Uring` or `Epoll` wins over `RUNTIME_DRIVER`,
    /// which wins over `Auto`'s probe. An explicit `Uring` that cannot start
    /// makes `build` fail.
    pub fn driver(&mut self, kind: DriverKind) -> &mut Self {
        self.driver = kind;
        self
    }

    /// io_uring submission-queue entries per worker (1..=32768; the
    /// completion queue gets twice as many). Ops beyond this wait, never fail.
    pub fn entries(&mut self, n: u32) -> &mut Self {
        self.entries = n;
        self
    }

    /// Name prefix of the worker threads (`NAME-1`, `NAME-2`, …).
    pub fn thread_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.thread_name = name.into();
        self
    }

    /// Stack size of the worker threads.
    pub fn thread_stack_size(&mut self, bytes: usize) -> &mut Self {
        self.thread_stack_size = Some(bytes);
        self
    }

    /// Upper bound on `spawn_blocking` threads (default 512).
    pub fn max_blocking_threads(&mut self, n: usize) -> &mut Self {
        self.max_blocking_threads = n;
        self
    }

    /// How long an idle blocking thread lingers before exiting (default 10 s).
    pub fn thread_keep_alive(&mut self, d: Duration) -> &mut Self {
        self.blocking_keep_alive = d;
        self
    }

    /// Tasks polled per loop turn before completions are reaped (default 61).
    pub fn event_interval(&mut self, n: usize) -> &mut Self {
        self.event_interval = n;
        self
    }

    /// Runs `f` at the start of each worker thread the runtime starts.
    pub fn on_thread_start(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_start = Some(Arc::new(f));
        self
    }

    /// Runs `f` at the end of each worker thread the runtime starts.
    pub fn on_thread_stop(&mut self, f: impl Fn() + Send + Sync + 'static) -> &mut Self {
        self.on_thread_stop = Some(Arc::new(f));
        self
    }

    /// Starts the workers.
    ///
    /// Errors: `InvalidInput` for zero workers, zero or too many entries, a
    /// zero event interval or a bad `RUNTIME_DRIVER`; the setup error when
    /// io_uring was requested explicitly and cannot start.
    pub fn build(&self) -> io::Result<Runtime> {
        let invalid = |m: &str| io::Error::new(io::ErrorKind::InvalidInput, m.to_string());
        if self.workers == 0 {
            return Err(invalid("a runtime needs at least one worker"));
        }
        if self.entries == 0 || self.entries > 32768 {
            return Err(invalid("entries must be between 1 and 32768"));
        }
        if self.event_interval == 0 {
            return Err(invalid("event_interval must be at least 1"));
        }
        let workers = (0..self.workers)
            .map(|_| Shared::new().map(Arc::new))
            .collect::<io::Result<Vec<_>>>()?;
        let handle = Arc::new(Handle {
            drivers: Mutex::new(vec![
                (DriverKind::Auto, "not started".into());
                workers.len()
            ]),
            workers,
            pool: BlockingPool::new(
                self.max_blocking_threads,
                self.blocking_keep_alive,
                format!("{}-blocking", self.thread_name),
            ),
        });
        let main = make_worker(0, &handle, self)?;
        let mut rt = Runtime {
            main,
            handle: handle.clone(),
            threads: Vec::new(),
        };
        for index in 1..self.workers {
            rt.threads.push(self.start_thread(index, &handle)?);
        }
        Ok(rt)
    }

    /// Starts worker `index` on its own thread; returns once its driver is up.
    fn start_thread(&self, index: usize, handle: &Arc<Handle>) -> io::Result<WorkerThread> {
        let stop = Arc::new(AtomicBool::new(false));
        let (tx, rx) = mpsc::channel();
        let mut thread = std::thread::Builder::new().name(format!("{}-{index}", self.thread_name));
        if let Some(size) = self.thread_stack_size {
            thread = thread.stack_size(size);
        }
        let (cfg, handle2, stop2) = (self.clone(), handle.clone(), stop.clone());
        let join = thread.spawn(move || {
            let worker = match make_worker(index, &handle2, &cfg) {
                Ok(w) => {
                    let _ = tx.send(Ok(()));
                    w
                }
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            if let Some(f) = &cfg.on_thread_start {
                f();
            }
            let _enter = context::enter(worker.clone());
            executor::run_worker(&worker, &stop2);
            executor::shutdown_worker(&worker);
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
}

/// Builds worker `index`'s driver on the calling thread.
fn make_worker(index: usize, handle: &Arc<Handle>, cfg: &Builder) -> io::Result<Rc<Worker>> {
    let shared = handle.workers[index].clone();
    let choice = detect::choose(cfg.driver, cfg.entries)?;
    let counters = shared.counters.clone();
    let driver = match choice.ring {
        Some(ring) => Driver::Uring(UringDriver::new(ring, &shared.wake_fd, counters)),
        None => Driver::Epoll(EpollDriver::new(
            &shared.wake_fd,
            shared.clone(),
            handle.pool.clone(),
            counters,
        )?),
    };
    handle.drivers.lock().unwrap_or_else(|e| e.into_inner())[index] = (choice.kind, choice.reason);
    Ok(Rc::new(Worker {
        index,
        driver: std::cell::RefCell::new(driver),
        timers: std::cell::RefCell::new(Timers::default()),
        run_queue: Default::default(),
        owned: Default::default(),
        shared,
        handle: handle.clone(),
        event_interval: cfg.event_interval,
        deferred: Default::default(),
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
pub struct Runtime {
    /// Worker 0, run by `block_on` on this thread.
    main: Rc<Worker>,
    /// Runtime-wide state.
    handle: Arc<Handle>,
    /// Workers 1..
    threads: Vec<WorkerThread>,
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
    /// When called from inside a runtime: that would block a worker.
    #[track_caller]
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        if context::current().is_some() {
            panic!(
                "block_on called inside a runtime: this would block a worker; use spawn or .await"
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

impl Drop for Runtime {
    fn drop(&mut self) {
        for t in &self.threads {
            t.stop.store(true, Ordering::SeqCst);
            t.shared.notify();
        }
        for t in &mut self.threads {
            if let Some(j) = t.join.take() {
                let _ = j.join();
            }
        }
        {
            let _enter = context::enter(self.main.clone());
            executor::shutdown_worker(&self.main);
        }
        self.handle.pool.shutdown();
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
pub(crate) fn note_fallback(worker: &context::Worker, what: &str, why: &str) {
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
        Some(w) => match &*w.driver.borrow() {
            Driver::Uring(_) => DriverKind::Uring,
            Driver::Epoll(_) => DriverKind::Epoll,
        },
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
