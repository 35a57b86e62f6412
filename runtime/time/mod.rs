//! Timers: `sleep`, `sleep_until`, `timeout` and `interval`.
//!
//! Timers live with the worker that first polls them; the worker's kernel wait
//! carries the earliest deadline (the io_uring wait's timeout, or
//! `epoll_wait`'s), so an idle runtime sleeps in the kernel. Timer futures are
//! `!Send`: they belong to one worker, like the tasks that await them.
//! [`SendSleep`] is the exception, for code that requires a `Send + Sync` sleep.
//!
//! On epoll, deadlines are rounded up to the next millisecond.
#![forbid(unsafe_code)]

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
