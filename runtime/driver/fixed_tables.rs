//! [`FixedTables`]: the handle through which whatever holds slots in a
//! ring's registered-file or registered-buffer table (a file's slot, a
//! `FixedPool`) gives them back, from whatever thread it is dropped on.
//!
//! The handle is made once, at registration, and names the driver whose
//! tables hold the slots, that worker's release queue (`releases.rs`) and
//! a way to find that driver on the releasing thread ([`OnThisThread`]).
//! A release always publishes first; then, on the owning worker's thread
//! with its driver not borrowed, that driver empties the slots at once;
//! anywhere else (another thread, another runtime on this thread, inside
//! the driver's own borrow, after the runtime is gone) the worker is woken
//! and empties them in its next turn. No thread ever touches another
//! thread's driver, and nothing below `op/op_future.rs` reads the
//! thread-local worker for it.
//!
//! Only the ring's own thread may empty a slot: the ring is
//! `IORING_SETUP_SINGLE_ISSUER`, which binds `io_uring_register` too.

use std::sync::Arc;

use super::emptied::Emptied;
use super::id::DriverId;
use super::releases::{Release, Sent};
use super::unpark::Unpark;

/// What a file close hears when the worker that would empty its slot does
/// not turn its loop.
const NOT_RUNNING: &str = "the file stays open in the registered-file table of a runtime's \
                           worker that is not running (worker 0 outside block_on) until that \
                           runtime runs again or is dropped";

/// Has the driver with this id take its release queue now, if it is the
/// driver current on the calling thread and is not borrowed; says whether
/// it did. Supplied at registration by the layer that knows the current
/// worker (`op::register`), so the driver reads no thread-local.
pub(crate) type OnThisThread = fn(DriverId) -> bool;

/// A handle on one ring's registered tables, held by what holds slots there.
#[derive(Clone)]
pub(crate) struct FixedTables {
    /// The driver whose tables these are; ops name the slots only there.
    id: DriverId,
    /// That worker's release queue and wake-up.
    unpark: Arc<Unpark>,
    /// Finds that driver on the releasing thread, if it runs there.
    here: OnThisThread,
}

impl std::fmt::Debug for FixedTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixedTables")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl FixedTables {
    /// The tables of the driver `id`, whose worker `unpark` wakes.
    pub(crate) fn new(id: DriverId, unpark: Arc<Unpark>, here: OnThisThread) -> Self {
        FixedTables { id, unpark, here }
    }

    /// The driver whose tables these are.
    #[inline]
    pub(crate) fn id(&self) -> DriverId {
        self.id
    }

    /// Any thread: the last holder of file slot `slot` is gone; `done`, if
    /// given, hears when the slot is empty, or at once why it will not be
    /// soon (the worker does not turn, or is gone).
    pub(crate) fn release_file(&self, slot: u32, done: Option<Arc<Emptied>>) {
        let told = done.clone();
        if self.release(Release::File { slot, done }) == Sent::Queued && !self.unpark.is_active() {
            // After the push: see "A worker that does not turn" in `releases.rs`.
            Emptied::tell(told, Err(NOT_RUNNING.to_owned()));
        }
    }

    /// The pool that held `n` buffer slots from `start` is gone (so is
    /// every op that named them); `memory`, what they point into, is freed
    /// once they are cleared, or once the ring is gone.
    pub(crate) fn release_buffers(&self, start: u32, n: u32, memory: Box<dyn Send>) {
        self.release(Release::Buffers { start, n, memory });
    }

    /// Publishes `item`, then has it taken here or wakes its worker.
    fn release(&self, item: Release) -> Sent {
        let (here, id) = (self.here, self.id);
        self.unpark.send(item, || here(id))
    }
}
