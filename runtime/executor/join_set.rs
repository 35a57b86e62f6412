//! `JoinSet`: a collection of tasks whose outputs come back in order of completion.
//!
//! # How a finished member is found without scanning
//!
//! Every member's `JoinState` is polled with a waker of its own (a
//! [`MemberWaker`]). When the task finishes, that waker puts the member's
//! `(key, generation)` on the set's ready list (once: `queued` guards it) and
//! wakes whoever awaits `join_next`. `join_next` then looks only at the listed
//! members; a new member is listed at once, so its waker gets registered.
//!
//! A key may be reused once its member leaves; the generation tells an old
//! member's late wake-up from the current member's, and a stale entry on the
//! list is skipped.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use slab::Slab;

use super::{coop, AbortHandle, JoinError, JoinHandle};

/// A set of tasks on this runtime, awaited in the order they finish.
///
/// [`spawn`](JoinSet::spawn) starts a task on the current worker (its future
/// need not be `Send`); [`join_next`](JoinSet::join_next) yields the output
/// of whichever member finishes first. Dropping the set aborts every task
/// still in it; [`detach_all`](JoinSet::detach_all) lets them run on instead.
///
/// ```
/// use runtime::task::JoinSet;
/// use std::time::Duration;
///
/// runtime::block_on(async {
///     let mut set = JoinSet::new();
///     for ms in [30u64, 10, 20] {
///         set.spawn(async move {
///             runtime::time::sleep(Duration::from_millis(ms)).await;
///             ms
///         });
///     }
///     let mut order = Vec::new();
///     while let Some(res) = set.join_next().await {
///         order.push(res.unwrap());
///     }
///     assert_eq!(order, [10, 20, 30]);
/// });
/// ```
pub struct JoinSet<T> {
    /// The members still in the set, by key.
    members: Slab<Member<T>>,
    /// Members worth polling, and the waker of whoever awaits the set.
    ready: Arc<Ready>,
    /// Source of member generations.
    next_generation: u64,
}

/// One task in the set.
struct Member<T> {
    /// The task's output, once it finishes.
    handle: JoinHandle<T>,
    /// The waker the task's `JoinState` holds; lists this member when woken.
    notify: Arc<MemberWaker>,
    /// `notify` as a `Waker`, built once.
    waker: Waker,
}

/// The set's side shared with every member's waker.
#[derive(Default)]
struct Ready {
    /// Guarded by a mutex because a member may finish on another thread
    /// (`spawn_on`, `spawn_blocking`).
    inner: Mutex<ReadyInner>,
}

/// See [`Ready`].
#[derive(Default)]
struct ReadyInner {
    /// `(key, generation)` of members woken (or added) since last looked at.
    keys: VecDeque<(usize, u64)>,
    /// The task awaiting `join_next`, woken when a key is listed.
    waker: Option<Waker>,
}

/// Lists one member on the ready list when its task finishes.
struct MemberWaker {
    /// The member's slab key.
    key: usize,
    /// The member's generation, so a reused key is not mistaken for it.
    generation: u64,
    /// Where to list it.
    ready: Arc<Ready>,
    /// Already listed and not yet looked at: list it only once.
    queued: AtomicBool,
}

