//! One connection of `serve`: its place in the shared accounting (a
//! [`Ticket`]), the optional TLS handshake, and hyper's connection driven
//! until it ends or, after the stop, finishes gracefully.
#![forbid(unsafe_code)]

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::sync::Arc;
use std::task::Waker;

use hyper::body::Incoming;
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tower_service::Service;

use super::state::Shared;
use crate::io::compat::HyperExecutor;

/// The error type hyper accepts from services and bodies.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A service `serve` runs: a tower service of HTTP requests (an axum
/// `Router`) whose responses have bodies of type `B`. The bounds `serve`
/// states in its signature, named once for the code that runs it; every
/// such service is one.
pub(crate) trait HttpService<B>:
    Service<
        http::Request<Incoming>,
        Response = http::Response<B>,
        Future: 'static,
        Error: Into<BoxError>,
    > + Clone
    + Send
    + 'static
{
}

impl<S, B> HttpService<B> for S
where
    S: Service<http::Request<Incoming>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: 'static,
    S::Error: Into<BoxError>,
{
}

/// A response body hyper can write, as `serve` states it; every such body
/// is one.
pub(crate) trait HttpBody: http_body::Body<Error: Into<BoxError>> + 'static {}

impl<B> HttpBody for B
where
    B: http_body::Body + 'static,
    B::Error: Into<BoxError>,
{
}

/// A connection's place in the accounting of worker `worker`; dropping it
/// (the connection ended, or its task was dropped) gives the place back.
#[derive(Debug)]
pub(crate) struct Ticket {
    /// The accounting.
    state: Arc<Shared>,
    /// The worker serving the connection.
    worker: usize,
    /// The connection's key among its worker's, once started.
    key: Option<usize>,
    /// The waker the stop wakes, to tell when the task's waker changed.
    waker: Option<Waker>,
}

impl Ticket {
    /// A connection counted on `worker` (by `Shared::pick` or `keep`).
    pub(crate) fn new(state: Arc<Shared>, worker: usize) -> Self {
        Ticket {
            state,
            worker,
            key: None,
            waker: None,
        }
    }

    /// The connection's task runs on its worker, with `waker`.
    pub(crate) fn start(&mut self, waker: &Waker) {
        if self.key.is_none() {
            self.key = Some(self.state.started(self.worker, waker));
            self.waker = Some(waker.clone());
        }
    }

    /// Whether the graceful shutdown began; if not, makes sure the stop
    /// wakes `waker`. No lock unless the task's waker changed.
    pub(crate) fn stopping(&mut self, waker: &Waker) -> bool {
        if let (Some(key), Some(known)) = (self.key, &self.waker) {
            if !known.will_wake(waker) {
                self.state.rewake(self.worker, key, waker);
                self.waker = Some(waker.clone());
            }
        }
        self.state.stopping()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        match self.key {
            Some(key) => self.state.ended(self.worker, key),
            None => self.state.dropped_unstarted(self.worker),
        }
    }
}

/// Runs hyper's HTTP/1.1-or-HTTP/2 connection over `io` (with upgrades, for
/// WebSockets) until it ends; after the stop, asks it to finish gracefully.
/// A connection's errors (a reset, bad HTTP) end that connection only.
pub(crate) async fn serve_io<I, S, B>(
    ticket: &mut Ticket,
    http: &auto::Builder<HyperExecutor>,
    io: I,
    service: TowerToHyperService<S>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: HttpService<B>,
    B: HttpBody,
{
    let mut conn = pin!(http.serve_connection_with_upgrades(io, service));
    let mut graceful = false;
    let _ = poll_fn(|cx| {
        if !graceful && ticket.stopping(cx.waker()) {
            graceful = true;
            conn.as_mut().graceful_shutdown();
        }
        conn.as_mut().poll(cx)
    })
    .await;
}

/// The TLS handshake of a connection, given up at the stop or on error
/// (`None`: the connection is dropped).
#[cfg(feature = "tls")]
pub(crate) async fn handshake(
    ticket: &mut Ticket,
    stream: crate::net::TcpStream,
    config: Arc<rustls::ServerConfig>,
) -> Option<super::tls_io::TlsIo<tokio_rustls::server::TlsStream<crate::net::TcpStream>>> {
    let mut accept = pin!(tokio_rustls::TlsAcceptor::from(config).accept(stream));
    let done = poll_fn(|cx| {
        if ticket.stopping(cx.waker()) {
            return std::task::Poll::Ready(None);
        }
        accept.as_mut().poll(cx).map(Some)
    })
    .await;
    match done {
        Some(Ok(tls)) => Some(super::tls_io::TlsIo::new(tls)),
        _ => None,
    }
}
