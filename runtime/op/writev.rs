//! `pwritev(2)`: one positional write gathered from several owned buffers.

use std::io;

use io_uring::{opcode, squeue, types::Fd};

use super::{attempt_write, cvt, Attempt, Op, Operation, SharedFd};
use crate::buf::{BufResult, IoBuf};
use crate::sys::IoVecs;

/// A write of `bufs`' initialised bytes, in order, at `offset` (`fs::File::writev_at`).
pub(crate) struct Writev<B> {
    /// Keeps the descriptor open until the kernel lets go.
    fd: SharedFd,
    /// What the kernel reads; returned to the caller.
    bufs: Vec<B>,
    /// One entry per buffer, pointing at its (stable) memory; boxed so the
    /// kernel's pointer to the array stays put.
    iovecs: Box<[libc::iovec]>,
    /// Where in the file the write starts (the file position is neither used nor moved).
    offset: u64,
}

impl<B> std::fmt::Debug for Writev<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writev")
            .field("fd", &self.fd)
            .field("bufs", &self.bufs.len())
            .field("offset", &self.offset)
            .finish()
    }
}

impl<B: IoBuf> Op<Writev<B>> {
    /// Writes at `offset` (files; stream sockets write through `net`'s send path).
    pub(crate) fn writev_at(fd: &SharedFd, bufs: Vec<B>, offset: u64) -> Self {
        Op::new(Writev::new(fd, bufs, offset))
    }
}

impl<B: IoBuf> Writev<B> {
    fn new(fd: &SharedFd, bufs: Vec<B>, offset: u64) -> Self {
        let mut iovecs = Vec::with_capacity(bufs.len());
        bufs.fill(&mut iovecs);
        let iovecs = iovecs.into_boxed_slice();
        Writev {
            fd: fd.clone(),
            bufs,
            iovecs,
            offset,
        }
    }

    fn syscall(&self) -> io::Result<u32> {
        let (fd, iov) = (self.fd.raw(), self.iovecs.as_ptr());
        // More buffers than IOV_MAX: the kernel answers EINVAL.
        let cnt = self.iovecs.len().min(i32::MAX as usize) as i32;
        let off = self.offset as libc::off_t;
        // SAFETY: each iovec points at initialised bytes of a buffer the op owns.
        let res = unsafe { libc::pwritev(fd, iov, cnt, off) };
        cvt(res)
    }
}

// SAFETY: the entry points only into `iovecs`, which point into `bufs`; all
// are owned by the op and their addresses are stable (`IoBuf`, boxed slice).
unsafe impl<B: IoBuf> Operation for Writev<B> {
    type Output = BufResult<usize, Vec<B>>;

    fn uring_entry(&mut self) -> squeue::Entry {
        let len = u32::try_from(self.iovecs.len()).unwrap_or(u32::MAX);
        opcode::Writev::new(Fd(self.fd.raw()), self.iovecs.as_ptr(), len)
            .offset(self.offset)
            .build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        attempt_write(&self.fd, || self.syscall())
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        self.syscall()
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        (res.map(|n| n as usize), self.bufs)
    }
}
