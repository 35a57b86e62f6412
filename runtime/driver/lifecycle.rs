//! Per-op state in a slab keyed by `user_data`: the heart of the proactor.
//!
//! # States
//!
//! - `Submitted`: the kernel (or the blocking pool) holds the op; nobody waits yet.
//! - `Waiting(waker)`: as `Submitted`, and the `Op` future waits for it.
//! - `Done(res)`: the completion was reaped; the `Op` takes it on its next poll.
//! - `Orphaned`: the `Op` was dropped while the kernel still held the op. The
//!   slot keeps the op's memory alive until the final completion arrives, then
//!   frees it (and drops the output, closing any fd the kernel returned).
//!
//! Transitions: `insert` creates `Waiting`; the `Op` moves
//! `Submitted`/`Waiting` → `Waiting`, and `Done` → removed; the driver moves
//! `Submitted`/`Waiting` → `Done` (waking) and `Orphaned` → removed; dropping the
//! `Op` moves `Submitted`/`Waiting` → `Orphaned` and `Done` → removed.
//!
//! Multishot slots keep a queue of completions and stay in the slab until the
//! last completion (one without `IORING_CQE_F_MORE`) has been taken.
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

use std::collections::VecDeque;
use std::io;
use std::ptr::NonNull;
use std::task::{Context, Poll, Waker};

use slab::Slab;

use super::op_box::Cells;
use super::operation::{Erased, Operation};

/// Who holds interest in a slot's result.
#[derive(Debug)]
pub(crate) enum Lifecycle {
    /// In the kernel; no `Op` has polled since submission.
    Submitted,
    /// In the kernel; the waker of the `Op` waiting for it.
    Waiting(Waker),
    /// Reaped; the result waits for the `Op`.
    Done(io::Result<u32>),
    /// The `Op` is gone; free the slot on the final completion.
    Orphaned,
}

/// The queue of a multishot op's completions.
#[derive(Debug, Default)]
pub(crate) struct Shots {
    /// Results reaped but not yet taken, each with its CQE flags.
    pub(crate) queue: VecDeque<(io::Result<u32>, u32)>,
    /// Whether the kernel still holds the op (the last CQE had `F_MORE`).
    pub(crate) armed: bool,
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
    /// Drops the op's output (closing any fd it owns).
    pub(crate) fn discard(self) {
        self.op.discard(self.res);
    }
}

/// One op in flight: its data and who waits for it.
pub(crate) struct Slot {
    /// The op's owned data, from `Box::into_raw`; see "Memory" above.
    op: NonNull<dyn Erased>,
    /// Who holds interest in the result.
    pub(crate) state: Lifecycle,
    /// Present for multishot ops only (boxed: keeps the common slot small).
    pub(crate) shots: Option<Box<Shots>>,
    /// The deadline of a linked `IORING_OP_LINK_TIMEOUT`; read by the kernel at
    /// submission, so it lives as long as the slot.
    pub(crate) link_timeout: Option<Box<io_uring::types::Timespec>>,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("state", &self.state)
            .field("shots", &self.shots)
            .finish()
    }
}

impl Slot {
    /// The op, for building a (re-armed) entry or handing a multishot
    /// completion to it. The driver calls this only on its own thread, and
    /// the kernel writes only through the pointers the entry carries, which
    /// this borrow neither moves nor frees.
    pub(crate) fn op_mut(&mut self) -> &mut dyn Erased {
        // SAFETY: `op` came from `Box::into_raw` and is freed only by
        // `finished`, after the slot is removed; `&mut self` makes this borrow
        // unique on the Rust side.
        unsafe { self.op.as_mut() }
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
    pub(crate) fn insert<T: Operation>(
        &mut self,
        op: Box<T>,
        waker: Waker,
        multishot: bool,
    ) -> usize {
        let op: Box<dyn Erased> = op;
        self.slots.insert(Slot {
            op: NonNull::from(Box::leak(op)),
            state: Lifecycle::Waiting(waker),
            shots: multishot.then(|| {
                Box::new(Shots {
                    queue: VecDeque::new(),
                    armed: true,
                })
            }),
            link_timeout: None,
        })
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
            Lifecycle::Submitted => {
                slot.state = Lifecycle::Waiting(cx.waker().clone());
                Poll::Pending
            }
            Lifecycle::Orphaned => unreachable!("a live op is never orphaned"),
        }
    }

