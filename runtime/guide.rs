//! Coming from tokio: what maps to what, what works unchanged, what does
//! not, and the two ideas that differ (owned buffers, cancel safety); then
//! one section per ecosystem piece that panics here, with its replacement,
//! and one on `Send` handlers.
//!
//! This module holds documentation only.
//!
//! # What maps to what
//!
//! | tokio | runtime |
//! |---|---|
//! | `#[tokio::main]`, `#[tokio::test]` | [`#[runtime::main]`](crate::main), [`#[runtime::test]`](crate::test) (a test runs once per driver: `uring` and `epoll`) |
//! | `tokio::spawn` (needs `Send`) | [`spawn`](crate::spawn): a task on the current worker, `!Send` futures welcome |
//! | `tokio::task::spawn_local` | [`spawn`](crate::spawn) |
//! | a task on another thread | [`spawn_on(worker, \|\| fut)`](crate::spawn_on): the closure is `Send`, the future is built there |
//! | `tokio::task::spawn_blocking` | [`spawn_blocking`](crate::spawn_blocking) |
//! | `tokio::task::JoinSet`, `yield_now` | [`task::JoinSet`](crate::task::JoinSet), [`task::yield_now`](crate::task::yield_now) |
//! | `tokio::select!`, `tokio::join!` | the same macros, unchanged |
//! | `tokio::time::{sleep, timeout, interval}` | [`time::{sleep, timeout, interval}`](crate::time), `Send` like tokio's |
//! | `tokio::net::{TcpListener, TcpStream, UdpSocket, UnixStream, …}` | [`net`](crate::net), same names; reads and writes take owned buffers (below) |
//! | `tokio::fs` | [`fs`](crate::fs): positional `read_at`/`write_at` with owned buffers, [`File::read_many`](crate::fs::File::read_many) for many ranges at once, and the path functions |
//! | `tokio::io::{copy, BufReader}` | [`io::copy`](crate::io::copy), [`io::BufReader`](crate::io::BufReader) over owned buffers, or tokio's own over the `tokio-io` feature |
//! | `AsyncRead`/`AsyncWrite` on streams | feature `tokio-io` (tokio's), `futures-io` (futures'), `hyper` (hyper's `rt::Read`/`rt::Write`): implemented on the stream types and halves themselves, see [`io::compat`](crate::io::compat) |
//! | hyper's `TokioExecutor`, `TokioTimer` | feature `hyper`: [`io::compat::HyperExecutor`](crate::io::compat), `HyperTimer` |
//! | `axum::serve` | feature `hyper`: `http::serve(listener, app)`, on every worker (below) |
//! | tower-http's `ServeDir`, `TimeoutLayer` | feature `hyper`: `http::ServeDir`, `http::TimeoutLayer` |
//! | axum's `WebSocketUpgrade` | feature `websocket`: `http::ws::WebSocketUpgrade` |
//! | hyper-util's `HttpConnector`, reqwest | feature `client`: `http::client::Connector` for hyper-util's pooled `Client` |
//!
//! # Works unchanged
//!
//! Anything that only uses wakers works on any executor. Tested in this
//! repository, on both drivers:
//!
//! - `tokio::sync` (`mpsc`, `oneshot`, …), `tokio::select!`;
//! - over the `tokio-io` streams: `tokio::io::{BufReader, copy,
//!   copy_bidirectional, AsyncReadExt, AsyncWriteExt}` and `tokio_util::codec`
//!   (`tests/io_compat.rs`);
//! - hyper 1.x servers and clients, HTTP/1.1 and HTTP/2, axum routers, and
//!   rustls through `tokio-rustls` (`examples/hyper_server.rs`,
//!   `examples/hyper_client.rs`, `tests/hyper_server.rs`);
//! - `futures-io` users such as `futures_util::io::copy` (feature `futures-io`).
//!
//! # Needs tokio's own reactor, and panics here
//!
//! These register with tokio's I/O driver or timer, which only a tokio
//! runtime has: called on a runtime worker they panic ("there is no reactor
//! running" or "must be called from the context of a Tokio runtime").
//!
//! | tokio-only | instead |
//! |---|---|
//! | `tokio::net` | [`runtime::net`](crate::net) (with `tokio-io` for tokio-ecosystem code) |
//! | `tokio::time` | [`runtime::time`](crate::time) |
//! | `tokio::fs` | [`runtime::fs`](crate::fs) |
//! | `tokio::spawn`, `tokio::task::spawn_blocking` | [`spawn`](crate::spawn), [`spawn_blocking`](crate::spawn_blocking) |
//! | `tokio::signal` | [`runtime::signal`](crate::signal): `ctrl_c()`, `unix::signal(SignalKind::terminate())` |
//! | reqwest (built on `tokio::net`) | hyper-util's pooled `Client` with `http::client::Connector` (below) |
//! | `axum::serve`, tower-http's `ServeDir` and `TimeoutLayer`, axum's `WebSocketUpgrade`, hyper-util's `HttpConnector` | the `http` module's own, one section each below |
//!
//! # One name, two methods
//!
//! The streams' own owned-buffer methods (`read`, `write`, `write_all`,
//! `peek`, `shutdown`) win method lookup over the extension traits'. Code
//! that hands a stream to generic tokio code (hyper, `BufReader`, codecs,
//! `copy`) is unaffected; to call an extension method on a stream directly,
//! name the trait:
//!
//! ```no_run
//! # #[cfg(feature = "tokio-io")]
//! # async fn f(mut stream: runtime::net::TcpStream) -> std::io::Result<()> {
//! use tokio::io::AsyncWriteExt;
//! AsyncWriteExt::write_all(&mut stream, b"borrowed bytes").await?; // tokio's
//! let (res, _buf) = stream.write_all(b"owned".to_vec()).await; // runtime's
//! res?;
//! # Ok(())
//! # }
//! ```
//!
//! # Owned buffers in one screen
//!
//! With io_uring the kernel fills or drains a buffer *after* the call that
//! started the operation returned, so the native methods take the buffer by
//! value and hand it back with the result, whatever happened:
//!
//! ```no_run
//! use runtime::buf::IoBuf;
//! # async fn f(stream: runtime::net::TcpStream) -> std::io::Result<()> {
//! let buf = Vec::with_capacity(4096); // capacity is what a read may fill
//! let (res, buf) = stream.read(buf).await; // the buffer goes in and comes back
//! let n = res?; // `buf.len()` grew by `n`
//! let (res, buf) = stream.write_all(buf.slice(..n)).await; // a view of the first n bytes
//! res?;
//! let mut buf = buf.into_inner(); // the whole Vec again, to reuse
//! buf.clear();
//! # Ok(())
//! # }
//! ```
//!
//! - A future dropped mid-operation leaves its buffer with the driver until
//!   the kernel lets go; it is never freed while the kernel may write it.
//! - `Vec<u8>`, `Box<[u8]>`, `&'static [u8]`, `String` and the aligned
//!   buffer of [`buf`](crate::buf) are buffers; `.slice(range)` lends part of
//!   one without copying.
//! - The compat traits take `&mut [u8]` as tokio does: the `tokio-io`,
//!   `futures-io` and `hyper` bridges receive straight into the caller's
//!   slice inside the poll that returns the bytes, so no owned buffer is
//!   involved (and nothing is copied).
//!
//! # Cancel safety
//!
//! Every I/O method's docs have a "Cancel safety" section, as tokio's do. In
//! short:
//!
//! - **Reads, receives, accepts, `readable()`** are cancel safe on both
//!   drivers: bytes, datagrams and connections are taken only by the poll
//!   that returns them, so a future dropped by `select!` or a timeout loses
//!   nothing. The same holds for `poll_read` in the three bridges, so
//!   `tokio::io::BufReader::lines()` and `tokio_util` codecs under `select!`
//!   lose no line.
//! - **Writes** are not: dropped midway, an unknown prefix may have been
//!   sent. Use `.timeout(d)` on the write future to bound it and still learn
//!   the count. The bridges' `poll_write` is one non-blocking `send`: an
//!   error is reported by that write, there is nothing to flush, and
//!   `poll_shutdown` shuts the write side down.
//!
//! # `Send` handlers
//!
//! axum asks for `Send` handler futures. The futures of
//! [`fs`](crate::fs), [`net`](crate::net) and [`time`](crate::time) are
//! `Send` whenever their buffers are (`Vec<u8>`, `String`, `Box<[u8]>`,
//! `&'static [u8]`, the aligned buffers), so a handler awaits them directly:
//!
//! ```no_run
//! # #[cfg(feature = "hyper")]
//! # mod handler {
//! use std::time::Duration;
//! use axum::http::StatusCode;
//!
//! async fn motd() -> Result<String, StatusCode> {
//!     runtime::time::sleep(Duration::from_millis(5)).await;
//!     runtime::fs::read_to_string("/etc/motd")
//!         .await
//!         .map_err(|_| StatusCode::NOT_FOUND)
//! }
//! # fn app() -> axum::Router { axum::Router::new().route("/motd", axum::routing::get(motd)) }
//! # }
//! ```
//!
//! Nothing moves between threads for this: each connection is a task on
//! one worker, and its handler's futures are polled there. A future moved
//! anyway keeps the op rules: polled on another worker it carries on if no
//! kernel holds it and panics with a clear message if one does; dropped on
//! another thread, its own driver takes it back and cancels it there, and
//! its buffer is freed only after the kernel let go. What stays `!Send` is
//! what holds an `Rc`: a registered [`FixedBuf`](crate::buf::FixedBuf), a
//! [`signal::unix::Signal`](crate::signal::unix::Signal); await those in a
//! task ([`spawn`](crate::spawn)) and await its `JoinHandle`, which is
//! `Send` when the output is.
//!
//! # `axum::serve`: `http::serve`
//!
//! `axum::serve` accepts with `tokio::net` and spawns with `tokio::spawn`:
//! called on a runtime worker it panics, and the panic takes the process
//! down. `http::serve` (feature `hyper`) serves the same router on every
//! worker, HTTP/1.1 and HTTP/2, with graceful shutdown, a connection limit,
//! TLS (feature `tls`) and connections spread by load:
//!
//! ```no_run
//! # #[cfg(feature = "hyper")]
//! # mod serve {
//! use axum::{routing::get, Router};
//!
//! #[runtime::main(workers = 4)]
//! async fn main() -> std::io::Result<()> {
//!     let app = Router::new().route("/", get(|| async { "Hello, world!" }));
//!     let listener = runtime::net::TcpListener::bind("127.0.0.1:3000")?;
//!     runtime::http::serve(listener, app)
//!         .with_graceful_shutdown(async { drop(runtime::signal::ctrl_c().await) })
//!         .await
//! }
//! # }
//! # fn main() {}
//! ```
//!
//! # tower-http's `ServeDir`: `http::ServeDir`
//!
//! tower-http's `ServeDir` reads with `tokio::fs` and panics here.
//! `http::ServeDir::new(dir)?` is the same tower service on runtime's `fs`,
//! with the file server's rules (ETags and conditionals, ranges,
//! precompressed siblings, nothing outside `dir`):
//! `Router::new().nest_service("/static", ServeDir::new("public")?)`.
//!
//! # tower-http's `TimeoutLayer`: `http::TimeoutLayer`
//!
//! tower-http's `TimeoutLayer` sleeps with `tokio::time` and panics here.
//! `.layer(http::TimeoutLayer::new(Duration::from_secs(10)))` answers
//! `408 Request Timeout` on runtime's timers.
//!
//! # axum's `WebSocketUpgrade`: `http::ws::WebSocketUpgrade`
//!
//! axum's extractor spawns the socket's task with `tokio::spawn` and panics
//! here. `http::ws::WebSocketUpgrade` (feature `websocket`) is a drop-in
//! extractor: `ws.on_upgrade(|socket| async move { … })`, the socket being
//! tokio-tungstenite's stream of `Message`s, on the current worker.
//!
//! # hyper-util's `HttpConnector` and reqwest: `http::client::Connector`
//!
//! Both connect with `tokio::net` and panic here. hyper-util's pooled
//! `Client` takes `http::client::Connector` (feature `client`; HTTPS with
//! `Connector::tls(rustls_config)`, feature `tls`):
//!
//! ```no_run
//! # #[cfg(feature = "client")]
//! # async fn f() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use http_body_util::Empty;
//! use hyper::body::Bytes;
//! use hyper_util::client::legacy::Client;
//! use runtime::io::compat::{HyperExecutor, HyperTimer};
//!
//! let client: Client<_, Empty<Bytes>> = Client::builder(HyperExecutor)
//!     .pool_timer(HyperTimer)
//!     .build(runtime::http::client::Connector::new());
//! let res = client.get("http://127.0.0.1:3000/".parse()?).await?;
//! # Ok(())
//! # }
//! ```
//!
//! `examples/axum_app.rs` puts all of these in one application;
//! `examples/pooled_client.rs` shares one client between workers.
//!
//! # hyper by hand
//!
//! `TcpStream` is hyper's `rt::Read + rt::Write` as it is (feature `hyper`),
//! so hyper's own connection builders take it with no wrapper, as in
//! `examples/hyper_server.rs` (one `SO_REUSEPORT` listener per worker).
