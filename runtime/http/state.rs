//! What the workers serving one listener share: each worker's live
//! connections (the load the hand-off balances), the connection limit, and
//! the stop signal of a graceful shutdown.
//!
//! # No lost wake-ups
//!
//! Each wait (an acceptor at the limit, a connection watching for the stop,
//! the serve future waiting for the last connection) stores its waker under
//! a lock and then looks at the condition again; whoever changes the
//! condition changes it first and then takes the wakers under the same lock.
//! So either the waiter sees the change or the changer sees the waker.
//!
//! Locks are taken when a connection starts and ends, never per request.
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use slab::Slab;

use crate::metrics::Counters;

/// Locks `m`, whatever a panic elsewhere left in it (the data here is
/// counters and wakers, valid at every step).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One worker's part.
#[derive(Debug, Default)]
pub(crate) struct Worker {
    /// Connections given to this worker and not yet finished, counted from
    /// the hand-off (so a connection on its way counts).
    live: AtomicUsize,
    /// Connections handed to this worker that it has not started yet.
    pending: AtomicUsize,
    /// The worker's loop turns (its metrics counter), read without a lock.
    turns: Option<Arc<Counters>>,
    /// `turns` when `pending` last rose from 0.
    turn_at_hand_off: AtomicU64,
    /// When `pending` last rose from 0 ([`now_micros`]).
    hand_off_at: AtomicU64,
    /// The wakers of this worker's connections, woken when the stop comes.
    conns: Mutex<Slab<Waker>>,
    /// The worker's ring, if connections reach it by `IORING_OP_MSG_RING`,
    /// and its wake-up handle.
    ring: Option<Ring>,
}

/// A worker that has not turned for this long since a connection was
/// handed to it is busy: far above a wake-up (tens of microseconds) or a
/// busy turn, and above a time slice lost to another thread on a crowded
/// machine, yet short for a client.
const BUSY_AFTER_MICROS: u64 = 20_000;

/// Microseconds since the first call, for `Worker::hand_off_at`.
fn now_micros() -> u64 {
    static EPOCH: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let epoch = *EPOCH.get_or_init(std::time::Instant::now);
    u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
}

impl Worker {
    /// The worker's loop turns so far.
    fn turns(&self) -> u64 {
        self.turns
            .as_ref()
            .map_or(0, |c| c.ticks.load(Ordering::Relaxed))
    }

    /// Whether the worker has connections to start and has not turned
    /// since the first of them was handed over, longer ago than a wake-up
    /// takes: it is in a long task, and gets no more connections while
    /// another worker can take them.
    fn busy(&self, now: &dyn Fn() -> u64) -> bool {
        self.pending.load(Ordering::Relaxed) > 0
            && self.turns() == self.turn_at_hand_off.load(Ordering::Relaxed)
            && now().saturating_sub(self.hand_off_at.load(Ordering::Relaxed)) > BUSY_AFTER_MICROS
    }
}

/// A worker's ring (its descriptor) and wake-up handle.
pub(crate) type Ring = (std::os::fd::RawFd, Arc<crate::driver::Unpark>);

/// The state shared by the acceptors, the connections and the serve future.
#[derive(Debug)]
pub(crate) struct Shared {
    /// By worker index.
    workers: Vec<Worker>,
    /// Live connections on all workers, and places reserved by acceptors
    /// for the connection they are about to accept.
    total: AtomicUsize,
    /// At most this many live connections (`usize::MAX`: no limit).
    limit: usize,
    /// Acceptors waiting for a connection to end, below the limit.
    at_limit: Mutex<Vec<Waker>>,
    /// The graceful shutdown began: acceptors stop, connections finish
    /// their requests in progress and close.
    stop: AtomicBool,
    /// Acceptors, woken by the stop.
    acceptors: Mutex<Vec<Waker>>,
    /// The serve future, waiting for the last connection after the stop.
    drained: Mutex<Option<Waker>>,
    /// Receivers of descriptors passed by `MSG_RING`, woken when the last
    /// connection ended after the stop (nothing can arrive any more).
    receivers: Mutex<Vec<Waker>>,
    /// Tells this server's descriptors apart from another's in a ring.
    key: u8,
}

impl Shared {
    /// State for workers with these turn counters and rings (for
    /// `MSG_RING`), and at most `limit` connections.
    pub(crate) fn new(workers: Vec<(Option<Arc<Counters>>, Option<Ring>)>, limit: usize) -> Self {
        static KEYS: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
        Shared {
            workers: workers
                .into_iter()
                .map(|(turns, ring)| Worker {
                    turns,
                    ring,
                    ..Worker::default()
                })
                .collect(),
            receivers: Mutex::new(Vec::new()),
            key: KEYS.fetch_add(1, Ordering::Relaxed),
            total: AtomicUsize::new(0),
            limit,
            at_limit: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            acceptors: Mutex::new(Vec::new()),
            drained: Mutex::new(None),
        }
    }

