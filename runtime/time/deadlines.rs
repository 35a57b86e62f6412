//! Pending timers of one worker: a slab of entries and a min-heap of deadlines.
//!
//! Insert and fire cost O(log n); nothing scans all timers. A cancelled timer
//! leaves a stale heap entry (recognised by its generation); the heap is
//! rebuilt when stale entries outnumber live ones, so memory stays in
//! proportion to the live timers.
//!
//! A timer can only be removed on its worker's thread. One whose `Sleep`
//! moved to another thread is removed through [`Removals`], a small queue
//! the worker empties whenever it inserts or fires timers (every turn while
//! any are pending), so no entry outlives its sleep by more than a turn.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use slab::Slab;

/// One pending timer.
#[derive(Debug)]
struct Entry {
    /// When it fires.
    deadline: Instant,
    /// Distinguishes this timer from an earlier one in the same slab slot.
    generation: u64,
    /// The sleeping future's waker.
    waker: Option<Waker>,
    /// Set when the deadline passed.
    fired: bool,
    /// Forget the entry when it fires: its owner may be on another thread and
    /// unable to remove it (`SendSleep`), and checks the clock itself.
    remove_on_fire: bool,
}

/// A worker's timers.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    /// Live timers by key.
    entries: Slab<Entry>,
    /// (deadline, key, generation), earliest first; may hold stale entries.
    heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    /// Source of generations.
    next_generation: u64,
    /// Removals asked for by other threads; its address identifies this
    /// worker's timers to the sleeps registered here.
    removals: Arc<Removals>,
}

/// Timers of one worker that other threads asked to remove.
#[derive(Debug)]
pub(crate) struct Removals {
    /// The keys, in arrival order; `None` once the worker shut down.
    keys: Mutex<Option<Vec<TimerKey>>>,
    /// Whether `keys` may hold any, readable without the lock.
    posted: AtomicBool,
}

impl Default for Removals {
    fn default() -> Self {
        Removals {
            keys: Mutex::new(Some(Vec::new())),
            posted: AtomicBool::new(false),
        }
    }
}

impl Removals {
    /// Any thread: asks the worker to remove timer `t` (nothing to do once
    /// the worker shut down: its timers are gone).
    pub(crate) fn remove(&self, t: TimerKey) {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(keys) = keys.as_mut() {
            keys.push(t);
            self.posted.store(true, Ordering::Release);
        }
    }

    /// Worker: takes the keys posted so far (a load when there are none).
    fn take(&self) -> Vec<TimerKey> {
        if !self.posted.load(Ordering::Acquire) {
            return Vec::new();
        }
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        self.posted.store(false, Ordering::Relaxed);
        keys.as_mut().map(std::mem::take).unwrap_or_default()
    }
}

/// A registered timer: its slab key and generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerKey {
    key: usize,
    generation: u64,
}

impl Timers {
    /// Where other threads send removals of this worker's timers.
    pub(crate) fn removals(&self) -> &Arc<Removals> {
        &self.removals
    }

    /// Removes the timers other threads asked to remove.
    fn take_removals(&mut self) {
        for t in self.removals.take() {
            self.remove(t);
        }
    }

    /// Registers a timer that wakes `cx` at `deadline`.
    pub(crate) fn insert(&mut self, deadline: Instant, cx: &Context<'_>) -> TimerKey {
        self.take_removals();
        self.next_generation += 1;
        let generation = self.next_generation;
        let key = self.entries.insert(Entry {
            deadline,
            generation,
            waker: Some(cx.waker().clone()),
            fired: false,
            remove_on_fire: false,
        });
        self.heap.push(Reverse((deadline, key, generation)));
        self.maybe_compact();
        TimerKey { key, generation }
    }

    /// Registers a timer that wakes `waker` at `deadline` and then forgets
    /// itself, so nothing leaks if its owner never removes it.
    pub(crate) fn insert_oneshot(&mut self, deadline: Instant, waker: Waker) -> TimerKey {
        let key = self.insert(deadline, &Context::from_waker(&waker));
        if let Some(e) = self.entries.get_mut(key.key) {
            e.remove_on_fire = true;
        }
        key
    }

    /// Whether the timer fired; if not, refreshes its waker.
    pub(crate) fn poll(&mut self, t: TimerKey, cx: &Context<'_>) -> bool {
        match self.entries.get_mut(t.key) {
            Some(e) if e.generation == t.generation => {
                if e.fired {
                    return true;
                }
                match &e.waker {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => e.waker = Some(cx.waker().clone()),
                }
                false
            }
            _ => true,
        }
    }

    /// Forgets a timer (its heap entry goes stale).
    pub(crate) fn remove(&mut self, t: TimerKey) {
        if matches!(self.entries.get(t.key), Some(e) if e.generation == t.generation) {
            self.entries.remove(t.key);
        }
    }

