//! The queue through which registered-file slots, let go on any thread,
//! reach the io_uring driver that empties them, and the signal a
//! `File::close` waits on until its slot is empty.
//!
//! A slot in a ring's file table holds the file open in the kernel, past a
//! `close(2)` of its descriptor (a `flock` stays held, a deleted file keeps
//! its blocks). Only the ring's own thread may empty it (the ring is
//! `IORING_SETUP_SINGLE_ISSUER`), so a holder dropped elsewhere queues the
//! slot here and wakes that worker.
//!
//! # No lost releases
//!
//! As in `unpark.rs`: the releaser queues the slot, sets `pending` and then
//! unparks the worker; the worker looks at `pending` in `park`, after it
//! announced the wait. Either it sees the slot or the releaser ends its wait.
//!
//! # A worker that does not turn
//!
//! The owning worker empties slots only while it turns its loop: a worker
//! thread always, worker 0 only inside `block_on`. A slot queued while it is
//! not `attended` is emptied when it turns again (or its ring goes), and a
//! close waiting on it hears at once that the file could not be closed yet,
//! rather than wait for a thread that may never come. A worker that stops
//! turning clears `attended` and then empties what is queued, so every slot
//! is either emptied then or queued after the releaser could see the flag.
//!
//! Once the ring is gone its table is too: waits end at once.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::unpark::Unpark;

/// A slot to empty, and the close waiting for it, if any.
pub(crate) type Release = (u32, Option<Arc<Emptied>>);

/// One ring's queue of file slots to empty; shared with every slot holder.
#[derive(Debug)]
pub(crate) struct FileReleases {
    /// The slots, and whether the ring is gone.
    queue: Mutex<Queue>,
    /// Whether `queue` may hold slots: one load per park.
    pending: AtomicBool,
    /// Whether the owning worker turns its loop (see the module doc).
    attended: AtomicBool,
    /// Ends the owning worker's wait.
    unpark: Arc<Unpark>,
}

/// See [`FileReleases::queue`].
#[derive(Debug, Default)]
struct Queue {
    /// In arrival order.
    slots: Vec<Release>,
    /// The ring, and its table, are gone.
    closed: bool,
}

/// Whether a file's slot was emptied, for the `close` that waits on it.
#[derive(Debug, Default)]
pub(crate) struct Emptied {
    /// See [`EmptiedState`].
    state: Mutex<EmptiedState>,
}

/// What [`Emptied`] guards.
#[derive(Debug, Default)]
struct EmptiedState {
    /// The outcome once known (the first one counts): `Err` says why the
    /// file is still open.
    outcome: Option<Result<(), String>>,
    /// The close waiting for it.
    waiter: Option<Waker>,
}

impl Emptied {
    /// A signal nobody has given yet.
    pub(crate) fn new() -> Arc<Emptied> {
        Arc::default()
    }

    fn lock(&self) -> MutexGuard<'_, EmptiedState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ready with the outcome: `Err` says why the file is still open.
    pub(crate) fn poll(&self, cx: &mut Context<'_>) -> Poll<Result<(), String>> {
        let mut state = self.lock();
        if let Some(outcome) = state.outcome.clone() {
            return Poll::Ready(outcome);
        }
        state.waiter = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Records `outcome` (unless one was); returns the waiter to wake.
    #[must_use = "the waiter must be woken"]
    pub(crate) fn give(&self, outcome: Result<(), String>) -> Option<Waker> {
        let mut state = self.lock();
        if state.outcome.is_some() {
            return None;
        }
        state.outcome = Some(outcome);
        state.waiter.take()
    }
}

/// Gives `outcome` to `done`, if anyone waits, and wakes the waiter now.
fn tell(done: Option<Arc<Emptied>>, outcome: Result<(), String>) {
    if let Some(waker) = done.and_then(|d| d.give(outcome)) {
        waker.wake();
    }
}

impl FileReleases {
    /// The queue of a ring whose worker `unpark` wakes.
    pub(crate) fn new(unpark: Arc<Unpark>) -> Arc<FileReleases> {
        Arc::new(FileReleases {
            queue: Mutex::default(),
            pending: AtomicBool::new(false),
            attended: AtomicBool::new(false),
            unpark,
        })
    }

    fn queue(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Any thread: the last holder of `slot` is gone; queues it for the
    /// owning worker and wakes it. `done`, if given, hears when it is empty.
    pub(crate) fn release(&self, slot: u32, done: Option<Arc<Emptied>>) {
        let mut queue = self.queue();
        if queue.closed {
            drop(queue);
            return tell(done, Ok(()));
        }
        queue.slots.push((slot, done.clone()));
        drop(queue);
        self.pending.store(true, Ordering::SeqCst);
        if !self.attended.load(Ordering::SeqCst) {
            let why = "the file stays open in the registered-file table of a runtime's worker \
                       that is not running (worker 0 outside block_on) until that runtime runs \
                       again or is dropped";
            tell(done, Err(why.to_owned()));
        }
        self.unpark.unpark();
    }

    /// Worker: whether any slot may be queued (a load, once per park).
    #[inline]
    pub(crate) fn pending(&self) -> bool {
        self.pending.load(Ordering::SeqCst)
    }

    /// Worker: takes the queued slots into `out`.
    pub(crate) fn take(&self, out: &mut Vec<Release>) {
        let mut queue = self.queue();
        self.pending.store(false, Ordering::SeqCst);
        out.append(&mut queue.slots);
    }

    /// Worker: it starts or stops turning its loop (stopping, it then
    /// empties what is queued: see the module doc).
    pub(crate) fn attend(&self, on: bool) {
        self.attended.store(on, Ordering::SeqCst);
    }

    /// Worker, its ring going (`outcome`: whether the table was emptied
    /// first): every queued and later release ends its wait with it.
    pub(crate) fn close(&self, outcome: &Result<(), String>) {
        let slots = {
            let mut queue = self.queue();
            queue.closed = true;
            std::mem::take(&mut queue.slots)
        };
        for (_, done) in slots {
            tell(done, outcome.clone());
        }
    }
}