    /// The worker that should take a connection accepted on `here` (with a
    /// place reserved by [`Shared::poll_admit`]): the one
    /// with the fewest live connections among those that are not busy
    /// (`here` always qualifies: it is running), `here` on a tie. Counts the
    /// connection as live and pending there.
    pub(crate) fn pick(&self, here: usize) -> usize {
        self.pick_at(here, &now_micros)
    }

    /// [`Shared::pick`] with the clock `now`.
    fn pick_at(&self, here: usize, now: &dyn Fn() -> u64) -> usize {
        let mut best = here;
        let mut least = self.workers[here].live.load(Ordering::Relaxed);
        for (i, w) in self.workers.iter().enumerate() {
            if i == here || w.busy(now) {
                continue;
            }
            let live = w.live.load(Ordering::Relaxed);
            if live < least {
                best = i;
                least = live;
            }
        }
        self.keep(best)
    }

    /// Counts a connection as live (and pending) on worker `i`; returns `i`.
    pub(crate) fn keep(&self, i: usize) -> usize {
        let w = &self.workers[i];
        w.live.fetch_add(1, Ordering::Relaxed);
        if w.pending.fetch_add(1, Ordering::Relaxed) == 0 {
            w.turn_at_hand_off.store(w.turns(), Ordering::Relaxed);
            w.hand_off_at.store(now_micros(), Ordering::Relaxed);
        }
        i
    }

    /// This server's key for descriptors passed between rings.
    pub(crate) fn key(&self) -> u8 {
        self.key
    }

    /// Worker `i`'s ring, when connections reach it by `MSG_RING`.
    pub(crate) fn ring(&self, i: usize) -> Option<&Ring> {
        self.workers.get(i).and_then(|w| w.ring.as_ref())
    }

    /// A connection counted on worker `from` is served by `to` instead (the
    /// kernel refused to pass it on).
    pub(crate) fn moved(&self, from: usize, to: usize) {
        let (f, t) = (&self.workers[from], &self.workers[to]);
        f.pending.fetch_sub(1, Ordering::Relaxed);
        f.live.fetch_sub(1, Ordering::Relaxed);
        t.live.fetch_add(1, Ordering::Relaxed);
        t.pending.fetch_add(1, Ordering::Relaxed);
    }

