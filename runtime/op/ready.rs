//! Readiness for code that makes its own non-blocking syscalls: poll-based
//! streams (the tokio, futures and hyper bridges) and `readable()`.
//!
//! The syscall runs on the worker inside the poll that returns its result,
//! so a caller that stops polling loses nothing: what the kernel holds stays
//! in the socket.

use std::io;
use std::task::{Context, Poll};

use super::future::no_runtime;
use crate::context;
use crate::driver::Interest;
use crate::sys::SharedFd;

/// Runs `io` (a non-blocking syscall on `fd`) once `fd` may be ready for
/// `interest`: `Ready` with its result, or `Pending` until the next edge.
/// Outside a runtime, `Ready` with an error.
#[allow(dead_code)] // the poll-based stream bridges use it
pub(crate) fn poll_io<R>(
    fd: &SharedFd,
    interest: Interest,
    cx: &mut Context<'_>,
    io: impl FnOnce() -> io::Result<R>,
) -> Poll<io::Result<R>> {
    fd.ensure_nonblocking();
    let polled = context::with_current(|worker| {
        worker
            .driver
            .borrow_mut()
            .poll_io(fd.raw(), fd.id(), interest, cx, io)
    });
    polled.unwrap_or_else(|| Poll::Ready(Err(no_runtime())))
}

/// Ready once `fd` may have data to read, end of stream or an error to
/// report. An event since the last short read answers without a syscall;
/// an fd not yet seen is asked with a one-byte `MSG_PEEK`, which takes nothing.
pub(crate) fn poll_readable(fd: &SharedFd, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    fd.ensure_nonblocking();
    let probe = || {
        let mut byte = 0u8;
        // SAFETY: peeks at most one byte into a local the call may write.
        let res = unsafe {
            libc::recv(
                fd.raw(),
                (&mut byte as *mut u8).cast(),
                1,
                libc::MSG_PEEK | libc::MSG_DONTWAIT,
            )
        };
        match crate::sys::cvt(res as isize) {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(e),
            // Data, end of stream, or an error the read will report.
            _ => Ok(()),
        }
    };
    let polled = context::with_current(|worker| {
        worker
            .driver
            .borrow_mut()
            .poll_ready(fd.raw(), fd.id(), Interest::Readable, cx, probe)
    });
    polled.unwrap_or_else(|| Poll::Ready(Err(no_runtime())))
}
