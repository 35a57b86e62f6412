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
//! Transitions: `submit` creates `Submitted`/`Waiting`; the `Op` moves
//! `Submitted`/`Waiting` → `Waiting`, and `Done` → removed; the driver moves
//! `Submitted`/`Waiting` → `Done` (waking) and `Orphaned` → removed; dropping the
//! `Op` moves `Submitted`/`Waiting` → `Orphaned` and `Done` → removed.
//!
//! Multishot slots keep a queue of completions and stay in the slab until the
//! last completion (one without `IORING_CQE_F_MORE`) has been taken.

use std::collections::VecDeque;
use std::io;
use std::task::Waker;

use slab::Slab;

use super::op_box::Cells;
use super::operation::Erased;

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

/// One op in flight: its boxed data and who waits for it.
pub(crate) struct Slot {
    /// The op's owned data; boxed so it never moves while the kernel holds it.
    pub(crate) op: Option<Box<dyn Erased>>,
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

/// What the reaper should do after recording a completion.
pub(crate) enum Reaped {
    /// Nothing more: the result was stored (or the CQE was stale).
    Stored,
    /// Wake this waker (after the driver's borrow ends).
    Wake(Waker),
    /// The op was orphaned and is finished: drop it (after the borrow ends).
    Free(Box<dyn Erased>, io::Result<u32>),
}

/// All ops in flight on one driver.
#[derive(Debug, Default)]
pub(crate) struct Ops {
    /// Slots keyed by `user_data`.
    slots: Slab<Slot>,
    /// Freed op boxes, reused by the next ops of the same layouts.
    pub(crate) cells: Cells,
}

impl Ops {
    /// Stores a freshly submitted op and returns its key.
    #[inline]
    pub(crate) fn insert(&mut self, op: Box<dyn Erased>, waker: Waker, multishot: bool) -> usize {
        self.slots.insert(Slot {
            op: Some(op),
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
                    if let Some(op) = slot.op.as_mut() {
                        op.discard_shot(res, flags);
                    }
                    return Reaped::Stored;
                }
                let op = self.slots.remove(key).op.expect("slot holds its op");
                return Reaped::Free(op, res);
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
                Reaped::Free(slot.op.expect("slot holds its op"), res)
            }
            Lifecycle::Done(_) => unreachable!("a single-shot op completed twice"),
        }
    }

    /// Removes a finished slot and hands back its op.
    #[inline]
    pub(crate) fn take(&mut self, key: usize) -> (Box<dyn Erased>, io::Result<u32>) {
        let slot = self.slots.remove(key);
        match slot.state {
            Lifecycle::Done(res) => (slot.op.expect("slot holds its op"), res),
            _ => unreachable!("take() on an op that is not done"),
        }
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
        if let (Some(shots), Some(op)) = (slot.shots.as_mut(), slot.op.as_mut()) {
            for (res, flags) in shots.queue.drain(..) {
                op.discard_shot(res, flags);
            }
        }
        if in_kernel {
            slot.state = Lifecycle::Orphaned;
            Orphaned::Cancel
        } else {
            let slot = self.slots.remove(key);
            let res = match slot.state {
                Lifecycle::Done(res) => res,
                // A multishot op the kernel let go of: its last result was queued
                // (and released above), so there is no result left to complete with.
                _ => Err(io::Error::from_raw_os_error(libc::ECANCELED)),
            };
            Orphaned::Free(slot.op.expect("slot holds its op"), res)
        }
    }

    /// Leaks every op the kernel may still hold; used when a ring is torn down
    /// before all completions arrived. Leaking is safe; freeing would not be.
    pub(crate) fn leak_all(&mut self) {
        for slot in std::mem::take(&mut self.slots).into_iter().map(|(_, s)| s) {
            if let Some(op) = slot.op {
                std::mem::forget(op);
            }
        }
    }

    /// Orphans every slot at shutdown; returns the finished ones to drop.
    pub(crate) fn orphan_all(&mut self) -> Vec<(Box<dyn Erased>, io::Result<u32>)> {
        let keys: Vec<usize> = self.slots.iter().map(|(k, _)| k).collect();
        let mut finished = Vec::new();
        for key in keys {
            if let Orphaned::Free(op, res) = self.orphan(key) {
                finished.push((op, res));
            }
        }
        finished
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
}

/// The outcome of dropping an `Op`.
pub(crate) enum Orphaned {
    /// The slot was already gone.
    Gone,
    /// The kernel still holds the op: submit `AsyncCancel`.
    Cancel,
    /// The op had finished: drop it (after the driver's borrow ends).
    Free(Box<dyn Erased>, io::Result<u32>),
}
