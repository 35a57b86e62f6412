//! `Sleep`: a future that completes at a deadline.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::deadlines::{Removals, TimerKey};
use crate::context;
use crate::executor::coop;

/// Waits until `duration` has passed.
///
/// ```
/// use std::time::{Duration, Instant};
/// runtime::block_on(async {
///     let start = Instant::now();
///     runtime::time::sleep(Duration::from_millis(10)).await;
///     assert!(start.elapsed() >= Duration::from_millis(10));
/// });
/// ```
pub fn sleep(duration: Duration) -> Sleep {
    let now = Instant::now();
    sleep_until(now.checked_add(duration).unwrap_or_else(far_future))
}

/// Waits until `deadline`.
pub fn sleep_until(deadline: Instant) -> Sleep {
    Sleep {
        deadline,
        timer: None,
    }
}

/// About thirty years from now: "never" for deadlines that overflow `Instant`.
pub(crate) fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// The future returned by [`sleep`] and [`sleep_until`].
///
/// A `Sleep` registers with the timers of the worker that polls it. It is
/// `Send`, so `Send` futures (an axum handler) may await it; awaited on one
/// worker, as tasks are, it costs nothing for that. Polled on another worker
/// it moves its registration there, and dropped on another thread it asks
/// its worker to remove the timer; either way the first worker's entry is
/// gone by that worker's next turn.
///
/// # Panics
///
/// Polling it outside a runtime panics.
#[must_use = "a Sleep does nothing unless awaited"]
#[derive(Debug)]
pub struct Sleep {
    /// When it completes.
    deadline: Instant,
    /// The registration with a worker's timers, once polled: the key, and
    /// where that worker takes removals from other threads (its address
    /// also tells that worker's timers apart from another's).
    timer: Option<(TimerKey, Arc<Removals>)>,
}

impl Sleep {
    deadline_methods!();

    /// Removes the timer: at once on its own worker, else through that
    /// worker's removal queue.
    fn unregister(&mut self) {
        let Some((key, home)) = self.timer.take() else {
            return;
        };
        let removed = context::with_current(|w| match w.timers.try_borrow_mut() {
            Ok(mut timers) if Arc::ptr_eq(timers.removals(), &home) => {
                timers.remove(key);
                true
            }
            _ => false,
        });
        if removed != Some(true) {
            home.remove(key);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if !coop::has_budget(cx) {
            return Poll::Pending;
        }
        let fired = context::with_current(|w| {
            let mut timers = w.timers.borrow_mut();
            match &this.timer {
                Some((key, home)) if Arc::ptr_eq(timers.removals(), home) => timers.poll(*key, cx),
                _ if Instant::now() >= this.deadline => true,
                moved => {
                    // Registered on another worker: move the registration here.
                    if let Some((key, home)) = moved {
                        home.remove(*key);
                    }
                    let key = timers.insert(this.deadline, cx);
                    this.timer = Some((key, timers.removals().clone()));
                    false
                }
            }
        });
        let Some(fired) = fired else {
            panic!("runtime::time::sleep polled outside a runtime");
        };
        if fired {
            this.unregister();
            coop::consume();
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.unregister();
    }
}
