//! `serve(listener, service)`: a tower (axum) service on every worker, with
//! load-aware hand-off of accepted connections, graceful shutdown, a
//! connection limit and optional TLS.
//!
//! # How connections are spread
//!
//! Every worker accepts from the one listener (each through its own
//! descriptor for it, so each worker waits in its own driver). A worker that
//! accepts a connection serves it itself unless another worker has fewer
//! live connections, in which case the connection goes to that worker: on
//! io_uring its descriptor goes to the target's ring with
//! `IORING_OP_MSG_RING`, which that worker's receiver takes; otherwise (epoll,
//! or a kernel without `MSG_RING`) the connection's task goes to the target's
//! inbox ([`spawn_on`](crate::spawn_on); the stream is `Send`). A worker busy
//! with a long task accepts nothing meanwhile, and one that has left a
//! connection handed to it unstarted for 20 ms, without a single loop turn,
//! gets no more while another worker keeps up: a busy worker stalls only the
//! connections handed to it before that.
//! [`Serve::reuse_port`] instead gives each worker its own `SO_REUSEPORT`
//! listener and keeps every connection where the kernel put it.
#![forbid(unsafe_code)]

use std::future::{poll_fn, Future, IntoFuture};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use hyper::body::Incoming;
use hyper_util::server::conn::auto;
use tower_service::Service;

use super::accept::{accept_loop, receive_loop, Setup};
use super::conn::{BoxError, HttpBody, HttpService};
use super::state::Shared;
use crate::io::compat::{HyperExecutor, HyperTimer};
use crate::net::TcpListener;

/// Serves `service` on `listener` from every worker of the current
/// runtime: HTTP/1.1 and HTTP/2 (detected per connection, h2c included),
/// one task per connection on the worker that serves it.
///
/// `service` is a tower service such as an axum `Router` (a hyper
/// `service_fn` becomes one with `tower::service_fn`; [`ServeService`]
/// names the bounds); each worker gets a clone, and its futures need not be
/// `Send`. Each accepted connection goes
/// to the worker with the fewest live connections (see the
/// [module docs](super)). The returned [`Serve`] is configured with its
/// methods and awaited; it returns only on an error of the listener or,
/// with [`Serve::with_graceful_shutdown`], once every connection is done.
/// Dropped before that, it stops accepting and lets its connections finish
/// on their own.
///
/// ```no_run
/// # #[cfg(feature = "hyper")]
/// # mod app {
/// use axum::{routing::get, Router};
///
/// #[runtime::main(workers = 4)]
/// async fn main() -> std::io::Result<()> {
///     let app = Router::new().route("/", get(|| async { "Hello, world!" }));
///     let listener = runtime::net::TcpListener::bind("127.0.0.1:3000")?;
///     runtime::http::serve(listener, app)
///         .with_graceful_shutdown(async { drop(runtime::signal::ctrl_c().await) })
///         .max_connections(10_000)
///         .await
/// }
/// # }
/// # fn main() {}
/// ```
///
/// # Errors
///
/// Outside a runtime; when the listener's descriptor cannot be duplicated
/// for every worker (or, with [`reuse_port`](Serve::reuse_port), a worker's
/// listener cannot be bound); and when accepting fails for good (a closed
/// listener). Running out of descriptors or memory is not such an error:
/// accepting pauses briefly and resumes. A connection's own errors (a peer
/// that resets, bad HTTP, a failed TLS handshake) end that connection only.
pub fn serve<S: ServeService>(listener: TcpListener, service: S) -> Serve<S> {
    Serve {
        listener,
        service,
        shutdown: None,
        max_connections: usize::MAX,
        reuse_port: false,
        #[cfg(feature = "tls")]
        tls: None,
    }
}

