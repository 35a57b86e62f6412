//! Per-op state in a slab keyed by `user_data`: the heart of the proactor.
//!
//! # States
//!
//! - `Waiting(waker)`: the kernel (or the blocking pool) holds the op, and
//!   the `Op` future that submitted it waits for it.
//! - `Done(res)`: the completion was reaped; the `Op` takes it on its next poll.
//! - `Orphaned`: the `Op` was dropped while the kernel still held the op. The
//!   slot keeps the op's memory alive until the final completion arrives, then
//!   frees it (and drops the output, closing any fd the kernel returned).
//!
//! Transitions: `insert` creates `Waiting`; the `Op` moves `Waiting` →
//! `Waiting` (a new waker), and `Done` → removed; the driver moves `Waiting` →
//! `Done` (waking) and `Orphaned` → removed; dropping the `Op` moves `Waiting`
//! → `Orphaned` and `Done` → removed.
//!
//! An op whose entry points only into memory it owns elsewhere
//! (`Operation::IN_PLACE`) stays in its future while the kernel runs it:
//! its slot starts with no op, and receives one only if the future is
//! dropped first ([`Ops::adopt`]).
//!
//! A zero-copy send completes twice: its result comes with
//! `IORING_CQE_F_MORE`, and a notification follows once the kernel let go
//! of the buffer. The slot keeps the result ([`Ops::hold`]) and its state
//! until that notification, which completes it as above
//! ([`Ops::release_held`]): the buffer is freed, or handed back, only then.
//!
//! # Memory
//!
//! A slot holds its op as a raw pointer made from a `Box`, never as the `Box`
//! itself: the kernel writes into the op while the slot lives, and a `Box`
//! claims unique access to its contents wherever it is moved (the slab moves
//! slots when it grows, teardown moves them out). The pointer becomes a `Box`
//! again only when the kernel has let go: when the op is taken, freed after
//! its final completion, or handed back at shutdown. Whatever is left in the
//! slab when it is dropped leaks: leaking is safe, freeing would not be.

use std::io;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use slab::Slab;

use super::op_box::Cells;
use super::operation::{Erased, Operation};

/// Who holds interest in a slot's result.
#[derive(Debug)]
pub(crate) enum Lifecycle {
    /// In the kernel; the waker of the `Op` waiting for it.
    Waiting(Waker),
    /// Reaped; the result waits for the `Op`.
    Done(io::Result<u32>),
    /// The `Op` is gone; free the slot on the final completion.
    Orphaned,
}

/// An op whose memory the kernel no longer touches, ready to be dropped
/// (outside the driver's borrow: dropping its output may close an fd).
pub(crate) struct Finished {
    /// The op, owned again.
    op: Box<dyn Erased>,
    /// Its final result.
    res: io::Result<u32>,
}

impl Finished {
    /// Drops the op's output (closing any fd it owns), or hands it to its
    /// socket's queue (a receive's result: true).
    pub(crate) fn discard(self) -> bool {
        self.op.discard(self.res)
    }
}

/// One op in flight: its data and who waits for it.
pub(crate) struct Slot {
    /// The op's owned data, from `Box::into_raw`; see "Memory" above.
    /// `None` while an in-place op's future holds it.
    op: Option<NonNull<dyn Erased>>,
    /// Who holds interest in the result.
    pub(crate) state: Lifecycle,
    /// The deadline of a linked `IORING_OP_LINK_TIMEOUT`; read by the kernel at
    /// submission, so it lives as long as the slot.
    pub(crate) link_timeout: Option<Box<io_uring::types::Timespec>>,
    /// A one-shot receive's descriptor id (0: none), so that a cancel asked
    /// for by a close on another thread reaches this op and no later one.
    tag: u64,
    /// The result of a completion that said another follows (a zero-copy
    /// send's, before its notification); see the module doc.
    held: Option<i32>,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot").field("state", &self.state).finish()
    }
}

impl Slot {
    /// The op, for the blocking pool to run. The driver calls this only on
    /// its own thread, and
    /// the kernel writes only through the pointers the entry carries, which
    /// this borrow neither moves nor frees.
    ///
    /// # Panics
    ///
    /// If the slot holds no op (an in-place op, which only io_uring runs).
    pub(crate) fn op_mut(&mut self) -> &mut dyn Erased {
        let Some(op) = self.op.as_mut() else {
            panic!("runtime: a blocking-pool op has no op in its slot");
        };
        // SAFETY: `op` came from `Box::into_raw` and is freed only by
        // `finished`, after the slot is removed; `&mut self` makes this borrow
        // unique on the Rust side.
        unsafe { op.as_mut() }
    }
}

/// What the reaper should do after recording a completion.
pub(crate) enum Reaped {
    /// Nothing more: the result was stored (or the CQE was stale).
    Stored,
    /// Wake this waker (after the driver's borrow ends).
    Wake(Waker),
    /// The op was orphaned and is finished: drop it (after the borrow ends).
    Free(Finished),
}

