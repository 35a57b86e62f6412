//! A set of futures in flight, each polled only after its own waker fired
//! (as `FuturesUnordered` does): what lets [`File::read_many`] keep many
//! reads running and poll only the ones that completed.
//!
//! [`File::read_many`]: super::File::read_many

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

/// Futures in flight, each in a slot with its own waker, polled only after
/// that waker fired.
///
/// Protocol (no lost wake-ups): a slot's waker, unless its slot is queued
/// already, appends the slot to `woken.slots` and, unless it was woken since
/// it last took the queue, wakes the task stored by
/// [`poll_woken`](Running::poll_woken). A slot is unqueued just before its
/// future is polled, so a wake during or after that poll queues it again.
/// The task registers and takes the queue under one lock, so a wake after
/// the take wakes it. A batch of completions wakes the task once.
pub(super) struct Running<F> {
    /// Slot `n` runs one future or none; grows to the most ever at once.
    slots: Vec<Slot<F>>,
    /// Empty slots, reused first.
    free: Vec<usize>,
    /// Futures in the slots.
    len: usize,
    /// Where the slots' wakers queue them.
    woken: Arc<Woken>,
    /// The queue taken from `woken` (kept to reuse its allocation).
    taken: Vec<usize>,
}

/// One slot: a future (with its request index) and the waker it is polled with.
struct Slot<F> {
    /// `(request index, future)`; `None` while the slot is free.
    fut: Option<(usize, F)>,
    /// The waker handed to `fut`; a `Waker` over `flag`.
    waker: Waker,
    /// The same waker's state, to unqueue the slot before a poll.
    flag: Arc<SlotWaker>,
}

/// The queue of woken slots and the task to wake, shared with the wakers.
struct Woken {
    /// Guarded together, so a wake sees the task registered last.
    state: Mutex<WokenState>,
}

/// See [`Woken`].
struct WokenState {
    /// The task polling the stream; `None` before its first poll.
    task: Option<Waker>,
    /// Slots woken since the task last took the queue, each once.
    slots: Vec<usize>,
    /// The task was woken since it last took the queue: later wakes only queue.
    notified: bool,
}

/// The waker of one slot.
struct SlotWaker {
    /// Its slot.
    slot: usize,
    /// Set while the slot is in the queue: repeated wakes queue it once.
    queued: AtomicBool,
    /// The queue.
    woken: Arc<Woken>,
}

impl Wake for SlotWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let task = {
            let mut state = self.woken.lock();
            state.slots.push(self.slot);
            match state.notified {
                true => None,
                false => {
                    state.notified = true;
                    state.task.clone()
                }
            }
        };
        if let Some(task) = task {
            task.wake();
        }
    }
}

