//! `Interval`: ticks at a fixed period, as a `futures_core::Stream`.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;

use super::sleep::{sleep_until, Sleep};

/// What an interval does when ticks were missed (the task was busy past a deadline).
///
/// The same choices as tokio's, with the same default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks at once, one per poll, until caught up; the
    /// schedule keeps its original phase. (Default.)
    #[default]
    Burst,
    /// Fire once now and schedule the next tick one period from now.
    Delay,
    /// Fire once now and skip to the next tick on the original schedule.
    Skip,
}

/// Ticks every `period`, starting now (the first tick completes at once).
///
/// Returns an error-free interval; a zero `period` is raised to one nanosecond
/// rather than panicking.
///
/// ```
/// use std::time::Duration;
/// runtime::block_on(async {
///     let mut iv = runtime::time::interval(Duration::from_millis(2));
///     let first = iv.tick().await;
///     let second = iv.tick().await;
///     assert!(second - first >= Duration::from_millis(2));
/// });
/// ```
pub fn interval(period: Duration) -> Interval {
    interval_at(Instant::now(), period)
}

/// Ticks every `period`, the first tick at `start`.
pub fn interval_at(start: Instant, period: Duration) -> Interval {
    Interval {
        delay: sleep_until(start),
        period: period.max(Duration::from_nanos(1)),
        missed: MissedTickBehavior::default(),
    }
}

/// A stream of ticks; see [`interval`].
#[derive(Debug)]
pub struct Interval {
    /// The next tick.
    delay: Sleep,
    /// Time between ticks.
    period: Duration,
    /// What to do after missed ticks.
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick and returns when it was scheduled.
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick.
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.delay).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let scheduled = self.delay.deadline();
        let now = Instant::now();
        let next = match self.missed {
            MissedTickBehavior::Burst => scheduled + self.period,
            MissedTickBehavior::Delay if now > scheduled + self.period => now + self.period,
            MissedTickBehavior::Skip if now > scheduled + self.period => {
                let behind = (now - scheduled).as_nanos();
                let periods = behind / self.period.as_nanos() + 1;
                let step = self.period.as_nanos().saturating_mul(periods);
                scheduled + Duration::from_nanos(u64::try_from(step).unwrap_or(u64::MAX))
            }
            _ => scheduled + self.period,
        };
        self.delay.reset(next);
        Poll::Ready(scheduled)
    }

    /// Sets the missed-tick behaviour.
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// The missed-tick behaviour.
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// The period between ticks.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// Restarts the schedule: the next tick is one period from now.
    pub fn reset(&mut self) {
        self.delay.reset(Instant::now() + self.period);
    }
}

impl Stream for Interval {
    type Item = Instant;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.get_mut().poll_tick(cx).map(Some)
    }
}

use std::future::Future;
