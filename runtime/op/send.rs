//! `send(2)` from an owned buffer, always with `MSG_NOSIGNAL`.
//!
//! Sockets use send rather than write: a write (or `IORING_OP_WRITE`) to a
//! socket whose peer has gone raises `SIGPIPE`, which kills the process by
//! default. With `MSG_NOSIGNAL` the caller gets `EPIPE` instead.

use std::io;
use std::os::fd::RawFd;

use io_uring::{opcode, squeue, types::Fd};

use super::{cvt, io_len, Attempt, Interest, Op, Operation, SharedFd};
use crate::buf::{BufResult, IoBuf};

/// A send of `buf`'s initialised bytes.
#[derive(Debug)]
pub(crate) struct Send<B> {
    /// Keeps the socket open until the kernel lets go.
    fd: SharedFd,
    /// What the kernel reads; returned to the caller.
    buf: B,
    /// `MSG_*` flags; `MSG_NOSIGNAL` is always added.
    flags: libc::c_int,
    /// A stream socket, where a short send means the send buffer is full.
    stream: bool,
}

impl<B: IoBuf> Op<Send<B>> {
    /// Sends `buf` with `flags | MSG_NOSIGNAL`.
    pub(crate) fn send(fd: &SharedFd, buf: B, flags: libc::c_int) -> Self {
        Op::new(Send {
            fd: fd.clone(),
            buf,
            flags: flags | libc::MSG_NOSIGNAL,
            stream: false,
        })
    }

    /// Sends on a stream socket (TCP, Unix stream).
    pub(crate) fn send_stream(fd: &SharedFd, buf: B, flags: libc::c_int) -> Self {
        Op::new(Send {
            fd: fd.clone(),
            buf,
            flags: flags | libc::MSG_NOSIGNAL,
            stream: true,
        })
    }
}

// SAFETY: the entry points only into `buf`'s memory, which `IoBuf` keeps
// where it is wherever the op moves (so the op may run in place).
unsafe impl<B: IoBuf> Operation for Send<B> {
    type Output = BufResult<usize, B>;

    const IN_PLACE: bool = true;

    fn uring_entry(&mut self) -> squeue::Entry {
        let len = io_len(self.buf.bytes_init());
        opcode::Send::new(Fd(self.fd.raw()), self.buf.stable_ptr(), len)
            .flags(self.flags)
            .build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        self.fd.ensure_nonblocking();
        let (ptr, len) = (self.buf.stable_ptr(), self.buf.bytes_init());
        // SAFETY: `ptr` is valid for `len` initialised bytes (IoBuf contract).
        let res = cvt(unsafe { libc::send(self.fd.raw(), ptr.cast(), len, self.flags) });
        let asked = if self.stream { len } else { 0 };
        Attempt::from_stream_syscall(res, asked, self.fd.raw(), self.fd.id(), Interest::Writable)
    }

    fn epoll_target(&self) -> Option<(RawFd, u64, Interest)> {
        Some((self.fd.raw(), self.fd.id(), Interest::Writable))
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        (res.map(|n| n as usize), self.buf)
    }
}
