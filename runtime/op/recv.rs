//! `recv(2)` into an owned buffer (sockets; `MSG_PEEK` for peeking).

use std::io;
use std::os::fd::RawFd;

use io_uring::{opcode, squeue, types::Fd};

use super::{cvt, io_len, Attempt, Interest, Op, Operation, SharedFd};
use crate::buf::{BufResult, IoBufMut};

/// A receive into `buf`, from its start, up to its total capacity.
#[derive(Debug)]
pub(crate) struct Recv<B> {
    /// Keeps the socket open until the kernel lets go.
    fd: SharedFd,
    /// Where the kernel writes; returned to the caller.
    buf: B,
    /// `MSG_*` flags, such as `MSG_PEEK`.
    flags: libc::c_int,
    /// A stream socket, where a short read means the socket is empty (not
    /// so for datagrams: a short datagram says nothing of the next one).
    stream: bool,
}

impl<B: IoBufMut> Op<Recv<B>> {
    /// Receives into `buf` with `flags`.
    pub(crate) fn recv(fd: &SharedFd, buf: B, flags: libc::c_int) -> Self {
        Op::new(Recv {
            fd: fd.clone(),
            buf,
            flags,
            stream: false,
        })
    }

    /// Receives from a stream socket (TCP, Unix stream) into `buf`.
    pub(crate) fn recv_stream(fd: &SharedFd, buf: B, flags: libc::c_int) -> Self {
        Op::new(Recv {
            fd: fd.clone(),
            buf,
            flags,
            stream: true,
        })
    }
}

impl<B> Recv<B> {
    /// A real read of a stream socket, after which a short count means the
    /// socket is empty (a peek leaves the data where it was).
    fn drains(&self) -> bool {
        self.stream && self.flags & libc::MSG_PEEK == 0
    }
}

// SAFETY: the entry points only into `buf`, whose address `IoBufMut` keeps stable.
unsafe impl<B: IoBufMut> Operation for Recv<B> {
    type Output = BufResult<usize, B>;

    /// Only for a descriptor that cannot be polled (see `readiness`).
    fn uring_entry(&mut self) -> squeue::Entry {
        let len = io_len(self.buf.bytes_total());
        opcode::Recv::new(Fd(self.fd.raw()), self.buf.stable_mut_ptr(), len)
            .flags(self.flags)
            .build()
    }

    /// Received bytes stay in the socket until a poll takes them.
    fn readiness(&self) -> bool {
        true
    }

    fn epoll_attempt(&mut self) -> Attempt {
        self.fd.ensure_nonblocking();
        let (ptr, len) = (self.buf.stable_mut_ptr(), self.buf.bytes_total());
        // SAFETY: `ptr` is valid for `len` writable bytes (IoBufMut contract).
        let res = cvt(unsafe { libc::recv(self.fd.raw(), ptr.cast(), len, self.flags) });
        // A peek leaves the data where it was: only a short real read drains.
        let asked = if self.drains() { len } else { 0 };
        Attempt::from_stream_syscall(res, asked, self.fd.raw(), self.fd.id(), Interest::Readable)
    }

    fn epoll_target(&self) -> Option<(RawFd, u64, Interest)> {
        Some((self.fd.raw(), self.fd.id(), Interest::Readable))
    }

    fn complete(mut self, res: io::Result<u32>) -> Self::Output {
        if let Ok(n) = res {
            // SAFETY: the kernel initialised the first `n` bytes of `buf`.
            unsafe { self.buf.set_init(n as usize) };
        }
        (res.map(|n| n as usize), self.buf)
    }
}
