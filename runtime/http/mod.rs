//! HTTP on every worker (feature `hyper`): [`serve`] runs a tower service
//! (an axum `Router`) over hyper on all the runtime's workers, spreading
//! accepted connections by load, with graceful shutdown, a connection limit
//! and TLS (feature `tls`); [`ServeDir`] serves static files and
//! [`TimeoutLayer`] bounds a request, on the runtime's `fs` and timers
//! (tower-http's `ServeDir` and `TimeoutLayer` panic here: they need tokio's).
//!
//! # Connections spread by load
//!
//! Every worker accepts from the one listener. The worker that accepts a
//! connection hands it to the worker with the fewest live connections, or
//! keeps it when it has the fewest itself. On io_uring the descriptor goes
//! to the target's ring with `IORING_OP_MSG_RING`; on epoll the connection's
//! task goes to the target's inbox (the stream is `Send`). A worker busy with a long task accepts nothing meanwhile, and one
//! that has left a connection handed to it unstarted for 20 ms without a
//! loop turn gets no more while another keeps up. [`Serve::reuse_port`] gives each worker its own
//! `SO_REUSEPORT` listener instead, with no hand-off.
//!
//! # Handlers
//!
//! Each connection is a task on its worker, so neither the service's
//! futures nor the bodies need be `Send`; axum still asks for `Send`
//! handlers, and the futures of `runtime::fs`, `net` and `time` are `Send`
//! where their buffers are, so handlers await them directly.

mod accept;
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub mod client;
mod conn;
mod files;
mod serve;
mod state;
mod timeout;
#[cfg(feature = "tls")]
mod tls_io;
#[cfg(feature = "websocket")]
#[cfg_attr(docsrs, doc(cfg(feature = "websocket")))]
pub mod ws;

pub use files::{FileBody, ServeDir, ServeDirFuture};
pub use serve::{serve, Serve, ServeService};
pub use timeout::{Timeout, TimeoutFuture, TimeoutLayer};
