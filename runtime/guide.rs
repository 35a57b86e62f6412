//! Coming from tokio: what maps to what, what works unchanged, what does
//! not, and the two ideas that differ (owned buffers, cancel safety).
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
//! | reqwest (built on `tokio::net`) | hyper's client over a runtime `TcpStream` (`examples/hyper_client.rs`; tokio-rustls for HTTPS), or a tokio runtime on its own thread, talked to through `tokio::sync` channels |
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
//! # hyper and axum in ten lines
//!
//! Features `hyper` (and `tokio-io` for TLS), with `axum` and `hyper-util`
//! (`server-auto`, `service`) as dependencies. `TcpStream` is hyper's
//! `rt::Read + rt::Write` as it is: no wrapper. `examples/hyper_server.rs`
//! adds workers, HTTPS and more routes.
//!
//! ```no_run
//! # #[cfg(feature = "hyper")]
//! # mod quick_start {
//! use axum::{routing::get, Router};
//! use hyper_util::{server::conn::auto, service::TowerToHyperService};
//! use runtime::{io::compat::HyperExecutor, net::TcpListener};
//!
//! #[runtime::main]
//! async fn main() -> std::io::Result<()> {
//!     let app = Router::new().route("/", get(|| async { "Hello, world!" }));
//!     let app = TowerToHyperService::new(app);
//!     let listener = TcpListener::bind("127.0.0.1:3000")?;
//!     loop {
//!         let (stream, _) = listener.accept().await?;
//!         let (app, http) = (app.clone(), auto::Builder::new(HyperExecutor));
//!         drop(runtime::spawn(async move { http.serve_connection(stream, app).await }));
//!     }
//! }
//! # }
//! # fn main() {}
//! ```
