//! `SendSleep`: a sleep that is `Send + Sync`, for code that demands one
//! (hyper's `Timer`, `tokio::select!` inside a `Send` future).
//!
//! # How it differs from `Sleep`
//!
//! A [`Sleep`](super::Sleep) registers with the timers of the worker that
//! polls it and must stay there. A `SendSleep` keeps only its deadline and a
//! note of where it is registered (the worker, held weakly, and the timer's
//! key). Polled on that worker, it refreshes its waker; polled on another, it
//! registers there too. The timer entry wakes a small shared relay, not the
//! task directly, so the relay always reaches whoever polled last, on any
//! thread, and a registration left behind on the first worker holds no task.
//! Such an entry cannot be removed from another thread; it fires once at the
//! deadline (a spurious wake-up at most) and then forgets itself
//! (`Timers::insert_oneshot`). Completion is decided by the clock alone, so
//! no poll happens before the deadline unless something else wakes the task.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use super::deadlines::TimerKey;
use super::sleep::far_future;
use crate::context;
use crate::executor::{coop, Shared};

/// A [`Sleep`](super::Sleep) that is `Send + Sync`: it may be created on one
/// worker, moved, and awaited on another.
///
/// Use [`sleep`](super::sleep) when the future stays on one worker, as
/// runtime tasks do; use this where a `Send + Sync` sleep is required, such
/// as hyper's [`Timer`](https://docs.rs/hyper/1/hyper/rt/trait.Timer.html)
/// (the `hyper` feature's `HyperTimer` returns these).
///
/// ```
/// use runtime::time::SendSleep;
/// use std::time::Duration;
///
/// let rt = runtime::Builder::new().workers(2).build().unwrap();
/// rt.block_on(async {
///     let sleep = SendSleep::new(Duration::from_millis(10));
///     // Awaited on worker 1: the closure that carries it must be `Send`.
///     runtime::spawn_on(1, move || sleep).await.unwrap();
/// });
/// ```
///
/// # Panics
///
/// Polling it outside a runtime before its deadline panics.
#[must_use = "a SendSleep does nothing unless awaited"]
#[derive(Debug)]
pub struct SendSleep {
    /// When it completes.
    deadline: Instant,
    /// Where the deadline is registered, once polled.
    registration: Option<Registration>,
    /// What the timer wakes: passes the wake-up to the last poller.
    relay: Arc<Relay>,
}

/// A timer entry on one worker.
#[derive(Debug)]
struct Registration {
    /// The worker, held weakly: its address identifies it and cannot be reused
    /// by another worker while this lives.
    worker: Weak<Shared>,
    /// The entry in that worker's timers.
    key: TimerKey,
}

/// Forwards a timer's wake-up to the task that polled last.
#[derive(Debug, Default)]
struct Relay {
    /// The last poller's waker; taken when woken.
    waker: Mutex<Option<Waker>>,
}

impl Wake for Relay {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let waker = self.waker.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl SendSleep {
    /// Completes once `duration` has passed.
    pub fn new(duration: Duration) -> Self {
        Self::until(
            Instant::now()
                .checked_add(duration)
                .unwrap_or_else(far_future),
        )
    }

    /// Completes at `deadline`.
    pub fn until(deadline: Instant) -> Self {
        SendSleep {
            deadline,
            registration: None,
            relay: Arc::default(),
        }
    }

    deadline_methods!();

    /// Removes the timer entry if it is on this thread's worker; one on
    /// another worker fires once and forgets itself.
    fn unregister(&mut self) {
        let Some(r) = self.registration.take() else {
            return;
        };
        context::with_current(|w| {
            if std::ptr::eq(r.worker.as_ptr(), Arc::as_ptr(&w.shared)) {
                if let Ok(mut timers) = w.timers.try_borrow_mut() {
                    timers.remove(r.key);
                }
            }
        });
    }
}

impl Future for SendSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if !coop::has_budget(cx) {
            return Poll::Pending;
        }
        if Instant::now() >= this.deadline {
            this.unregister();
            coop::consume();
            return Poll::Ready(());
        }
        {
            let mut slot = this.relay.waker.lock().unwrap_or_else(|e| e.into_inner());
            match &*slot {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => *slot = Some(cx.waker().clone()),
            }
        }
        let in_runtime = context::with_current(|w| {
            let here = matches!(
                &this.registration,
                Some(r) if std::ptr::eq(r.worker.as_ptr(), Arc::as_ptr(&w.shared))
            );
            if !here {
                let key = w
                    .timers
                    .borrow_mut()
                    .insert_oneshot(this.deadline, Waker::from(this.relay.clone()));
                this.registration = Some(Registration {
                    worker: Arc::downgrade(&w.shared),
                    key,
                });
            }
        });
        if in_runtime.is_none() {
            panic!("runtime::time::SendSleep polled outside a runtime");
        }
        Poll::Pending
    }
}

impl Drop for SendSleep {
    fn drop(&mut self) {
        self.unregister();
        // A registration left on another worker must not keep the task alive.
        self.relay
            .waker
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
    }
}