/// A server being configured; `.await` it to run. See [`serve`].
#[must_use = "a server does nothing unless awaited"]
pub struct Serve<S> {
    /// The listener every worker accepts from.
    listener: TcpListener,
    /// Cloned into every worker.
    service: S,
    /// Begins the graceful shutdown when it completes.
    shutdown: Option<Pin<Box<dyn Future<Output = ()>>>>,
    /// At most this many live connections; `usize::MAX`: no limit.
    max_connections: usize,
    /// One `SO_REUSEPORT` listener per worker, no hand-off.
    reuse_port: bool,
    /// Serve HTTPS with this configuration.
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl<S> std::fmt::Debug for Serve<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Serve")
            .field("listener", &self.listener)
            .field("max_connections", &self.max_connections)
            .field("reuse_port", &self.reuse_port)
            .finish_non_exhaustive()
    }
}

impl<S> Serve<S> {
    /// When `signal` completes, stop accepting, let every connection finish
    /// the requests it is serving (HTTP/2: a GOAWAY), close idle ones, and
    /// return once all are closed. `signal` runs on the worker that awaits
    /// the server, so it need not be `Send`: `runtime::signal::ctrl_c()`, a
    /// channel, a timer.
    pub fn with_graceful_shutdown<F>(mut self, signal: F) -> Self
    where
        F: Future<Output = ()> + 'static,
    {
        self.shutdown = Some(Box::pin(signal));
        self
    }

    /// Keeps at most `n` connections open: at the limit, new connections
    /// wait in the listener's backlog until one closes. At least 1.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// Gives each worker its own listener on the same address, bound with
    /// `SO_REUSEPORT` (the listener passed to [`serve`] must have it too:
    /// [`TcpListener::bind_reuseport`] or [`TcpSocket::set_reuseport`](crate::net::TcpSocket::set_reuseport)), and
    /// serves every connection on the
    /// worker whose listener the kernel chose: no hand-off, and no balancing
    /// by load.
    pub fn reuse_port(mut self) -> Self {
        self.reuse_port = true;
        self
    }

    /// Serves HTTPS: each connection first completes a TLS handshake with
    /// `config` (HTTP/2 is used when ALPN selects it: put `h2` and
    /// `http/1.1` in `config.alpn_protocols`). Feature `tls`.
    #[cfg(feature = "tls")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }
}

impl<S: ServeService> IntoFuture for Serve<S> {
    type Output = io::Result<()>;
    type IntoFuture = Pin<Box<dyn Future<Output = io::Result<()>>>>;

    fn into_future(self) -> Self::IntoFuture {
        S::into_server(self)
    }
}

/// A service [`serve`] runs: a tower [`Service`] of hyper's requests
/// (`http::Request<hyper::body::Incoming>`) answering `http::Response<B>`,
/// where `B` is an [`http_body::Body`]. It is `Clone + Send + 'static`
/// (every worker gets a clone), its futures are `'static` (they need not be
/// `Send`: each runs on its connection's worker), and its error and the
/// body's error convert into `Box<dyn Error + Send + Sync>`. An axum
/// `Router` is one, and so is every such service: the trait only names
/// these bounds once, for [`serve`] and for awaiting a [`Serve`].
pub trait ServeService: Clone + Send + 'static {
    /// Runs `serve` with this service (the one place that knows `B`).
    #[doc(hidden)]
    fn into_server(serve: Serve<Self>) -> Pin<Box<dyn Future<Output = io::Result<()>>>>;
}

impl<S, B> ServeService for S
where
    S: Service<http::Request<Incoming>, Response = http::Response<B>> + Clone + Send + 'static,
    S::Future: 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + 'static,
    B::Error: Into<BoxError>,
{
    fn into_server(serve: Serve<S>) -> Pin<Box<dyn Future<Output = io::Result<()>>>> {
        Box::pin(serve.run::<B>())
    }
}

