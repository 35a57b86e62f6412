//! Timers: `sleep`, `sleep_until`, `timeout` and `interval`.
//!
//! Timers live with the worker that first polls them; the worker's kernel wait
//! carries the earliest deadline (the io_uring wait's timeout, or
//! `epoll_wait`'s), so an idle runtime sleeps in the kernel. Timer futures are
//! `Send` (so axum handlers may await them) and belong to the worker that
//! polls them, like the tasks that await them; one moved to another worker
//! re-registers there. [`SendSleep`] is for code that polls one sleep from
//! several threads in turn (hyper's `Timer`).
//!
//! On epoll, deadlines are rounded up to the next millisecond.
#![forbid(unsafe_code)]

/// The deadline methods of [`Sleep`] and [`SendSleep`], the same for both:
/// each keeps its deadline in a `deadline` field and leaves its timer with
/// `unregister`. A macro rather than a trait, so they stay inherent methods
/// that callers need no import for.
macro_rules! deadline_methods {
    () => {
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
    };
}

mod deadlines;
mod interval;
mod send_sleep;
mod sleep;
mod timeout;

pub(crate) use deadlines::Timers;
pub use interval::{interval, interval_at, Interval, MissedTickBehavior};
pub use send_sleep::SendSleep;
pub use sleep::{sleep, sleep_until, Sleep};
pub use std::time::{Duration, Instant};
pub use timeout::{timeout, timeout_at, Elapsed, Timeout};
