//! Bridges to the poll-based ecosystem, each behind its cargo feature.
//!
//! - `hyper`: [`HyperExecutor`] and [`HyperTimer`], hyper 1.x's runtime
//!   pieces (`hyper::rt::Executor` and `hyper::rt::Timer`) on this runtime.
//! - `tokio-io`, `futures-io`: the poll-based I/O traits for the streams
//!   (declared; the wrappers come with the stream compat work).

#[cfg(feature = "hyper")]
mod hyper_rt;

#[cfg(feature = "hyper")]
pub use hyper_rt::{HyperExecutor, HyperTimer};