impl<S> Serve<S> {
    /// Starts an acceptor on every worker, waits for the shutdown signal (or
    /// a failed acceptor), then for the connections to finish.
    async fn run<B>(self) -> io::Result<()>
    where
        S: HttpService<B>,
        B: HttpBody,
    {
        // Each worker's turn counter tells a busy worker from one that keeps
        // up; its ring (io_uring with MSG_RING) takes descriptors directly.
        let counters = crate::context::with_current(|w| {
            let workers = &w.handle.workers;
            workers
                .iter()
                .map(|s| {
                    let ring = s.unpark.ring_fd().map(|fd| (fd, s.unpark.clone()));
                    (Some(s.counters.clone()), ring)
                })
                .collect::<Vec<_>>()
        })
        .ok_or_else(|| io::Error::other("runtime::http::serve awaited outside a runtime"))?;
        let workers = counters.len();
        let listeners = worker_listeners(&self.listener, workers, self.reuse_port)?;
        drop(self.listener);
        let mut http = auto::Builder::new(HyperExecutor);
        http.http1().timer(HyperTimer);
        http.http2().timer(HyperTimer);
        let setup = Setup {
            service: self.service,
            state: Arc::new(Shared::new(counters, self.max_connections)),
            http,
            balance: !self.reuse_port,
            #[cfg(feature = "tls")]
            tls: self.tls,
        };
        let state = setup.state.clone();
        // Dropped before it returns (aborted, or raced in a `select!`), the
        // server still stops accepting and lets its connections finish.
        let _stop = StopOnDrop(state.clone());
        let mut acceptors: Vec<_> = listeners
            .into_iter()
            .enumerate()
            .map(|(i, listener)| {
                if setup.balance && state.ring(i).is_some() {
                    let setup = setup.clone();
                    drop(crate::spawn_on(i, move || receive_loop(i, setup)));
                }
                let setup = setup.clone();
                Some(crate::spawn_on(i, move || accept_loop(i, listener, setup)))
            })
            .collect();
        drop(setup);
        let mut shutdown = self.shutdown;
        let mut failed = None;
        // Until the signal, or until an acceptor ends (a listener error).
        poll_fn(|cx| {
            if let Some(signal) = shutdown.as_mut() {
                if signal.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(());
                }
            }
            for slot in acceptors.iter_mut() {
                let Some(handle) = slot.as_mut() else {
                    continue;
                };
                if let Poll::Ready(res) = Pin::new(handle).poll(cx) {
                    *slot = None;
                    failed = Some(match res {
                        Ok(Err(e)) => e,
                        Ok(Ok(())) => io::Error::other("an acceptor stopped"),
                        Err(e) => io::Error::other(e),
                    });
                    return Poll::Ready(());
                }
            }
            Poll::Pending
        })
        .await;
        state.begin_stop();
        for handle in acceptors.into_iter().flatten() {
            if let Ok(Err(e)) = handle.await {
                failed.get_or_insert(e);
            }
        }
        poll_fn(|cx| state.poll_drained(cx)).await;
        failed.map_or(Ok(()), Err)
    }
}

/// Begins the graceful shutdown when dropped.
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.begin_stop();
    }
}

/// One listener per worker: descriptors of `listener` itself, or (with
/// `reuse_port`) new `SO_REUSEPORT` listeners on its address.
fn worker_listeners(
    listener: &TcpListener,
    workers: usize,
    reuse_port: bool,
) -> io::Result<Vec<TcpListener>> {
    let addr = listener.local_addr()?;
    let mut out = Vec::with_capacity(workers);
    for i in 0..workers {
        out.push(if reuse_port && i > 0 {
            TcpListener::bind_reuseport(addr)?
        } else {
            let fd = std::os::fd::AsFd::as_fd(listener).try_clone_to_owned()?;
            let dup = TcpListener::from_std(std::net::TcpListener::from(fd))?;
            match reuse_port || workers == 1 {
                true => dup,
                false => dup.shared_by_workers(),
            }
        });
    }
    Ok(out)
}
