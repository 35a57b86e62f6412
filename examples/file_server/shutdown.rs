//! Graceful shutdown across workers: a flag every accept loop and idle
//! connection watches, and a count of connections still open.
//!
//! The signal task sets the flag ([`Shutdown::begin`]); accept loops then
//! drop their listeners, idle connections close, and connections in the
//! middle of a response finish it and then close. [`Shutdown::drained`]
//! resolves when the last one is gone.

use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// The shared shutdown state.
#[derive(Debug, Default)]
pub(crate) struct Shutdown {
    /// Set once, when SIGINT or SIGTERM arrived.
    started: AtomicBool,
    /// Connections being served.
    open: AtomicUsize,
    /// Tasks waiting for `started` (or for `open` to reach 0), by waiter id.
    waiters: Mutex<HashMap<u64, Waker>>,
    /// Source of waiter ids.
    next_id: AtomicU64,
}

/// Counts one open connection until dropped.
#[derive(Debug)]
pub(crate) struct Open(Arc<Shutdown>);

impl Drop for Open {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::SeqCst) == 1 && self.0.is_started() {
            self.0.wake_all();
        }
    }
}

impl Shutdown {
    /// Starts the shutdown and wakes every waiter.
    pub(crate) fn begin(&self) {
        self.started.store(true, Ordering::SeqCst);
        self.wake_all();
    }

    /// Whether the shutdown has started.
    pub(crate) fn is_started(&self) -> bool {
        self.started.load(Ordering::SeqCst)
    }

    /// Connections being served now.
    pub(crate) fn open_connections(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Counts a connection as open until the guard is dropped.
    pub(crate) fn open(self: &Arc<Self>) -> Open {
        self.open.fetch_add(1, Ordering::SeqCst);
        Open(self.clone())
    }

    /// Runs `fut` unless the shutdown starts first; `None` then.
    pub(crate) async fn unless_started<F: Future>(&self, fut: F) -> Option<F::Output> {
        let mut fut = pin!(fut);
        let mut stop = pin!(self.wait_for(Self::is_started));
        poll_fn(|cx| {
            if let Poll::Ready(out) = fut.as_mut().poll(cx) {
                return Poll::Ready(Some(out));
            }
            if stop.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await
    }

    /// Resolves once the shutdown started and no connection is open.
    pub(crate) async fn drained(&self) {
        self.wait_for(|s| s.is_started() && s.open_connections() == 0)
            .await
    }

    /// Waits until `cond` holds; woken by `begin` and by the last `Open` drop.
    async fn wait_for(&self, cond: impl Fn(&Self) -> bool) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let _unregister = Unregister(self, id);
        poll_fn(|cx| {
            {
                let mut waiters = self.lock();
                match waiters.get_mut(&id) {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => drop(waiters.insert(id, cx.waker().clone())),
                }
            }
            if cond(self) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Waker>> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wake_all(&self) {
        for w in self.lock().values() {
            w.wake_by_ref();
        }
    }
}

/// Removes a waiter's waker when its future ends or is dropped.
struct Unregister<'a>(&'a Shutdown, u64);

impl Drop for Unregister<'_> {
    fn drop(&mut self) {
        self.0.lock().remove(&self.1);
    }
}
