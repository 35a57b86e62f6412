//! The part of a worker other threads reach: its task inbox and the driver's
//! [`Unpark`] handle.
//!
//! # No lost wake-ups
//!
//! Before blocking in the kernel, the worker announces the wait through
//! [`Unpark::prepare_park`] (which sets the parked flag) and then looks at
//! the inbox once more, and at the flags that bypass the inbox (the main
//! future's wake, a stop request). A remote sender pushes to the inbox (or
//! sets its flag) and then calls [`Unpark::unpark`], which clears the flag and
//! writes the eventfd if it was set. Both sides use SeqCst, so either the
//! worker sees the new item or the sender sees the flag and ends the kernel
//! wait. The worker looks at `queued`, which the sender stores (under the
//! lock, SeqCst) after pushing, so an empty inbox costs the worker no lock.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use super::join::JoinError;
use super::task::Runnable;
use crate::driver::Unpark;
use crate::metrics::Counters;

/// See [`Shared::inbox`].
#[derive(Default)]
struct Inbox {
    /// Tasks in arrival order.
    items: Vec<Arc<dyn Runnable>>,
    /// The worker shut down: tasks are dropped on arrival.
    closed: bool,
}

/// A worker's cross-thread endpoint.
pub(crate) struct Shared {
    /// Tasks woken by other threads.
    inbox: Mutex<Inbox>,
    /// How many items the inbox holds, readable without the lock.
    queued: AtomicUsize,
    /// Ends the worker's kernel wait; also the driver's pool-completion queue.
    pub(crate) unpark: Arc<Unpark>,
    /// The worker's counters.
    pub(crate) counters: Arc<Counters>,
    /// Set when the worker panicked outside a task (see `failure.rs`): the
    /// message its tasks and refused `spawn_on`s fail with.
    died: OnceLock<String>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("unpark", &self.unpark)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Shared {
            inbox: Mutex::new(Inbox::default()),
            queued: AtomicUsize::new(0),
            unpark: Arc::new(Unpark::new()?),
            counters: Arc::new(Counters::default()),
            died: OnceLock::new(),
        })
    }

    fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends a task from another thread and wakes the worker if it sleeps;
    /// gives it back if the worker shut down or died.
    pub(crate) fn push_remote(&self, item: Arc<dyn Runnable>) -> Result<(), Arc<dyn Runnable>> {
        let mut inbox = self.inbox();
        if inbox.closed {
            drop(inbox);
            return Err(item);
        }
        inbox.items.push(item);
        self.queued.store(inbox.items.len(), Ordering::SeqCst);
        drop(inbox);
        // Many threads push here, so this counter needs a real atomic add.
        self.counters.remote_wakes.fetch_add(1, Ordering::Relaxed);
        self.notify();
        Ok(())
    }

    /// Ends the worker's kernel wait, if it is in one.
    pub(crate) fn notify(&self) {
        self.unpark.unpark();
    }

    /// Worker: announces an imminent kernel wait; false if work arrived
    /// meanwhile, in the inbox, as a pool completion, or as a flag `wanted`
    /// reports. A flag set before the announcement wrote no eventfd: only
    /// this look sees it.
    pub(crate) fn prepare_park(&self, wanted: &dyn Fn() -> bool) -> bool {
        if !self.unpark.prepare_park() {
            return false;
        }
        if self.queued.load(Ordering::SeqCst) != 0 || wanted() {
            self.unpark.unparked();
            return false;
        }
        true
    }

    /// Worker: back from the kernel.
    #[inline]
    pub(crate) fn unparked(&self) {
        self.unpark.unparked();
    }

    /// Worker: whether the inbox may hold tasks (a load, no lock).
    #[inline]
    pub(crate) fn has_inbox(&self) -> bool {
        self.queued.load(Ordering::SeqCst) != 0
    }

    /// Worker: takes everything sent so far.
    pub(crate) fn take_inbox(&self) -> Vec<Arc<dyn Runnable>> {
        if !self.has_inbox() {
            return Vec::new();
        }
        let mut inbox = self.inbox();
        self.queued.store(0, Ordering::SeqCst);
        std::mem::take(&mut inbox.items)
    }

    /// Worker, dying: records `msg`, which its tasks fail with from now on.
    pub(crate) fn die(&self, msg: &str) {
        let _ = self.died.set(msg.to_owned());
    }

    /// How a task of this worker ends when the worker stops before it
    /// does: cancelled at shutdown, or failed with the worker's panic.
    pub(crate) fn stop_error(&self) -> JoinError {
        match self.died.get() {
            Some(msg) => JoinError::panic(Box::new(msg.clone())),
            None => JoinError::cancelled(),
        }
    }

    /// Worker shutdown: later tasks are refused; returns what was queued.
    pub(crate) fn close(&self) -> Vec<Arc<dyn Runnable>> {
        let mut inbox = self.inbox();
        inbox.closed = true;
        self.queued.store(0, Ordering::SeqCst);
        std::mem::take(&mut inbox.items)
    }
}
