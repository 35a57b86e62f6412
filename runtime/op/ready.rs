//! `readable()`: waiting for a socket to have something to read without
//! taking it (or holding a buffer meanwhile).

use std::io;
use std::task::{Context, Poll};

use super::op_future::no_runtime;
use crate::sys::SharedFd;

/// Ready once `fd` has data to read, end of stream or an error to report:
/// on io_uring once its receive queue holds something (an idle socket arms
/// its multishot receive, which takes no buffer until bytes arrive); on
/// epoll an event since the last short read answers without a syscall, and
/// an fd not yet seen is asked with a one-byte `MSG_PEEK`, which takes nothing.
/// `stream`: io_uring may arm the socket's multishot receive meanwhile (a
/// listener gets a plain poll).
pub(crate) fn poll_readable(
    fd: &SharedFd,
    stream: bool,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    let probe = || {
        fd.ensure_nonblocking();
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
    let polled = super::with_driver(|driver| driver.poll_readable(fd, stream, cx, probe));
    polled.unwrap_or_else(|| Poll::Ready(Err(no_runtime())))
}
