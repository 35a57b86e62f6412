//! `runtime::time::SendSleep` on both drivers: it completes at its deadline,
//! moves between workers (registering on whichever polls it), resets, and
//! wakes its task once rather than being polled in a loop.

mod support;

use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use runtime::time::SendSleep;
use support::within;

/// Polls `fut` once.
async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
}

/// Counts the polls of the future it wraps.
struct Counted<F> {
    inner: F,
    polls: usize,
}

impl<F: Future + Unpin> Future for Counted<F> {
    type Output = usize;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        self.polls += 1;
        let polls = self.polls;
        Pin::new(&mut self.inner).poll(cx).map(|_| polls)
    }
}

#[test]
fn send_sleep_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<SendSleep>();
}

#[test]
fn an_elapsed_sleep_is_ready_even_outside_a_runtime() {
    let mut s = SendSleep::until(Instant::now());
    assert!(s.is_elapsed());
    let mut cx = Context::from_waker(Waker::noop());
    assert!(Pin::new(&mut s).poll(&mut cx).is_ready());
}

#[runtime::test]
async fn completes_at_its_deadline_without_busy_polling() {
    let start = Instant::now();
    let sleep = SendSleep::new(Duration::from_millis(20));
    let deadline = sleep.deadline();
    let polls = within(
        "sleep",
        Counted {
            inner: sleep,
            polls: 0,
        },
    )
    .await;
    assert!(Instant::now() >= deadline);
    assert!(start.elapsed() >= Duration::from_millis(20));
    // The first poll registers, the timer's wake-up completes it.
    assert!(polls <= 3, "polled {polls} times");
}

#[runtime::test]
async fn awaited_inside_a_spawned_task() {
    let h = runtime::spawn(async {
        let s = SendSleep::new(Duration::from_millis(5));
        let deadline = s.deadline();
        s.await;
        Instant::now() >= deadline
    });
    assert!(within("task", h).await.unwrap());
}

#[runtime::test]
async fn reset_moves_the_deadline_of_a_registered_sleep() {
    let mut s = SendSleep::new(Duration::from_secs(3600));
    assert!(poll_once(&mut s).await.is_pending()); // registered an hour out
    s.reset(Instant::now() + Duration::from_millis(5));
    within("reset sleep", &mut s).await;
    assert!(s.is_elapsed());
    // Reset to the past: ready at once; awaited again after that, too.
    s.reset(Instant::now() - Duration::from_millis(1));
    assert!(poll_once(&mut s).await.is_ready());
}

#[runtime::test(workers = 2)]
async fn registered_on_one_worker_and_awaited_on_another() {
    let mut s = SendSleep::new(Duration::from_millis(20));
    assert!(poll_once(&mut s).await.is_pending()); // registered on worker 0
    let deadline = s.deadline();
    let h = runtime::spawn_on(1, move || async move {
        let polls = Counted { inner: s, polls: 0 }.await;
        (Instant::now() >= deadline, polls)
    });
    let (elapsed, polls) = within("moved sleep", h).await.unwrap();
    assert!(elapsed);
    assert!(polls <= 3, "polled {polls} times on worker 1");
}

#[runtime::test(workers = 2)]
async fn dropped_on_another_worker() {
    let mut s = SendSleep::new(Duration::from_millis(5));
    assert!(poll_once(&mut s).await.is_pending());
    runtime::spawn_on(1, move || async move { drop(s) })
        .await
        .unwrap();
    // The entry left on worker 0 fires once, harmlessly; timers go on working.
    within(
        "later sleep",
        runtime::time::sleep(Duration::from_millis(10)),
    )
    .await;
    let mut fresh = pin!(SendSleep::new(Duration::from_millis(1)));
    within("fresh sleep", fresh.as_mut()).await;
}
