//! The one queue through which a worker's driver is given back what only it
//! may let go, from any thread: ops whose future was dropped away from it
//! (`hand_back.rs`), receives of sockets closed elsewhere (`close_source`),
//! and slots of its registered-file and registered-buffer tables whose
//! holders are gone (`fixed_tables.rs`). The queue lives in the worker's
//! `Unpark`, whose eventfd ends the worker's wait; `Unpark::send` is its
//! one way in.
//!
//! # No lost releases
//!
//! A releaser publishes first: it pushes the item and sets `pending`, under
//! the lock and SeqCst. Then either the owning driver takes the queue on
//! the releaser's own thread (the owner's thread, with the driver not
//! borrowed: see `fixed_tables.rs`), or the releaser calls
//! `Unpark::unpark`, which swaps `parked` to false and writes the eventfd
//! if it was set. The worker sets `parked` in `prepare_park` (SeqCst) and
//! only then, in `Driver::park`, loads `pending`. So either the worker sees
//! the item before it waits, or the releaser sees `parked` and ends the
//! wait. The worker empties the queue in one place,
//! `Protocol::take_releases`, which `park`, `attend(false)`, a registration
//! (to reuse slots), the start of a shutdown and a release on the owner's
//! own thread call.
//!
//! # A worker that does not turn
//!
//! The owning worker takes its queue only while it turns its loop: a
//! worker thread always, worker 0 only inside `block_on` (`active`). An
//! item queued while it is not active waits until it turns again (or its
//! driver goes), and a file close waiting on it hears at once that the
//! file could not be closed yet, rather than wait for a thread that may
//! never come. A worker that stops turning clears `active` and then takes
//! what is queued, so every item is either taken then or queued after its
//! releaser could see the flag (both SeqCst).
//!
//! # When the driver goes
//!
//! The queue closes with an outcome when its driver is dropped (io_uring:
//! once its file table is emptied, before the ring goes). What is queued
//! then, and whatever arrives later, is refused ([`Release::refuse`]): an
//! op is leaked, never freed (a ring being torn down may still hold it), a
//! file close hears the outcome, buffer memory is freed (no op can name
//! those slots any more), and a receive's cancel is dropped (its ring went
//! with it).

use std::fmt;
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::emptied::Emptied;
use super::operation::Erased;

/// Something a driver alone may let go of.
pub(crate) enum Release {
    /// An op whose future was dropped away from its driver (`hand_back.rs`).
    HandBack(HandBack),
    /// A socket (descriptor id `sid`) was closed on another thread: cancel
    /// its receive `user_data`, which keeps it open (io_uring).
    Receive {
        /// The receive's `user_data`.
        user_data: u64,
        /// The descriptor's id, which tells a reused slot key apart.
        sid: u64,
    },
    /// A registered-file slot whose last holder is gone: empty it.
    File {
        /// The slot in the ring's file table.
        slot: u32,
        /// The close waiting for it, if any.
        done: Option<Arc<Emptied>>,
    },
    /// `n` registered-buffer slots from `start` whose pool is gone: clear
    /// them.
    Buffers {
        /// The first slot.
        start: u32,
        /// How many.
        n: u32,
        /// The pool's memory, freed only once the slots no longer name it
        /// (or the ring is gone).
        memory: Box<dyn Send>,
    },
}

impl fmt::Debug for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Release::HandBack(_) => f.write_str("HandBack"),
            Release::Receive { user_data, sid } => f
                .debug_struct("Receive")
                .field("user_data", user_data)
                .field("sid", sid)
                .finish(),
            Release::File { slot, .. } => f.debug_struct("File").field("slot", slot).finish(),
            Release::Buffers { start, n, .. } => f
                .debug_struct("Buffers")
                .field("start", start)
                .field("n", n)
                .finish(),
        }
    }
}

impl Release {
    /// What becomes of an item its driver will never take (the driver is
    /// gone; `outcome` says whether its file table was emptied first).
    pub(crate) fn refuse(self, outcome: &Result<(), String>) {
        match self {
            // An adopted op is never freed by a drop (see `Adopted`), and a
            // gone ring took its receives with it.
            Release::HandBack(_) | Release::Receive { .. } => {}
            Release::File { done, .. } => Emptied::tell(done, outcome.clone()),
            // No op names those slots any more: the memory may go.
            Release::Buffers { memory, .. } => drop(memory),
        }
    }
}

