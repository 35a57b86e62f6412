//! Giving way to the other tasks of a worker: `yield_now` and
//! `consume_budget`, public as `runtime::task::{yield_now, consume_budget}`.
#![forbid(unsafe_code)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Yields once: the task goes to the back of its worker's run queue, so
/// others (and the reaping of completions) get a turn.
///
/// ```
/// runtime::block_on(async {
///     runtime::task::yield_now().await;
/// });
/// ```
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
#[must_use = "yield_now does nothing unless awaited"]
#[derive(Debug)]
pub struct YieldNow {
    /// Whether the task already went round once.
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Spends one unit of the task's cooperative budget, yielding when it is used
/// up. Call it in loops over always-ready work that never awaits runtime I/O.
pub async fn consume_budget() {
    std::future::poll_fn(|cx| {
        if crate::executor::coop::has_budget(cx) {
            crate::executor::coop::consume();
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}
