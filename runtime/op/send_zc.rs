//! `IORING_OP_SEND_ZC`: a stream send from an owned buffer that the kernel
//! reads in place rather than copying (io_uring, Linux 6.0+; epoll sends
//! plainly). `write_all` uses it above the worker's threshold
//! (`Builder::send_zerocopy_threshold`).
//!
//! The kernel reads the buffer until its notification, after the send's
//! result: the op completes only then (`driver/uring_zc.rs`), so the buffer
//! goes back to the caller, or is freed if the future was dropped, once the
//! kernel let go of it.

use std::io;
use std::os::fd::RawFd;

use io_uring::{opcode, squeue, types::Fd};

use super::{cvt, io_len, Attempt, Interest, Op, Operation, SharedFd};
use crate::buf::{BufResult, IoBuf};

/// `IORING_SEND_ZC_REPORT_USAGE` (uapi `io_uring.h`): the notification says
/// whether the kernel copied the bytes after all.
const REPORT_USAGE: u16 = 1 << 3;

/// A zero-copy send of every initialised byte of `buf` on a stream socket.
#[derive(Debug)]
pub(crate) struct SendZc<B> {
    /// Keeps the socket open until the kernel lets go.
    fd: SharedFd,
    /// What the kernel reads, until the notification; returned to the caller.
    buf: B,
    /// `REPORT_USAGE` where the kernel takes it (Linux 6.2+), for the
    /// `sends_zerocopy_copied` metric.
    zc_flags: u16,
}

impl<B: IoBuf> Op<SendZc<B>> {
    /// Sends all of `buf` (short only on error), zero-copy on io_uring.
    pub(crate) fn send_zc(fd: &SharedFd, buf: B) -> Self {
        let report = crate::driver::detect::send_zc_report_usage_supported();
        Op::new(SendZc {
            fd: fd.clone(),
            buf,
            zc_flags: if report { REPORT_USAGE } else { 0 },
        })
    }
}

/// Whether a send of `len` bytes on `fd` from this worker goes zero-copy:
/// its driver sends zero-copy from `len` bytes up, and `fd` never refused.
pub(crate) fn zerocopy_for(fd: &SharedFd, len: usize) -> bool {
    if !fd.zerocopy_sends() {
        return false;
    }
    let min = super::try_with_driver(|d| d.send_zerocopy_min());
    min.flatten().is_some_and(|min| len >= min)
}

/// Whether a zero-copy send that failed with `e` should be made again as a
/// plain send: the socket does not take zero-copy sends (`EOPNOTSUPP`,
/// Unix sockets), or the pages could not be pinned (`ENOMEM`, past
/// `RLIMIT_MEMLOCK`).
pub(crate) fn copy_instead(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EOPNOTSUPP | libc::ENOMEM))
}

// SAFETY: the entry points only into `buf`'s memory, which `IoBuf` keeps
// where it is wherever the op moves (so the op may run in place), and the
// op completes only on the notification that the kernel stopped reading it.
unsafe impl<B: IoBuf> Operation for SendZc<B> {
    type Output = BufResult<usize, B>;

    const IN_PLACE: bool = true;

    fn uring_entry(&mut self) -> squeue::Entry {
        let len = io_len(self.buf.bytes_init());
        // MSG_WAITALL: the kernel sends it all under one notification,
        // waiting for room as needed, rather than a short count that the
        // caller would await the notification of before sending the rest.
        opcode::SendZc::new(Fd(self.fd.raw()), self.buf.stable_ptr(), len)
            .flags(libc::MSG_NOSIGNAL | libc::MSG_WAITALL)
            .zc_flags(self.zc_flags)
            .build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        self.fd.ensure_nonblocking();
        let (ptr, len) = (self.buf.stable_ptr(), self.buf.bytes_init());
        // SAFETY: `ptr` is valid for `len` initialised bytes (IoBuf contract).
        let res = cvt(unsafe { libc::send(self.fd.raw(), ptr.cast(), len, libc::MSG_NOSIGNAL) });
        Attempt::from_stream_syscall(res, len, self.fd.raw(), self.fd.id(), Interest::Writable)
    }

    fn epoll_target(&self) -> Option<(RawFd, u64, Interest)> {
        Some((self.fd.raw(), self.fd.id(), Interest::Writable))
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        if matches!(&res, Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP)) {
            self.fd.refuse_zerocopy_sends();
        }
        (res.map(|n| n as usize), self.buf)
    }
}