/// The outcome of dropping an `Op`.
pub(crate) enum Orphaned {
    /// The slot was already gone.
    Gone,
    /// The kernel still holds the op: submit `AsyncCancel`.
    Cancel,
    /// The op had finished: drop it (after the driver's borrow ends).
    Free(Finished),
}

/// All ops in flight on one driver.
#[derive(Debug, Default)]
pub(crate) struct Ops {
    /// Slots keyed by `user_data`.
    slots: Slab<Slot>,
    /// Freed op boxes, reused by the next ops of the same layouts.
    cells: Cells,
}

impl Ops {
    /// Boxes an op about to be submitted, in a recycled cell when one is
    /// free; the entry is built from the box, where the op will stay.
    #[inline]
    pub(crate) fn boxed<T: Operation>(&mut self, op: T) -> Box<T> {
        self.cells.boxed(op)
    }

    /// Stores a boxed op and returns its key.
    #[inline]
    pub(crate) fn insert<T: Operation>(&mut self, op: Box<T>, waker: Waker) -> usize {
        let op: Box<dyn Erased> = op;
        self.slots.insert(Slot {
            op: Some(NonNull::from(Box::leak(op))),
            state: Lifecycle::Waiting(waker),
            link_timeout: None,
            tag: 0,
            held: None,
        })
    }

    /// Opens a slot for an in-place op, which its future keeps; returns the key.
    #[inline]
    pub(crate) fn insert_in_place(&mut self, waker: Waker) -> usize {
        self.slots.insert(Slot {
            op: None,
            state: Lifecycle::Waiting(waker),
            link_timeout: None,
            tag: 0,
            held: None,
        })
    }

