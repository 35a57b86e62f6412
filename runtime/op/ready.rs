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

/// Runs `io`, a non-blocking transfer of up to `asked` bytes on `fd`, once
/// `fd` may be ready for `interest`: `Ready` with the count, or `Pending`
/// until the next edge. A short transfer is remembered, so the next call
/// waits for an edge instead of a syscall bound to fail. Outside a runtime,
/// `Ready` with an error.
#[cfg_attr(
    not(any(feature = "tokio-io", feature = "futures-io", feature = "hyper")),
    allow(dead_code)
)]
pub(crate) fn poll_transfer(
    fd: &SharedFd,
    interest: Interest,
    asked: usize,
    cx: &mut Context<'_>,
    io: impl FnOnce() -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    fd.ensure_nonblocking();
    let polled = context::with_current(|worker| {
        worker
            .driver
            .borrow_mut()
            .poll_transfer(fd.raw(), fd.id(), interest, asked, cx, io)
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