impl Woken {
    /// The state; a panic elsewhere while it was held leaves it consistent.
    fn lock(&self) -> std::sync::MutexGuard<'_, WokenState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<F: Future + Unpin> Running<F> {
    pub(super) fn new() -> Self {
        let state = WokenState {
            task: None,
            slots: Vec::new(),
            notified: false,
        };
        Running {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
            woken: Arc::new(Woken {
                state: Mutex::new(state),
            }),
            taken: Vec::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Polls `fut` for the first time in a free slot; its output if it is
    /// ready at once, otherwise it stays in the slot.
    pub(super) fn push(&mut self, index: usize, fut: F) -> Option<F::Output> {
        let n = self.free.pop().unwrap_or_else(|| {
            let flag = Arc::new(SlotWaker {
                slot: self.slots.len(),
                queued: AtomicBool::new(false),
                woken: self.woken.clone(),
            });
            let waker = Waker::from(flag.clone());
            self.slots.push(Slot {
                fut: None,
                waker,
                flag,
            });
            self.slots.len() - 1
        });
        self.slots[n].fut = Some((index, fut));
        self.len += 1;
        self.poll_slot(n).map(|(_, out)| out)
    }

    /// Makes `task` the one the slots' wakers wake, polls the futures whose
    /// wakers fired since the last call, and moves the outputs of those that
    /// completed to `out`.
    pub(super) fn poll_woken(&mut self, task: &Waker, out: &mut VecDeque<(usize, F::Output)>) {
        let mut taken = std::mem::take(&mut self.taken);
        {
            let mut state = self.woken.lock();
            if !state.task.as_ref().is_some_and(|t| t.will_wake(task)) {
                state.task = Some(task.clone());
            }
            std::mem::swap(&mut taken, &mut state.slots);
            state.notified = false;
        }
        for n in taken.drain(..) {
            if let Some(done) = self.poll_slot(n) {
                out.push_back(done);
            }
        }
        self.taken = taken;
    }

    /// Polls slot `n` (if it runs a future) and frees it once that completes.
    fn poll_slot(&mut self, n: usize) -> Option<(usize, F::Output)> {
        let slot = &mut self.slots[n];
        slot.flag.queued.store(false, Ordering::Release);
        let (index, fut) = slot.fut.as_mut()?;
        let index = *index;
        let out = match Pin::new(fut).poll(&mut Context::from_waker(&slot.waker)) {
            Poll::Ready(out) => out,
            Poll::Pending => return None,
        };
        slot.fut = None;
        self.free.push(n);
        self.len -= 1;
        Some((index, out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    /// A future that counts its polls and is ready once `ready` is set,
    /// keeping the waker it was last polled with.
    struct Gate(Rc<Probe>);

    /// What a test sees of a [`Gate`].
    #[derive(Default)]
    struct Probe {
        ready: Cell<bool>,
        polls: Cell<usize>,
        waker: Cell<Option<Waker>>,
    }

    impl Future for Gate {
        type Output = ();
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            let probe = &self.0;
            probe.polls.set(probe.polls.get() + 1);
            if probe.ready.get() {
                return Poll::Ready(());
            }
            probe.waker.set(Some(cx.waker().clone()));
            Poll::Pending
        }
    }

    #[test]
    fn only_woken_futures_are_polled() {
        let mut running = Running::new();
        let mut out = VecDeque::new();
        running.poll_woken(Waker::noop(), &mut out);
        let probes: Vec<Rc<Probe>> = (0..64).map(|_| Rc::default()).collect();
        for (i, probe) in probes.iter().enumerate() {
            assert!(running.push(i, Gate(probe.clone())).is_none());
        }
        assert_eq!(running.len(), 64);
        running.poll_woken(Waker::noop(), &mut out);
        assert!(out.is_empty());
        assert!(probes.iter().all(|p| p.polls.get() == 1), "polled unwoken");

        // Two complete; a third is woken twice without being ready.
        for i in [40, 7] {
            probes[i].ready.set(true);
            probes[i].waker.take().unwrap().wake();
        }
        let spurious = probes[9].waker.take().unwrap();
        spurious.wake_by_ref();
        spurious.wake_by_ref();
        running.poll_woken(Waker::noop(), &mut out);
        assert_eq!(out.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [40, 7]);
        for (i, probe) in probes.iter().enumerate() {
            let want = if [40, 7, 9].contains(&i) { 2 } else { 1 };
            assert_eq!(probe.polls.get(), want, "gate {i}");
        }
        assert_eq!(running.len(), 62);
        // A freed slot is reused before the table grows.
        let ready = Rc::new(Probe::default());
        ready.ready.set(true);
        assert_eq!(running.push(64, Gate(ready)), Some(()));
        assert_eq!(running.slots.len(), 64);
    }

    #[test]
    fn a_batch_of_wakes_wakes_the_task_once_until_it_takes_the_queue() {
        struct Count(std::sync::atomic::AtomicUsize);
        impl Wake for Count {
            fn wake(self: Arc<Self>) {
                self.0.fetch_add(1, Ordering::Relaxed);
            }
        }
        let count = Arc::new(Count(Default::default()));
        let task = Waker::from(count.clone());
        let woken = || count.0.load(Ordering::Relaxed);
        let mut running = Running::new();
        let mut out = VecDeque::new();
        running.poll_woken(&task, &mut out);
        let probes: Vec<Rc<Probe>> = (0..2).map(|_| Rc::default()).collect();
        for (i, probe) in probes.iter().enumerate() {
            assert!(running.push(i, Gate(probe.clone())).is_none());
        }
        let wakers: Vec<Waker> = probes.iter().map(|p| p.waker.take().unwrap()).collect();
        // Two slots and a repeat: one wake of the task.
        wakers[0].wake_by_ref();
        wakers[0].wake_by_ref();
        wakers[1].wake_by_ref();
        assert_eq!(woken(), 1);
        running.poll_woken(&task, &mut out); // takes both; each waits again
        assert!(out.is_empty());
        assert!(probes.iter().all(|p| p.polls.get() == 2));
        // After the take, a wake reaches the task again.
        probes[1].waker.take().unwrap().wake();
        assert_eq!(woken(), 2);
        // A new task registered at the take gets the next wake.
        let other = Arc::new(Count(Default::default()));
        running.poll_woken(&Waker::from(other.clone()), &mut out);
        probes[0].waker.take().unwrap().wake();
        assert_eq!((woken(), other.0.load(Ordering::Relaxed)), (2, 1));
    }
}
