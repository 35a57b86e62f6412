//! hyper 1.x's runtime traits on this runtime: an `Executor` that spawns on
//! the current worker and a `Timer` whose sleeps are `Send + Sync`.
//!
//! hyper drives each connection from the task that awaits it and spawns
//! helpers (HTTP/2 streams, client connection tasks) through the `Executor`;
//! the `Timer` serves header-read timeouts, keep-alive and HTTP/2 pings.
#![forbid(unsafe_code)]

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use hyper::rt::{Executor, Sleep, Timer};

use crate::time::SendSleep;

/// hyper's [`Executor`]: spawns each future as a task on the current worker
/// (see [`spawn`](crate::spawn)), so futures need not be `Send`.
///
/// Give it to hyper's connection builders, for example
/// `hyper::server::conn::http2::Builder::new(HyperExecutor)`.
///
/// ```
/// use hyper::rt::Executor;
/// use runtime::io::compat::HyperExecutor;
/// use std::rc::Rc;
///
/// runtime::block_on(async {
///     let (tx, rx) = std::sync::mpsc::channel();
///     let local = Rc::new(7); // !Send: fine
///     HyperExecutor.execute(async move { tx.send(*local).unwrap() });
///     let got = loop {
///         match rx.try_recv() {
///             Ok(v) => break v,
///             Err(_) => runtime::task::yield_now().await,
///         }
///     };
///     assert_eq!(got, 7);
/// });
/// ```
///
/// # Panics
///
/// `execute` panics when called outside a runtime, as `spawn` does.
#[derive(Clone, Copy, Debug, Default)]
pub struct HyperExecutor;

impl<F> Executor<F> for HyperExecutor
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn execute(&self, fut: F) {
        drop(crate::spawn(fut));
    }
}

/// hyper's [`Timer`]: its sleeps are [`SendSleep`]s, which hyper requires to
/// be `Send + Sync`; each registers with the worker that polls it.
///
/// Give it to hyper's builders, for example
/// `hyper::server::conn::http1::Builder::new().timer(HyperTimer)`, to enable
/// `header_read_timeout` and keep-alive timers.
///
/// ```
/// use hyper::rt::Timer;
/// use runtime::io::compat::HyperTimer;
/// use std::time::Duration;
///
/// runtime::block_on(async {
///     HyperTimer.sleep(Duration::from_millis(5)).await;
/// });
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct HyperTimer;

impl Sleep for SendSleep {}

impl Timer for HyperTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        Box::pin(SendSleep::new(duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(SendSleep::until(deadline))
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<SendSleep>() {
            Some(ours) => ours.get_mut().reset(new_deadline),
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}