/// What a driver gets back of an op whose future was dropped elsewhere.
pub(crate) enum HandBack {
    /// The future of the op in slot `key` was dropped; cancel it in the
    /// kernel if `bool` (its `CANCEL_ON_DROP`).
    Slot(usize, bool),
    /// The future of the in-place op of slot `key` was dropped: here is the
    /// op, for the slot to keep until the kernel lets go (cancelled there
    /// if `bool`).
    InPlace(usize, Adopted, bool),
}

/// An op on its way to its own driver's thread. Dropped without being
/// taken (its driver is gone), it leaks the op: a kernel may still use it.
pub(crate) struct Adopted(ManuallyDrop<Box<dyn Erased>>);

// SAFETY: see `hand_back.rs`: the op is `Send`, or it goes to a driver on
// the thread where it already is; only the owner's thread touches it after
// this.
unsafe impl Send for Adopted {}

impl Adopted {
    /// Carries `op` to its driver.
    pub(crate) fn new(op: Box<dyn Erased>) -> Self {
        Adopted(ManuallyDrop::new(op))
    }

    /// The driver takes the op.
    pub(crate) fn into_op(self) -> Box<dyn Erased> {
        ManuallyDrop::into_inner(self.0)
    }
}

/// How `Unpark::send` went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sent {
    /// Queued, and the worker woken if it waits.
    Queued,
    /// Queued and taken at once by the owning driver, on this thread.
    TakenHere,
    /// The driver is gone: the item was refused ([`Release::refuse`]).
    Refused,
}

/// One driver's release queue (see the module doc).
pub(crate) struct Releases {
    /// The items, and whether (and how) the driver went.
    state: Mutex<State>,
    /// Whether `state` may hold items: the worker's one load per park.
    pending: AtomicBool,
    /// Whether the owning worker turns its loop (see the module doc).
    active: AtomicBool,
}

/// See [`Releases::state`].
#[derive(Default)]
struct State {
    /// In arrival order.
    items: Vec<Release>,
    /// Set when the driver went: the outcome later file releases hear.
    closed: Option<Result<(), String>>,
}

impl fmt::Debug for Releases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Releases")
            .field("pending", &self.pending)
            .field("active", &self.active)
            .finish_non_exhaustive()
    }
}

impl Default for Releases {
    fn default() -> Self {
        Releases::new()
    }
}

impl Releases {
    /// An open, empty queue of a worker not yet turning.
    pub(crate) fn new() -> Self {
        Releases {
            state: Mutex::default(),
            pending: AtomicBool::new(false),
            active: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Any thread: publishes `item` (the first half of the protocol; the
    /// caller then wakes the worker). False if the driver is gone: the item
    /// was refused.
    pub(crate) fn push(&self, item: Release) -> bool {
        let mut state = self.lock();
        if let Some(outcome) = state.closed.clone() {
            drop(state);
            item.refuse(&outcome);
            return false;
        }
        state.items.push(item);
        self.pending.store(true, Ordering::SeqCst);
        true
    }

    /// Worker: whether anything may be queued (a load, once per park).
    #[inline]
    pub(crate) fn pending(&self) -> bool {
        self.pending.load(Ordering::SeqCst)
    }

    /// Worker: takes what is queued, in arrival order (nothing, and no
    /// lock, when nothing is pending).
    #[inline]
    pub(crate) fn take(&self) -> Vec<Release> {
        if !self.pending() {
            return Vec::new();
        }
        let mut state = self.lock();
        self.pending.store(false, Ordering::SeqCst);
        std::mem::take(&mut state.items)
    }

    /// Worker: it starts or stops turning its loop (stopping, it then takes
    /// what is queued: see the module doc).
    pub(crate) fn set_active(&self, on: bool) {
        self.active.store(on, Ordering::SeqCst);
    }

    /// Whether the owning worker turns its loop.
    pub(crate) fn is_active(&self) -> bool {
        self.active.load(Ordering::SeqCst)
    }

    /// The driver goes (`outcome`: whether its file table was emptied
    /// first): what is queued, and every later item, is refused with it.
    pub(crate) fn close(&self, outcome: Result<(), String>) {
        let items = {
            let mut state = self.lock();
            state.closed = Some(outcome.clone());
            self.pending.store(false, Ordering::SeqCst);
            std::mem::take(&mut state.items)
        };
        for item in items {
            item.refuse(&outcome);
        }
    }
}
