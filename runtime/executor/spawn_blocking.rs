//! `spawn_blocking`: a closure on the runtime's blocking pool, awaited
//! through a `JoinHandle`.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use super::join::{JoinError, JoinHandle, JoinState, Joinable};
use crate::context;

/// A `spawn_blocking` job's side of its `JoinHandle`.
struct BlockingTask<T> {
    /// Output hand-over.
    join: JoinState<T>,
    /// Set by `abort()`: skip the closure if it has not started.
    aborted: AtomicBool,
}

impl<T: Send> Joinable<T> for BlockingTask<T> {
    fn join_state(&self) -> &JoinState<T> {
        &self.join
    }

    fn abort(self: Arc<Self>) {
        self.aborted.store(true, Ordering::SeqCst);
    }
}

/// Runs a blocking closure on the runtime's thread pool and returns a handle
/// to its result. Use it for CPU-heavy work or blocking calls that would
/// otherwise stall a worker.
///
/// `abort()` on the handle prevents the closure from starting; it cannot stop
/// one that already runs.
///
/// # Panics
///
/// When called outside a runtime.
///
/// ```
/// runtime::block_on(async {
///     let h = runtime::spawn_blocking(|| std::thread::current().name().map(String::from));
///     assert!(h.await.unwrap().unwrap().contains("blocking"));
/// });
/// ```
#[track_caller]
pub fn spawn_blocking<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let Some(worker) = context::current() else {
        panic!("runtime::spawn_blocking called outside a runtime");
    };
    let task = Arc::new(BlockingTask {
        join: JoinState::new(),
        aborted: AtomicBool::new(false),
    });
    let job_task = task.clone();
    worker.handle.pool.execute(Box::new(move || {
        if job_task.aborted.load(Ordering::SeqCst) {
            job_task.join.complete(Err(JoinError::cancelled()));
            return;
        }
        let out = catch_unwind(AssertUnwindSafe(f)).map_err(JoinError::panic);
        job_task.join.complete(out);
    }));
    JoinHandle::new(task)
}
