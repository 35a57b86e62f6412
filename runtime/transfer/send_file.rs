//! `sendfile(2)`: file → socket without a copy through user space, and the
//! transfer loop `send_file` that both drivers share.
//!
//! This is the one place that picks a syscall sequence by driver. io_uring has
//! no sendfile opcode, and its `IORING_OP_SPLICE` always runs on an io-wq
//! thread (two hand-offs per round through a pipe). So on io_uring the worker
//! asks `cachestat(2)` whether the range is in the page cache, and if so calls
//! `sendfile` itself on the non-blocking socket, waiting for room with
//! `IORING_OP_POLL_ADD`: the pages are there (barring an eviction since the
//! check), and no kernel thread is involved. A range that is not resident (or
//! a kernel without cachestat) goes through a pipe (`pipe.rs`): file → pipe
//! on io-wq, which may wait on the disk, then pipe → socket inline. On epoll,
//! sendfile on readiness: a pipe would need two readiness waits per round
//! where sendfile needs one.
//!
//! Neither sendfile nor splice takes `MSG_NOSIGNAL`: writing to a socket whose
//! peer has gone raises `SIGPIPE`. io_uring runs splices on its io-wq threads,
//! which block every signal; the syscalls made here run under
//! `sys::without_sigpipe`, which keeps a `SIGPIPE` they raise from being delivered.

use std::io;

use super::{cachestat, pipe};
use crate::op::{Interest, Op, PollAdd};
use crate::sys::{io_len, send_file_now, SharedFd};
use crate::DriverKind;

/// The most bytes one residency check vouches for (and so one inline
/// `sendfile` asks for): checking costs a walk over the range's pages, and a
/// huge file may be cached in part.
const CHECK_SPAN: u64 = 4 << 20;

/// Sends up to `len` bytes of `file` from `offset` to the socket `sock`,
/// looping over partial transfers until `len` bytes are sent or the file
/// ends; returns the bytes sent.
///
/// # Errors
///
/// `InvalidInput` if `offset` exceeds `i64::MAX`; otherwise the kernel's
/// error (`BrokenPipe` or `ConnectionReset` if the peer went away), after
/// which some bytes may have been sent.
pub(crate) async fn send_file(
    sock: &SharedFd,
    file: &SharedFd,
    offset: u64,
    len: u64,
) -> io::Result<u64> {
    if i64::try_from(offset).is_err() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "send_file offset exceeds i64::MAX",
        ));
    }
    if len == 0 {
        return Ok(0);
    }
    if crate::driver_kind() == DriverKind::Uring {
        return send_file_uring(sock, file, offset, len).await;
    }
    let mut sent = 0u64;
    while sent < len {
        let want = io_len(usize::try_from(len - sent).unwrap_or(usize::MAX));
        match Op::send_file(sock, file, offset + sent, want).await {
            Ok(0) => break, // end of file
            Ok(n) => sent += u64::from(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// io_uring's transfer loop: inline `sendfile` while the range is in the page
/// cache, a pipe round (file → pipe on io-wq) for a part that is not.
///
/// Residency is checked again after every wait for the socket (time passed,
/// pages may have gone) and after every pipe round (readahead may have
/// brought the rest in); see `cachestat.rs` for how recent an answer may be
/// reused. Eviction between a check and the `sendfile` can still make the
/// worker wait for the disk.
async fn send_file_uring(
    sock: &SharedFd,
    file: &SharedFd,
    offset: u64,
    len: u64,
) -> io::Result<u64> {
    sock.ensure_nonblocking();
    let mut sent = 0u64;
    // Bytes the last check vouched for, from `offset + sent`.
    let mut resident = 0u64;
    while sent < len {
        let pos = offset + sent;
        if resident == 0 {
            let mut span = (len - sent).min(CHECK_SPAN);
            // The size bounds the check: pages past the end of the file do
            // not exist, so a range reaching past it (`len` of u64::MAX, "to
            // the end") would never count as resident. At or past the size,
            // the pipe finds out (a /proc file says 0 but has bytes).
            let stx = crate::op::statx_fd_cached(file).ok();
            let size = stx.as_ref().map_or(u64::MAX, |s| s.stx_size);
            span = span.min(size.saturating_sub(pos));
            if span == 0 || !cachestat::is_resident(file, stx.as_ref(), pos, span) {
                match pipe::send_through_pipe(sock, file, pos, len - sent).await? {
                    0 => break, // end of file
                    n => sent += n,
                }
                continue;
            }
            resident = span;
        }
        let want = io_len(usize::try_from(resident).unwrap_or(usize::MAX));
        match send_file_now(sock, file, pos, want) {
            Ok(0) => break, // end of file
            Ok(n) => {
                sent += u64::from(n);
                resident -= u64::from(n).min(resident);
                if n < want {
                    // Short: the socket buffer is full (or the file ended,
                    // which the next call reports after a wasted poll).
                    Op::<PollAdd>::poll_add(sock, Interest::Writable).await?;
                    resident = 0;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                Op::<PollAdd>::poll_add(sock, Interest::Writable).await?;
                resident = 0;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}
