//! `TimeoutLayer`: a tower middleware that answers `408 Request Timeout`
//! when the inner service takes too long, on the runtime's timers (tower-http's
//! `TimeoutLayer` uses tokio's, which panic here).
#![forbid(unsafe_code)]

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tower_layer::Layer;
use tower_service::Service;

use crate::time::{sleep, Sleep};

/// Applies [`Timeout`] to a service: each request gets at most `duration`;
/// past it the inner future is dropped and the response is an empty
/// `408 Request Timeout`. The response future is `Send` when the inner one
/// is, as axum's `Router::layer` requires.
///
/// ```no_run
/// # #[cfg(feature = "hyper")]
/// # fn f() {
/// use std::time::Duration;
/// use axum::{routing::get, Router};
///
/// let app: Router = Router::new()
///     .route("/", get(|| async { "quick" }))
///     .layer(runtime::http::TimeoutLayer::new(Duration::from_secs(10)));
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct TimeoutLayer {
    /// How long a request may take.
    duration: Duration,
}

impl TimeoutLayer {
    /// A layer giving each request `duration`.
    pub fn new(duration: Duration) -> Self {
        TimeoutLayer { duration }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Timeout<S> {
        Timeout {
            inner,
            duration: self.duration,
        }
    }
}

/// The service [`TimeoutLayer`] makes.
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    /// The service whose requests are bounded.
    inner: S,
    /// How long a request may take.
    duration: Duration,
}

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Timeout<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    ResBody: Default,
{
    type Response = http::Response<ResBody>;
    type Error = S::Error;
    type Future = TimeoutFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        TimeoutFuture {
            inner: self.inner.call(req),
            // Registered with the timers of the worker that polls it.
            sleep: sleep(self.duration),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`Timeout`].
    #[derive(Debug)]
    pub struct TimeoutFuture<F> {
        #[pin]
        inner: F,
        sleep: Sleep,
    }
}

impl<F, ResBody, E> Future for TimeoutFuture<F>
where
    F: Future<Output = Result<http::Response<ResBody>, E>>,
    ResBody: Default,
{
    type Output = Result<http::Response<ResBody>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(res) = this.inner.poll(cx) {
            return Poll::Ready(res);
        }
        if Pin::new(this.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let mut res = http::Response::new(ResBody::default());
        *res.status_mut() = http::StatusCode::REQUEST_TIMEOUT;
        Poll::Ready(Ok(res))
    }
}
