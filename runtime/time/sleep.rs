//! `Sleep`: a future that completes at a deadline.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::deadlines::TimerKey;
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
        _local: PhantomData,
    }
}

/// About thirty years from now: "never" for deadlines that overflow `Instant`.
pub(crate) fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(86_400 * 365 * 30)
}

/// The future returned by [`sleep`] and [`sleep_until`].
///
/// # Panics
///
/// Polling it outside a runtime panics.
#[must_use = "a Sleep does nothing unless awaited"]
#[derive(Debug)]
pub struct Sleep {
    /// When it completes.
    deadline: Instant,
    /// The registration with this worker's timers, once polled.
    timer: Option<TimerKey>,
    /// `!Send`: the registration belongs to one worker.
    _local: PhantomData<*const ()>,
}

impl Sleep {
    /// When this sleep completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Whether the deadline has passed.
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline; the sleep may be awaited again.
    pub fn reset(&mut self, deadline: Instant) {
        self.unregister();
        self.deadline = deadline;
    }

    fn unregister(&mut self) {
        if let Some(t) = self.timer.take() {
            if let Some(w) = context::current() {
                if let Ok(mut timers) = w.timers.try_borrow_mut() {
                    timers.remove(t);
                }
            }
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
        let fired = match this.timer {
            Some(t) => {
                let w =
                    context::current().expect("Sleep polled outside the runtime that created it");
                let fired = w.timers.borrow_mut().poll(t, cx);
                fired
            }
            None => {
                if Instant::now() >= this.deadline {
                    true
                } else {
                    let Some(w) = context::current() else {
                        panic!("runtime::time::sleep polled outside a runtime");
                    };
                    this.timer = Some(w.timers.borrow_mut().insert(this.deadline, cx));
                    false
                }
            }
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
