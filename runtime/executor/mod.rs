//! The thread-per-core executor: spawning, the event loop, and cross-thread wake-ups.
//!
//! Each worker thread owns one driver, one run queue and one set of tasks.
//! `spawn` puts a task on the current worker (its future need not be `Send`);
//! `spawn_on` builds the future on another worker from a `Send` closure. A
//! waker is `Send + Sync`: waking from another thread pushes the task to its
//! worker's inbox and ends that worker's kernel wait.

mod abort;
pub(crate) mod coop;
mod failure;
mod join;
mod join_set;
mod run_loop;
mod shared;
mod spawn_blocking;
mod task;

use std::future::Future;
use std::sync::Arc;

pub use abort::AbortHandle;
pub(crate) use failure::{panic_message, Failures};
pub use join::{JoinError, JoinHandle};
pub use join_set::JoinSet;
pub(crate) use shared::Shared;
pub use spawn_blocking::spawn_blocking;
pub(crate) use task::Runnable;

use crate::blocking::BlockingPool;
use crate::context;
use crate::driver::DriverKind;

/// The runtime-wide state every worker shares.
#[derive(Debug)]
pub(crate) struct Handle {
    /// Each worker's cross-thread endpoint, by index.
    pub(crate) workers: Vec<Arc<Shared>>,
    /// Each worker's driver and why it was chosen, filled in as workers start.
    pub(crate) drivers: std::sync::Mutex<Vec<(DriverKind, String)>>,
    /// The `spawn_blocking` pool (also the epoll driver's file I/O).
    pub(crate) pool: Arc<BlockingPool>,
    /// Workers that died (`failure.rs`).
    pub(crate) failures: Failures,
}

impl Handle {
    /// The driver worker `i` runs.
    pub(crate) fn driver_of(&self, i: usize) -> DriverKind {
        let drivers = self.drivers.lock().unwrap_or_else(|e| e.into_inner());
        drivers.get(i).map_or(DriverKind::Auto, |d| d.0)
    }
}

/// Spawns a task on the current worker. The future need not be `Send`.
///
/// The task starts running at the worker's next turn and keeps running if
/// the handle is dropped. A panic inside it is caught and reported through
/// the handle.
///
/// # Panics
///
/// When called outside a runtime.
///
/// ```
/// use std::rc::Rc;
/// runtime::block_on(async {
///     let shared = Rc::new(5); // not Send: fine for a local task
///     let h = runtime::spawn(async move { *shared * 2 });
///     assert_eq!(h.await.unwrap(), 10);
/// });
/// ```
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let Some(worker) = context::current() else {
        panic!(
            "runtime::spawn called outside a runtime: call it inside runtime::block_on or a task"
        );
    };
    let cell = task::TaskCell::new(future, worker.shared.clone());
    let runnable = task::as_runnable(&cell);
    task::register(&runnable);
    task::schedule(runnable);
    JoinHandle::new(task::as_joinable(cell))
}

/// Spawns a task on worker `worker` of the current runtime: `make` runs there
/// and builds the future, which need not be `Send`.
///
/// A worker that stopped refuses the task: its handle resolves at once with
/// a `JoinError`, cancelled at shutdown, or carrying the panic message of a
/// worker that died.
///
/// # Panics
///
/// Outside a runtime, or if `worker` is not below the runtime's worker count.
///
/// ```
/// let rt = runtime::Builder::new().workers(2).build().unwrap();
/// rt.block_on(async {
///     let h = runtime::spawn_on(1, || async { std::thread::current().name().map(String::from) });
///     assert!(h.await.unwrap().is_some());
/// });
/// ```
#[track_caller]
pub fn spawn_on<F, Fut>(worker: usize, make: F) -> JoinHandle<Fut::Output>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future + 'static,
    Fut::Output: Send + 'static,
{
    let Some(current) = context::current() else {
        panic!("runtime::spawn_on called outside a runtime");
    };
    let Some(target) = current.handle.workers.get(worker).cloned() else {
        panic!(
            "runtime::spawn_on: worker {worker} does not exist (the runtime has {})",
            current.handle.workers.len()
        );
    };
    let cell = task::TaskCell::new(SpawnOn::Make { make: Some(make) }, target.clone());
    // Registered (and counted in the metrics) by the worker that runs it:
    // here, or at its first run over there.
    if Arc::ptr_eq(&target, &current.shared) {
        task::register(&task::as_runnable(&cell));
        task::schedule(task::as_runnable(&cell));
    } else if !task::send_new(task::as_runnable(&cell)) {
        // SAFETY: refused, so it never ran and is in no queue; its future
        // is still `make`, which is `Send`.
        unsafe { cell.fail_unstarted() };
    }
    JoinHandle::new(task::as_joinable(cell))
}

pin_project_lite::pin_project! {
    /// A future built on its worker by the closure given to `spawn_on`.
    #[project = SpawnOnProj]
    enum SpawnOn<F, Fut> {
        /// Not yet run: the closure.
        Make { make: Option<F> },
        /// Running: the future it built.
        Run { #[pin] fut: Fut },
    }
}

impl<F: FnOnce() -> Fut, Fut: Future> Future for SpawnOn<F, Fut> {
    type Output = Fut::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Fut::Output> {
        if let SpawnOnProj::Make { make } = self.as_mut().project() {
            let fut = make.take().expect("built once")();
            self.set(SpawnOn::Run { fut });
        }
        match self.project() {
            SpawnOnProj::Run { fut } => fut.poll(cx),
            SpawnOnProj::Make { .. } => unreachable!("replaced above"),
        }
    }
}

pub(crate) use run_loop::{block_on_worker, run_worker, shutdown_worker};
