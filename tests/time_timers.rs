//! Timers on both drivers: sleep, timeout, interval.

use std::time::{Duration, Instant};

use futures_core::Stream;
use runtime::time::{self, MissedTickBehavior};

#[runtime::test]
async fn sleep_waits_at_least_its_duration() {
    let start = Instant::now();
    time::sleep(Duration::from_millis(15)).await;
    assert!(start.elapsed() >= Duration::from_millis(15));
}

#[runtime::test]
async fn sleep_until_in_the_past_is_ready() {
    time::sleep_until(Instant::now() - Duration::from_secs(1)).await;
}

#[runtime::test]
async fn sleep_reset_moves_the_deadline() {
    let mut s = time::sleep(Duration::from_secs(3600));
    let soon = Instant::now() + Duration::from_millis(5);
    s.reset(soon);
    assert_eq!(s.deadline(), soon);
    s.await;
    assert!(Instant::now() >= soon);
}

#[runtime::test]
async fn timeout_elapses_for_a_slow_future() {
    let res = time::timeout(Duration::from_millis(5), std::future::pending::<()>()).await;
    let err = res.unwrap_err();
    assert_eq!(err.to_string(), "deadline has elapsed");
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
}

#[runtime::test]
async fn timeout_passes_a_fast_future_through() {
    let v = time::timeout(Duration::from_secs(10), async { 3 })
        .await
        .unwrap();
    assert_eq!(v, 3);
}

#[runtime::test]
async fn many_concurrent_sleeps_all_complete() {
    let handles: Vec<_> = (0..20_000u64)
        .map(|i| runtime::spawn(async move { time::sleep(Duration::from_micros(i % 2000)).await }))
        .collect();
    for h in handles {
        h.await.unwrap();
    }
}

#[runtime::test]
async fn interval_ticks_on_schedule() {
    let mut iv = time::interval(Duration::from_millis(3));
    let t0 = iv.tick().await;
    let t1 = iv.tick().await;
    let t2 = iv.tick().await;
    assert_eq!(t1 - t0, Duration::from_millis(3));
    assert_eq!(t2 - t1, Duration::from_millis(3));
}

#[runtime::test]
async fn interval_burst_catches_up_and_delay_does_not() {
    let period = Duration::from_millis(5);
    let mut burst = time::interval(period);
    burst.tick().await;
    std::thread::sleep(period * 3); // miss three ticks on purpose
    let a = Instant::now();
    burst.tick().await;
    burst.tick().await;
    assert!(a.elapsed() < period, "burst fires missed ticks at once");

    let mut delay = time::interval(period);
    delay.set_missed_tick_behavior(MissedTickBehavior::Delay);
    delay.tick().await;
    std::thread::sleep(period * 3);
    delay.tick().await; // the missed one, at once
    let b = Instant::now();
    delay.tick().await;
    assert!(
        b.elapsed() >= period - Duration::from_millis(1),
        "delay waits a full period"
    );
}

#[runtime::test]
async fn interval_is_a_stream() {
    let mut iv = time::interval(Duration::from_millis(1));
    let mut n = 0;
    while n < 3 {
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut iv).poll_next(cx))
            .await
            .unwrap();
        n += 1;
    }
}
