//! Cooperative budget: a task whose futures are always ready still yields.
//!
//! Each task poll starts with a budget; every runtime future that returns
//! `Ready` spends one unit. When the budget is spent, runtime futures return
//! `Pending` after waking their task, so the task goes to the back of the run
//! queue and the worker gets to reap completions and fire timers.

use std::cell::Cell;
use std::task::Context;

/// Units a task may spend per poll (tokio uses 128 too).
const BUDGET: u32 = 128;

thread_local! {
    /// The running task's remaining budget.
    static REMAINING: Cell<u32> = const { Cell::new(BUDGET) };
}

/// Refills the budget before a task is polled.
#[inline]
pub(crate) fn reset() {
    let _ = REMAINING.try_with(|b| b.set(BUDGET));
}

/// Whether a runtime future may make progress; if not, wakes the task to run later.
#[inline]
pub(crate) fn has_budget(cx: &mut Context<'_>) -> bool {
    let left = REMAINING.try_with(|b| b.get()).unwrap_or(BUDGET);
    if left == 0 {
        cx.waker().wake_by_ref();
        return false;
    }
    true
}

/// Spends one unit: a runtime future returned `Ready`.
#[inline]
pub(crate) fn consume() {
    let _ = REMAINING.try_with(|b| b.set(b.get().saturating_sub(1)));
}
