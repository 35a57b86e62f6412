//! `runtime`: a proactor-style async runtime for Linux on io_uring, with an
//! epoll driver behind the same API wherever io_uring is unavailable.
//!
//! # Quick start
//!
//! ```
//! #[runtime::main]
//! async fn main() {
//!     let h = runtime::spawn(async { 40 + 2 });
//!     runtime::time::sleep(std::time::Duration::from_millis(10)).await;
//!     assert_eq!(h.await.unwrap(), 42);
//! }
//! ```
//!
//! # Owned buffers
//!
//! With io_uring the kernel reads and writes your buffer *after* the call
//! that started the operation returned, possibly after the future was
//! dropped. So I/O methods take buffers by value and give them back with the
//! result, as a [`buf::BufResult`]: `let (res, buf) = stream.read(buf).await;`.
//! A future dropped mid-operation leaves its buffer with the driver until the
//! kernel lets go; it is never freed while the kernel may still write it.
//!
//! # Closing
//!
//! Dropping a file or socket closes it once no operation in flight uses it
//! (each holds a reference to the descriptor), so a drop is always safe but
//! cannot report an error. [`fs::File::close`] closes through the driver and
//! returns the kernel's answer, which matters where errors surface at close
//! (NFS): `file.close().await?`.
//!
//! # Coming from tokio
//!
//! `tokio::sync`, `tokio::select!`, tokio-util codecs, hyper, axum and
//! rustls work here (the last three through the `hyper` and `tokio-io`
//! features, which implement the poll-based I/O traits on the streams
//! themselves); `tokio::net`, `tokio::time`, `tokio::fs`, `tokio::signal`,
//! `axum::serve`, tower-http's `ServeDir` and `TimeoutLayer`, axum's
//! `WebSocketUpgrade` and reqwest need tokio's own reactor and panic. The
//! [`guide`] maps one to the other (the `http` module, feature `hyper`, has
//! a replacement for each), explains cancel safety and `Send` handlers.
//!
//! # Features
//!
//! - `tokio-io`, `futures-io`: those crates' `AsyncRead`/`AsyncWrite` on the
//!   streams ([`io::compat`]).
//! - `hyper`: hyper's runtime pieces, and `http`: `serve` on every worker,
//!   `ServeDir`, `TimeoutLayer`.
//! - `tls` (HTTPS for `http::serve` and the client, rustls), `websocket`
//!   (`http::ws`), `client` (`http::client::Connector` for hyper-util's
//!   pooled `Client`).
//!
//! # Threads and drivers
//!
//! Each worker thread owns one driver and runs its own tasks: `spawn` keeps a
//! task on the current worker (its future need not be `Send`), `spawn_on`
//! starts one on another worker. [`driver_info()`] says which driver each
//! worker runs and why. Set `RUNTIME_DRIVER=epoll` (or `uring`) to override the
//! automatic choice.
//!
//! # Cancel safety
//!
//! Received data belongs to the socket, not to the future that asked for it:
//! on io_uring the kernel receives and accepts into the socket's own queue,
//! on epoll receives and accepts follow readiness, and either way bytes,
//! datagrams or connections leave the socket only in the poll that returns
//! them, so a read dropped by `select!`, a timeout or an abort loses nothing. Each I/O
//! method's docs say what dropping it means; a dropped write may still have
//! sent part of its buffer.
//!
//! # Design
//!
//! `driver/` is a leaf layer: io_uring and epoll behind one `Driver`, the op
//! lifecycle in slots that hold raw pointers until the kernel lets go, each
//! socket's receive side (what the kernel received for it, queued for the
//! next read), the epoll driver's readiness registry, and an `Unpark` handle
//! through which other threads (and the blocking pool) reach a worker. `op/` holds
//! the `Op` future and one file per kernel operation, `sys/` descriptor and
//! address plumbing, `transfer/` the send-file algorithms; the executor,
//! timers, `net` and `fs` sit above, and nothing above the driver names a
//! driver. An op started on one runtime and polled on another panics with a
//! message saying so if a kernel holds it, and carries on if it only waits
//! for readiness; it never reaches another driver's slot.
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
// docs.rs builds with `--cfg docsrs` (Cargo.toml's metadata): feature notes.
#![cfg_attr(docsrs, feature(doc_cfg))]

// The macros expand to `::runtime::…`; this lets the crate's own tests use them.
extern crate self as runtime;

mod blocking;
mod builder;
mod context;
pub(crate) mod driver;
mod executor;
mod metrics;
pub(crate) mod op;
mod report;
mod sys;
mod transfer;
mod workers;
mod yielding;

pub mod buf;
#[path = "../fs/mod.rs"]
pub mod fs;
pub mod guide;
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub mod http;
pub mod io;
#[path = "../net/mod.rs"]
pub mod net;
pub mod signal;
pub mod time;

/// Tasks: spawning, joining, yielding.
pub mod task {
    pub use crate::executor::{
        spawn, spawn_blocking, spawn_on, AbortHandle, JoinError, JoinHandle, JoinSet,
    };
    pub use crate::yielding::{consume_budget, yield_now, YieldNow};
}

#[doc(hidden)]
pub mod __private;

pub use builder::Builder;
pub use driver::DriverKind;
pub use executor::{spawn, spawn_blocking, spawn_on, JoinError, JoinHandle};
pub use report::{driver_info, driver_kind, metrics, DriverInfo, WorkerMetrics};
pub use runtime_macros::{main, test};
pub use workers::{block_on, Runtime};