impl Wake for MemberWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let mut g = self.ready.lock();
        g.keys.push_back((self.key, self.generation));
        let waker = g.waker.take();
        drop(g);
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Ready {
    fn lock(&self) -> MutexGuard<'_, ReadyInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T> JoinSet<T> {
    /// An empty set.
    pub fn new() -> Self {
        JoinSet {
            members: Slab::new(),
            ready: Arc::new(Ready::default()),
            next_generation: 0,
        }
    }

    /// How many tasks are in the set (running, or finished and not yet joined).
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the set holds no task.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Spawns `future` on the current worker (see [`spawn`](crate::spawn)) as
    /// a member of this set. The future need not be `Send`.
    ///
    /// # Panics
    ///
    /// When called outside a runtime.
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> AbortHandle
    where
        F: Future<Output = T> + 'static,
        T: 'static,
    {
        self.insert(super::spawn(future))
    }

    /// Spawns a task on worker `worker` (see [`spawn_on`](crate::spawn_on))
    /// as a member of this set.
    ///
    /// # Panics
    ///
    /// Outside a runtime, or if `worker` is not below the runtime's worker count.
    #[track_caller]
    pub fn spawn_on<F, Fut>(&mut self, worker: usize, make: F) -> AbortHandle
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T> + 'static,
        T: Send + 'static,
    {
        self.insert(super::spawn_on(worker, make))
    }

    /// Runs `f` on the blocking pool (see
    /// [`spawn_blocking`](crate::spawn_blocking)) as a member of this set.
    /// Aborting stops it only if it has not started.
    ///
    /// # Panics
    ///
    /// When called outside a runtime.
    #[track_caller]
    pub fn spawn_blocking<F>(&mut self, f: F) -> AbortHandle
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.insert(super::spawn_blocking(f))
    }

    /// Adds a spawned task and lists it, so its waker gets registered.
    fn insert(&mut self, handle: JoinHandle<T>) -> AbortHandle
    where
        T: 'static,
    {
        let abort = handle.abort_handle();
        self.next_generation += 1;
        let entry = self.members.vacant_entry();
        let notify = Arc::new(MemberWaker {
            key: entry.key(),
            generation: self.next_generation,
            ready: self.ready.clone(),
            queued: AtomicBool::new(false),
        });
        let waker = Waker::from(notify.clone());
        entry.insert(Member {
            handle,
            notify: notify.clone(),
            waker,
        });
        notify.wake_by_ref();
        abort
    }

    /// Waits for a member to finish and returns its output, or `None` when
    /// the set is empty. Outputs come in order of completion.
    ///
    /// A member that panicked yields a [`JoinError`] with
    /// [`is_panic`](JoinError::is_panic); an aborted one, a cancelled error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped before it completes, no output
    /// is lost; the next call returns it.
    pub async fn join_next(&mut self) -> Option<Result<T, JoinError>> {
        std::future::poll_fn(|cx| self.poll_join_next(cx)).await
    }

    /// The output of a member that has already finished, if any, without
    /// waiting; `None` if the set is empty or every member is still running.
    pub fn try_join_next(&mut self) -> Option<Result<T, JoinError>> {
        self.next_finished()
    }

    /// Polls for the next member to finish: `Ready(None)` when the set is
    /// empty, `Pending` (with `cx` woken later) while all members still run.
    pub fn poll_join_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, JoinError>>> {
        if !coop::has_budget(cx) {
            return Poll::Pending;
        }
        // Registered before the ready list is drained, so a member finishing
        // in between still wakes us.
        {
            let mut g = self.ready.lock();
            match &g.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => g.waker = Some(cx.waker().clone()),
            }
        }
        if let Some(out) = self.next_finished() {
            coop::consume();
            return Poll::Ready(Some(out));
        }
        if self.members.is_empty() {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }

    /// Looks at each listed member; removes and returns the first finished one.
    fn next_finished(&mut self) -> Option<Result<T, JoinError>> {
        loop {
            let (key, generation) = self.ready.lock().keys.pop_front()?;
            let Some(member) = self.members.get(key) else {
                continue;
            };
            if member.notify.generation != generation {
                continue;
            }
            // Cleared before polling: a finish from now on lists it again.
            member.notify.queued.store(false, Ordering::Release);
            let mut cx = Context::from_waker(&member.waker);
            if let Poll::Ready(out) = member.handle.poll_output(&mut cx) {
                self.members.remove(key);
                return Some(out);
            }
        }
    }

    /// Aborts every task in the set. They stay members: [`join_next`](Self::join_next)
    /// yields a cancelled [`JoinError`] for each (or the output of one that
    /// finished first).
    pub fn abort_all(&mut self) {
        for (_, member) in &self.members {
            member.handle.abort();
        }
    }

    /// Removes every task from the set without aborting it: they run on,
    /// detached, and their outputs are dropped.
    pub fn detach_all(&mut self) {
        self.members.clear();
        self.ready.lock().keys.clear();
    }

    /// Aborts every task and waits until all have stopped.
    ///
    /// When it returns the set is empty and the tasks' futures are dropped
    /// (a `spawn_blocking` closure already running is waited for).
    pub async fn shutdown(&mut self) {
        self.abort_all();
        while self.join_next().await.is_some() {}
    }
}

impl<T> Drop for JoinSet<T> {
    fn drop(&mut self) {
        self.abort_all();
    }
}

/// Spawns each future into the set, as [`JoinSet::spawn`] does.
///
/// # Panics
///
/// When called outside a runtime.
impl<T: 'static, F: Future<Output = T> + 'static> Extend<F> for JoinSet<T> {
    fn extend<I: IntoIterator<Item = F>>(&mut self, iter: I) {
        for future in iter {
            self.spawn(future);
        }
    }
}

/// Collects futures into a set, spawning each.
///
/// ```
/// use runtime::task::JoinSet;
///
/// runtime::block_on(async {
///     let mut set: JoinSet<u32> = (1..=3).map(|i| async move { i * 10 }).collect();
///     let mut sum = 0;
///     while let Some(res) = set.join_next().await {
///         sum += res.unwrap();
///     }
///     assert_eq!(sum, 60);
/// });
/// ```
///
/// # Panics
///
/// When called outside a runtime.
impl<T: 'static, F: Future<Output = T> + 'static> FromIterator<F> for JoinSet<T> {
    fn from_iter<I: IntoIterator<Item = F>>(iter: I) -> Self {
        let mut set = JoinSet::new();
        set.extend(iter);
        set
    }
}

impl<T> Default for JoinSet<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for JoinSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinSet").field("len", &self.len()).finish()
    }
}