    /// The next queued completion of a multishot slot; `Ready(None)` when the
    /// queue is empty and the kernel let go (the op must be re-armed).
    pub(crate) fn poll_shots(
        &mut self,
        key: usize,
        cx: &mut Context<'_>,
    ) -> Poll<Option<(io::Result<u32>, u32)>> {
        let Some(slot) = self.slots.get_mut(key) else {
            unreachable!("an op's slot vanished while its future was alive")
        };
        let Some(shots) = slot.shots.as_mut() else {
            unreachable!("a multishot op's slot has a queue")
        };
        if let Some(item) = shots.queue.pop_front() {
            return Poll::Ready(Some(item));
        }
        if !shots.armed {
            return Poll::Ready(None);
        }
        match &mut slot.state {
            Lifecycle::Waiting(w) if w.will_wake(cx.waker()) => {}
            state => *state = Lifecycle::Waiting(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Number of slots in use (ops in flight or awaiting their `Op`).
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    /// Records a completion for `key`.
    #[inline]
    pub(crate) fn complete(&mut self, key: usize, res: io::Result<u32>, flags: u32) -> Reaped {
        let more = io_uring::cqueue::more(flags);
        let Some(slot) = self.slots.get_mut(key) else {
            return Reaped::Stored;
        };
        if let Some(shots) = slot.shots.as_mut() {
            shots.armed = more;
            if matches!(slot.state, Lifecycle::Orphaned) {
                if more {
                    // Each shot's output (an accepted fd, say) is released at once.
                    slot.op_mut().discard_shot(res, flags);
                    return Reaped::Stored;
                }
                let slot = self.slots.remove(key);
                // SAFETY: a completion without `F_MORE` is the op's last.
                return Reaped::Free(unsafe { finished(slot.op, res) });
            }
            shots.queue.push_back((res, flags));
            return match std::mem::replace(&mut slot.state, Lifecycle::Submitted) {
                Lifecycle::Waiting(w) => Reaped::Wake(w),
                other => {
                    slot.state = other;
                    Reaped::Stored
                }
            };
        }
        match std::mem::replace(&mut slot.state, Lifecycle::Done(res)) {
            Lifecycle::Waiting(w) => Reaped::Wake(w),
            Lifecycle::Submitted => Reaped::Stored,
            Lifecycle::Orphaned => {
                let slot = self.slots.remove(key);
                let Lifecycle::Done(res) = slot.state else {
                    unreachable!("state was just set to Done")
                };
                // SAFETY: this was the op's final completion.
                Reaped::Free(unsafe { finished(slot.op, res) })
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
        // SAFETY: the op is done: its final completion was reaped.
        let Finished { op, res } = unsafe { finished(slot.op, res) };
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
        let in_kernel = match &slot.shots {
            Some(shots) => shots.armed,
            None => !matches!(slot.state, Lifecycle::Done(_)),
        };
        // Queued shots nobody will take release what they carry (accepted fds).
        if let Some(mut shots) = slot.shots.take() {
            for (res, flags) in shots.queue.drain(..) {
                slot.op_mut().discard_shot(res, flags);
            }
            slot.shots = Some(shots);
        }
        if in_kernel {
            slot.state = Lifecycle::Orphaned;
            return Orphaned::Cancel;
        }
        let slot = self.slots.remove(key);
        let res = match slot.state {
            Lifecycle::Done(res) => res,
            // A multishot op the kernel let go of: its last result was queued
            // (and released above), so there is no result left to complete with.
            _ => Err(io::Error::from_raw_os_error(libc::ECANCELED)),
        };
        // SAFETY: the kernel let go: the op is done, or its multishot ended.
        Orphaned::Free(unsafe { finished(slot.op, res) })
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
            .filter(|(_, s)| match &s.shots {
                Some(shots) => shots.armed,
                None => !matches!(s.state, Lifecycle::Done(_)),
            })
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
