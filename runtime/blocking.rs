//! The blocking thread pool, a leaf: runs `spawn_blocking` jobs and the
//! epoll driver's regular-file I/O.
//!
//! Threads start on demand up to a bound and exit after sitting idle for the
//! keep-alive period. Jobs beyond the bound wait in a FIFO queue.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// A unit of work for the pool.
type Job = Box<dyn FnOnce() + Send + 'static>;

/// See [`BlockingPool::state`].
#[derive(Default)]
struct PoolState {
    /// Jobs not yet picked up.
    queue: VecDeque<Job>,
    /// Threads alive.
    threads: usize,
    /// Threads waiting for a job.
    idle: usize,
    /// The runtime is gone: idle threads exit.
    shutdown: bool,
}

/// A bounded, elastic pool of threads for blocking work.
pub(crate) struct BlockingPool {
    /// Queue and thread counts.
    state: Mutex<PoolState>,
    /// Signals idle threads.
    cond: Condvar,
    /// At most this many threads.
    max_threads: usize,
    /// Idle threads exit after this long.
    keep_alive: Duration,
    /// Name of pool threads.
    name: String,
}

impl std::fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockingPool")
            .field("max_threads", &self.max_threads)
            .finish_non_exhaustive()
    }
}

impl BlockingPool {
    pub(crate) fn new(max_threads: usize, keep_alive: Duration, name: String) -> Arc<Self> {
        Arc::new(BlockingPool {
            state: Mutex::new(PoolState::default()),
            cond: Condvar::new(),
            max_threads: max_threads.max(1),
            keep_alive,
            name,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `job`, starting a thread if none is idle and the bound allows.
    pub(crate) fn execute(self: &Arc<Self>, job: Job) {
        let mut st = self.lock();
        st.queue.push_back(job);
        if st.idle > 0 {
            drop(st);
            self.cond.notify_one();
            return;
        }
        if st.threads >= self.max_threads {
            return;
        }
        st.threads += 1;
        drop(st);
        let pool = self.clone();
        let spawned = std::thread::Builder::new()
            .name(self.name.clone())
            .spawn(move || pool.work());
        if spawned.is_err() {
            // Out of threads: the job waits for a running thread; the next
            // `execute` tries to start one again.
            self.lock().threads -= 1;
        }
    }

    /// A pool thread's loop.
    fn work(&self) {
        let mut st = self.lock();
        loop {
            if let Some(job) = st.queue.pop_front() {
                drop(st);
                // A panicking job must not take the thread's bookkeeping with it.
                let _ = catch_unwind(AssertUnwindSafe(job));
                st = self.lock();
                continue;
            }
            if st.shutdown {
                break;
            }
            st.idle += 1;
            let (guard, timeout) = self
                .cond
                .wait_timeout(st, self.keep_alive)
                .unwrap_or_else(|e| e.into_inner());
            st = guard;
            st.idle -= 1;
            if timeout.timed_out() && st.queue.is_empty() {
                break;
            }
        }
        st.threads -= 1;
    }

    /// Lets idle threads exit; queued jobs still run.
    pub(crate) fn shutdown(&self) {
        self.lock().shutdown = true;
        self.cond.notify_all();
    }

    /// Threads alive now.
    #[cfg(test)]
    pub(crate) fn threads(&self) -> usize {
        self.lock().threads
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn grows_to_the_bound_and_shrinks_when_idle() {
        let pool = BlockingPool::new(4, Duration::from_millis(50), "test-blocking".into());
        let (tx, rx) = mpsc::channel();
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        for _ in 0..8 {
            let tx = tx.clone();
            let gate = gate.clone();
            pool.execute(Box::new(move || {
                let (m, c) = &*gate;
                let mut open = m.lock().unwrap();
                while !*open {
                    open = c.wait(open).unwrap();
                }
                tx.send(()).unwrap();
            }));
        }
        assert_eq!(pool.threads(), 4);
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        for _ in 0..8 {
            rx.recv_timeout(Duration::from_secs(10)).unwrap();
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while pool.threads() > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(
            pool.threads(),
            0,
            "idle threads should exit after keep-alive"
        );
    }
}