    /// The in-place op's look at its slot: its result once reaped (the slot
    /// is then gone), else the waker is kept.
    #[inline(always)] // the per-op hot path: a call here costs more than its body
    pub(crate) fn poll_result(
        &mut self,
        key: usize,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<u32>> {
        let Poll::Ready(()) = self.poll_done(key, cx) else {
            return Poll::Pending;
        };
        let slot = self.slots.remove(key);
        let Lifecycle::Done(res) = slot.state else {
            unreachable!("poll_done said done")
        };
        // An in-place op's slot never holds an op while its future lives; one
        // that did would leak here (safe), never be freed early.
        debug_assert!(slot.op.is_none(), "an in-place slot held an op");
        Poll::Ready(res)
    }

    /// An in-place op's future is dropped: the slot takes the op if the
    /// kernel still holds it (to free after the final completion), or it is
    /// finished and handed back to drop.
    pub(crate) fn adopt(&mut self, key: usize, op: Box<dyn Erased>) -> Orphaned {
        let Some(slot) = self.slots.get_mut(key) else {
            unreachable!("an in-place op's slot vanished while its future was alive")
        };
        if !matches!(slot.state, Lifecycle::Done(_)) {
            slot.op = Some(NonNull::from(Box::leak(op)));
            slot.state = Lifecycle::Orphaned;
            return Orphaned::Cancel;
        }
        let Lifecycle::Done(res) = self.slots.remove(key).state else {
            unreachable!("checked above")
        };
        Orphaned::Free(Finished { op, res })
    }

    /// Marks slot `key` as a receive of the descriptor with id `tag`.
    pub(crate) fn tag(&mut self, key: usize, tag: u64) {
        if let Some(slot) = self.slots.get_mut(key) {
            slot.tag = tag;
        }
    }

    /// Whether slot `key` holds a receive of the descriptor with id `tag`
    /// that the kernel still runs.
    pub(crate) fn is_tagged(&self, key: usize, tag: u64) -> bool {
        self.slots
            .get(key)
            .is_some_and(|s| s.tag == tag && !matches!(s.state, Lifecycle::Done(_)))
    }

    /// Keeps the result of a completion of `key` that says another follows
    /// (`IORING_CQE_F_MORE` on a single-shot op): the slot stays as it is
    /// until [`release_held`](Ops::release_held).
    pub(crate) fn hold(&mut self, key: usize, res: i32) {
        if let Some(slot) = self.slots.get_mut(key) {
            slot.held = Some(res);
        }
    }

    /// The final completion of `key` came: the result [`hold`](Ops::hold)
    /// kept, to complete the slot with (`None`: the slot held none, so the
    /// completion is stale).
    pub(crate) fn release_held(&mut self, key: usize) -> Option<i32> {
        self.slots.get_mut(key).and_then(|slot| slot.held.take())
    }

    /// The slot for `key`, if any.
    pub(crate) fn get_mut(&mut self, key: usize) -> Option<&mut Slot> {
        self.slots.get_mut(key)
    }

    /// The `Op` future's look at its single-shot slot: `Ready` once the
    /// result is in (then [`take`](Ops::take) it), else the waker is kept.
    #[inline]
    pub(crate) fn poll_done(&mut self, key: usize, cx: &mut Context<'_>) -> Poll<()> {
        let Some(slot) = self.slots.get_mut(key) else {
            unreachable!("an op's slot vanished while its future was alive")
        };
        match &mut slot.state {
            Lifecycle::Done(_) => Poll::Ready(()),
            Lifecycle::Waiting(w) => {
                if !w.will_wake(cx.waker()) {
                    *w = cx.waker().clone();
                }
                Poll::Pending
            }
            Lifecycle::Orphaned => unreachable!("a live op is never orphaned"),
        }
    }

    /// Number of slots in use (ops in flight or awaiting their `Op`).
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Records a completion for `key`.
    #[inline]
    pub(crate) fn complete(&mut self, key: usize, res: io::Result<u32>) -> Reaped {
        let Some(slot) = self.slots.get_mut(key) else {
            return Reaped::Stored;
        };
        match std::mem::replace(&mut slot.state, Lifecycle::Done(res)) {
            Lifecycle::Waiting(w) => Reaped::Wake(w),
            Lifecycle::Orphaned => {
                let slot = self.slots.remove(key);
                let Lifecycle::Done(res) = slot.state else {
                    unreachable!("state was just set to Done")
                };
                // No op: an in-place op orphaned at shutdown while its future
                // lives on (that future leaks it).
                let Some(op) = slot.op else {
                    return Reaped::Stored;
                };
                // SAFETY: this was the op's final completion.
                Reaped::Free(unsafe { finished(op, res) })
            }
            Lifecycle::Done(_) => unreachable!("a single-shot op completed twice"),
        }
    }

    /// Removes a finished single-shot slot and hands back its op as a `T`.
    ///
    /// # Panics
    ///
    /// If the slot holds another type of op: a key used on the wrong driver,
    /// which the `Op`'s driver-id check rules out. A wrong type never
    /// reaches a cast: the downcast below is checked.
    #[inline]
    pub(crate) fn take<T: Operation>(&mut self, key: usize) -> (T, io::Result<u32>) {
        let slot = self.slots.remove(key);
        let Lifecycle::Done(res) = slot.state else {
            unreachable!("take() on an op that is not done")
        };
        let Some(op) = slot.op else {
            unreachable!("take() on an in-place op's slot")
        };
        // SAFETY: the op is done: its final completion was reaped.
        let Finished { op, res } = unsafe { finished(op, res) };
        let Ok(op) = op.into_any().downcast::<T>() else {
            panic!("runtime: an operation's slot holds another type of operation");
        };
        (self.cells.unbox(op), res)
    }

    /// The `Op` was dropped: orphans the slot if the kernel still holds the op.
    pub(crate) fn orphan(&mut self, key: usize) -> Orphaned {
        let Some(slot) = self.slots.get_mut(key) else {
            return Orphaned::Gone;
        };
        if !matches!(slot.state, Lifecycle::Done(_)) {
            slot.state = Lifecycle::Orphaned;
            return Orphaned::Cancel;
        }
        let slot = self.slots.remove(key);
        let Lifecycle::Done(res) = slot.state else {
            unreachable!("checked above")
        };
        let Some(op) = slot.op else {
            return Orphaned::Gone; // an in-place op: its future keeps it
        };
        // SAFETY: the op is done: its final completion was reaped.
        Orphaned::Free(unsafe { finished(op, res) })
    }

    /// Orphans every slot at shutdown; returns the finished ones to drop.
    pub(crate) fn orphan_all(&mut self) -> Vec<Finished> {
        let keys: Vec<usize> = self.slots.iter().map(|(k, _)| k).collect();
        let mut done = Vec::new();
        for key in keys {
            if let Orphaned::Free(f) = self.orphan(key) {
                done.push(f);
            }
        }
        done
    }

    /// Keys of every slot the kernel still holds (for shutdown cancellation).
    pub(crate) fn in_kernel_keys(&self) -> Vec<usize> {
        self.slots
            .iter()
            .filter(|(_, s)| !matches!(s.state, Lifecycle::Done(_)))
            .map(|(k, _)| k)
            .collect()
    }

    /// Forgets every slot the kernel may still hold; used when a ring is torn
    /// down before all completions arrived. Their ops leak: safe, where
    /// freeing memory the kernel may write would not be.
    pub(crate) fn leak_all(&mut self) {
        drop(std::mem::take(&mut self.slots));
    }
}

/// Owns an op again.
///
/// # Safety
///
/// `op` came from `Box::into_raw` (see [`Ops::insert`]), has not been freed,
/// and the kernel holds no pointer into it any more.
unsafe fn finished(op: NonNull<dyn Erased>, res: io::Result<u32>) -> Finished {
    // SAFETY: the caller's contract.
    let op = unsafe { Box::from_raw(op.as_ptr()) };
    Finished { op, res }
}
