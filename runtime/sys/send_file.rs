//! One `sendfile(2)` on the calling thread, `SIGPIPE` kept from being
//! delivered: the syscall both `op::SendFile` (epoll, on readiness) and the
//! io_uring transfer loop in `transfer/send_file.rs` (page-cache hits) make.

use std::io;

use super::{cvt, without_sigpipe, SharedFd};

/// One `sendfile` of up to `len` bytes from `offset`, on this thread; the
/// socket must be non-blocking, and on io_uring the range should be in the
/// page cache (epoll attempts it on readiness, accepting a disk wait there).
pub(crate) fn send_file_now(
    sock: &SharedFd,
    file: &SharedFd,
    offset: u64,
    len: u32,
) -> io::Result<u32> {
    let mut off = offset as libc::off_t;
    let res = without_sigpipe(|| {
        // SAFETY: the caller's references keep both fds open; `off` is a
        // local that outlives the call.
        unsafe { libc::sendfile(sock.raw(), file.raw(), &mut off, len as usize) }
    });
    cvt(res)
}
