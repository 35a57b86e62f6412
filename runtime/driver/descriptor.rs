//! What the driver sees of a descriptor ([`Descriptor`]), what
//! one poll of its receive comes to ([`Received`]), and the limits of a
//! worker's receive queues ([`RecvConfig`]). A leaf, so that the drivers and
//! `mod.rs` share these types without importing each other.

use std::os::fd::RawFd;
use std::sync::Arc;

use super::owner::Owner;
use super::source::Source;

/// How a worker's receives queue up (`Builder::recv_buffers` and friends).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecvConfig {
    /// Provided buffers per io_uring worker (a power of two).
    pub(crate) buffers: u16,
    /// Bytes per provided buffer.
    pub(crate) buffer_size: u32,
    /// Unread bytes a socket's queue may hold before its multishot receive
    /// is paused (the rest waits in the kernel's socket buffer).
    pub(crate) max_queued: usize,
    /// Unaccepted connections a listener's queue may hold before its
    /// multishot accept is paused (the rest waits in the kernel's backlog).
    pub(crate) max_conns: usize,
}

impl Default for RecvConfig {
    fn default() -> Self {
        RecvConfig {
            buffers: 256,
            buffer_size: 16 * 1024,
            max_queued: 64 * 1024,
            max_conns: 256,
        }
    }
}

/// A descriptor the receive protocol runs on (`sys::SharedFd`), seen from
/// the driver, which knows nothing of sockets.
pub(crate) trait Descriptor {
    /// The fd number, valid while `self` lives.
    fn raw(&self) -> RawFd;
    /// Tells this descriptor from an earlier one with the same number.
    fn id(&self) -> u64;
    /// Its receive side.
    fn source(&self) -> &Source;
    /// A reference that keeps the descriptor open (and its side alive) for
    /// as long as a multishot holds it.
    fn keep(&self) -> Arc<dyn Owner>;
}

/// What one poll of a receive came to; see `Driver::poll_receive`.
#[derive(Debug)]
pub(crate) enum Received<T> {
    /// Taken from the socket's queue.
    Took(T),
    /// A receive is in a kernel; the caller's waker is parked on the socket.
    Wait,
    /// Nothing queued and nothing in a kernel: the caller starts its own
    /// one-shot receive (on io_uring the socket records it, and reports its
    /// slot with `Driver::oneshot_submitted`).
    Start,
    /// The socket's receive is stuck in the ring of a runtime that is not
    /// running: the read fails with this error (nothing is lost).
    Fail(std::io::Error),
}