    /// Receiver side: whether nothing can arrive any more (the stop came
    /// and every connection ended); if not, keeps `waker` for that moment.
    pub(crate) fn poll_finished(&self, cx: &mut Context<'_>) -> Poll<()> {
        let done = || self.stopping() && self.total.load(Ordering::SeqCst) == 0;
        if done() {
            return Poll::Ready(());
        }
        let mut receivers = lock(&self.receivers);
        if !receivers.iter().any(|w| w.will_wake(cx.waker())) {
            receivers.push(cx.waker().clone());
        }
        drop(receivers);
        if done() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Live connections on worker `i`.
    #[cfg(test)]
    pub(crate) fn live(&self, i: usize) -> usize {
        self.workers[i].live.load(Ordering::Relaxed)
    }

    /// Worker `i` started a connection handed to it; returns its key among
    /// the worker's connections (see [`Shared::watch_stop`]).
    pub(crate) fn started(&self, i: usize, waker: &Waker) -> usize {
        let w = &self.workers[i];
        w.pending.fetch_sub(1, Ordering::Relaxed);
        lock(&w.conns).insert(waker.clone())
    }

    /// A connection of worker `i` (key `key`) ended.
    pub(crate) fn ended(&self, i: usize, key: usize) {
        let w = &self.workers[i];
        lock(&w.conns).try_remove(key);
        w.live.fetch_sub(1, Ordering::Relaxed);
        self.ended_one();
    }

    /// One place (a connection or a reservation) is free again.
    fn ended_one(&self) {
        let left = self.total.fetch_sub(1, Ordering::SeqCst) - 1;
        if self.limit != usize::MAX {
            for waker in std::mem::take(&mut *lock(&self.at_limit)) {
                waker.wake();
            }
        }
        if left == 0 && self.stop.load(Ordering::SeqCst) {
            if let Some(waker) = lock(&self.drained).take() {
                waker.wake();
            }
            for waker in std::mem::take(&mut *lock(&self.receivers)) {
                waker.wake();
            }
        }
    }

    /// A connection handed to worker `i` ended before it started (its
    /// worker shut down first).
    pub(crate) fn dropped_unstarted(&self, i: usize) {
        self.workers[i].pending.fetch_sub(1, Ordering::Relaxed);
        self.ended(i, usize::MAX);
    }

    /// Connection side: the connection's task has a new waker (rare: a
    /// task's waker is stable); it replaces the one woken at the stop.
    pub(crate) fn rewake(&self, i: usize, key: usize, waker: &Waker) {
        if let Some(w) = lock(&self.workers[i].conns).get_mut(key) {
            *w = waker.clone();
        }
    }

    /// Whether the graceful shutdown began.
    pub(crate) fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Acceptor side: reserves a place for the next connection, once the
    /// limit allows one (`Ready(true)`), or gives up at the stop
    /// (`Ready(false)`). A reservation is used by [`Shared::pick`]'s
    /// connection or given back with [`Shared::release`].
    pub(crate) fn poll_admit(&self, cx: &mut Context<'_>) -> Poll<bool> {
        loop {
            if self.stopping() {
                return Poll::Ready(false);
            }
            if self.reserve() {
                return Poll::Ready(true);
            }
            let mut waiting = lock(&self.at_limit);
            if !waiting.iter().any(|w| w.will_wake(cx.waker())) {
                waiting.push(cx.waker().clone());
            }
            drop(waiting);
            // Looked at again after the waker is in place (see the module doc).
            if !self.stopping() && self.total.load(Ordering::SeqCst) >= self.limit {
                return Poll::Pending;
            }
        }
    }

    /// Takes a place below the limit, if there is one.
    fn reserve(&self) -> bool {
        self.total
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .is_ok()
    }

    /// Acceptor side: gives back a reservation no connection used.
    pub(crate) fn release(&self) {
        self.ended_one();
    }

    /// Acceptor side: ready once the stop came.
    pub(crate) fn poll_stop(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.stopping() {
            return Poll::Ready(());
        }
        let mut acceptors = lock(&self.acceptors);
        if !acceptors.iter().any(|w| w.will_wake(cx.waker())) {
            acceptors.push(cx.waker().clone());
        }
        drop(acceptors);
        if self.stopping() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    /// Begins the graceful shutdown: wakes every acceptor and connection.
    pub(crate) fn begin_stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        for waker in std::mem::take(&mut *lock(&self.acceptors)) {
            waker.wake();
        }
        for waker in std::mem::take(&mut *lock(&self.at_limit)) {
            waker.wake();
        }
        for w in &self.workers {
            let wakers: Vec<Waker> = lock(&w.conns).iter().map(|(_, w)| w.clone()).collect();
            wakers.into_iter().for_each(Waker::wake);
        }
    }

    /// Serve side, after the stop: ready once no connection is left.
    pub(crate) fn poll_drained(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.total.load(Ordering::SeqCst) == 0 {
            return Poll::Ready(());
        }
        *lock(&self.drained) = Some(cx.waker().clone());
        if self.total.load(Ordering::SeqCst) == 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Shared;
    use std::task::Waker;

    #[test]
    fn connections_go_to_the_least_loaded_worker_that_keeps_up() {
        let s = Shared::new(vec![(None, None); 3], usize::MAX);
        let w = Waker::noop();
        let soon = || super::now_micros();
        // Each connection comes with the place its acceptor reserved.
        let pick = |here, now: &dyn Fn() -> u64| {
            assert!(s.reserve());
            s.pick_at(here, now)
        };
        assert_eq!(pick(0, &soon), 0, "a tie stays where it was accepted");
        let k0 = s.started(0, w);
        assert_eq!(pick(0, &soon), 1);
        assert_eq!(pick(0, &soon), 2);
        // Not started yet, but only just handed over: still candidates.
        assert_eq!(pick(0, &soon), 0);
        assert_eq!(pick(0, &soon), 1);
        // Much later, workers 1 and 2 still have not turned: busy.
        let later = || super::now_micros() + 10 * super::BUSY_AFTER_MICROS;
        assert_eq!(pick(0, &later), 0);
        assert_eq!(pick(0, &later), 0);
        let k1 = s.started(1, w);
        let k1b = s.started(1, w);
        assert_eq!(pick(0, &later), 1, "worker 1 caught up and has the fewest");
        s.ended(0, k0);
        s.ended(1, k1);
        s.ended(1, k1b);
        assert_eq!(s.live(0), 3);
    }

    #[test]
    fn the_limit_admits_again_when_a_connection_ends() {
        let s = Shared::new(vec![(None, None); 2], 1);
        let mut cx = std::task::Context::from_waker(Waker::noop());
        assert_eq!(s.poll_admit(&mut cx), std::task::Poll::Ready(true));
        // The other acceptor may not accept meanwhile.
        assert!(s.poll_admit(&mut cx).is_pending());
        s.pick(0);
        let k = s.started(0, Waker::noop());
        assert!(s.poll_admit(&mut cx).is_pending());
        s.ended(0, k);
        assert_eq!(s.poll_admit(&mut cx), std::task::Poll::Ready(true));
        s.release();
        s.begin_stop();
        assert_eq!(s.poll_admit(&mut cx), std::task::Poll::Ready(false));
    }
}