    /// Whether no deadline (live or stale) is pending, so there is nothing to
    /// fire and the clock need not be read.
    pub(crate) fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// How long until the earliest live deadline; `None` with no timers.
    pub(crate) fn next_timeout(&mut self, now: Instant) -> Option<Duration> {
        while let Some(Reverse((deadline, key, generation))) = self.heap.peek().copied() {
            if self.is_live(key, generation) {
                return Some(deadline.saturating_duration_since(now));
            }
            self.heap.pop();
        }
        None
    }

    /// Marks every timer due by `now` as fired and collects its waker.
    pub(crate) fn fire(&mut self, now: Instant, wakers: &mut Vec<Waker>) {
        self.take_removals();
        while let Some(Reverse((deadline, key, generation))) = self.heap.peek().copied() {
            if deadline > now {
                break;
            }
            self.heap.pop();
            let Some(e) = self.entries.get_mut(key) else {
                continue;
            };
            if e.generation == generation {
                e.fired = true;
                wakers.extend(e.waker.take());
                if e.remove_on_fire {
                    self.entries.remove(key);
                }
            }
        }
    }

    /// Drops every timer (worker shutdown).
    pub(crate) fn clear(&mut self) {
        *self.removals.keys.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.entries.clear();
        self.heap.clear();
    }

    /// Number of live timers.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    fn is_live(&self, key: usize, generation: u64) -> bool {
        matches!(self.entries.get(key), Some(e) if e.generation == generation && !e.fired)
    }

    /// Rebuilds the heap from live entries once stale ones dominate.
    fn maybe_compact(&mut self) {
        if self.heap.len() < 1024 || self.heap.len() < 2 * self.entries.len() {
            return;
        }
        self.heap = self
            .entries
            .iter()
            .filter(|(_, e)| !e.fired)
            .map(|(k, e)| Reverse((e.deadline, k, e.generation)))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    fn cx() -> Context<'static> {
        Context::from_waker(Waker::noop())
    }

    #[test]
    fn fires_in_deadline_order_and_skips_removed() {
        let mut t = Timers::default();
        let now = Instant::now();
        let a = t.insert(now + Duration::from_millis(30), &cx());
        let b = t.insert(now + Duration::from_millis(10), &cx());
        let c = t.insert(now + Duration::from_millis(20), &cx());
        t.remove(b);
        assert_eq!(t.next_timeout(now), Some(Duration::from_millis(20)));
        let mut w = Vec::new();
        t.fire(now + Duration::from_millis(25), &mut w);
        assert_eq!(w.len(), 1);
        assert!(t.poll(c, &cx()));
        assert!(!t.poll(a, &cx()));
    }

    #[test]
    fn reused_slot_is_not_fired_by_stale_entry() {
        let mut t = Timers::default();
        let now = Instant::now();
        let a = t.insert(now + Duration::from_millis(1), &cx());
        t.remove(a);
        let b = t.insert(now + Duration::from_secs(10), &cx());
        let mut w = Vec::new();
        t.fire(now + Duration::from_millis(5), &mut w);
        assert!(w.is_empty());
        assert!(!t.poll(b, &cx()));
    }

    #[test]
    fn a_oneshot_timer_forgets_itself_when_it_fires() {
        let mut t = Timers::default();
        let now = Instant::now();
        t.insert_oneshot(now + Duration::from_millis(1), Waker::noop().clone());
        let kept = t.insert(now + Duration::from_millis(1), &cx());
        let mut w = Vec::new();
        t.fire(now + Duration::from_millis(5), &mut w);
        assert_eq!(w.len(), 2);
        assert_eq!(t.len(), 1, "only the plain timer waits for its owner");
        assert!(t.poll(kept, &cx()));
    }

    #[test]
    fn a_removal_from_another_thread_is_applied_at_the_next_fire() {
        let mut t = Timers::default();
        let now = Instant::now();
        let a = t.insert(now + Duration::from_secs(60), &cx());
        let removals = t.removals().clone();
        std::thread::spawn(move || removals.remove(a))
            .join()
            .unwrap();
        assert_eq!(t.len(), 1, "applied by the worker, not the sender");
        t.fire(now, &mut Vec::new());
        assert_eq!(t.len(), 0);
        t.clear();
        t.removals().remove(a); // after shutdown: ignored
        assert!(t.removals().take().is_empty());
    }

    #[test]
    fn cancelled_timers_do_not_accumulate() {
        let mut t = Timers::default();
        let now = Instant::now();
        for i in 0..100_000u64 {
            let k = t.insert(now + Duration::from_secs(60 + i), &cx());
            t.remove(k);
        }
        assert_eq!(t.len(), 0);
        assert!(
            t.heap.len() <= 2048,
            "heap kept {} stale entries",
            t.heap.len()
        );
    }

    #[test]
    fn a_million_timers_fire_in_order() {
        let mut t = Timers::default();
        let now = Instant::now();
        let keys: Vec<_> = (0..1_000_000u64)
            .map(|i| t.insert(now + Duration::from_micros(i % 1000), &cx()))
            .collect();
        let mut w = Vec::new();
        t.fire(now + Duration::from_micros(499), &mut w);
        assert_eq!(w.len(), 500_000);
        assert!(t.poll(keys[0], &cx()));
        assert!(!t.poll(keys[999], &cx()));
    }
}
