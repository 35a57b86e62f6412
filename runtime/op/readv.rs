//! `preadv(2)`: one positional read scattered over several owned buffers.
//!
//! On epoll a regular-file read tries `preadv2(RWF_NOWAIT)` first, as
//! `Read` does (see read.rs).

use std::io;

use io_uring::{opcode, squeue, types::Fd};

use super::read::{file_read_nowait, finish_rest};
use super::{attempt_nonblocking, cvt, Attempt, Interest, Op, Operation, SharedFd};
use crate::buf::{BufResult, IoBufMut};
use crate::sys::IoVecsMut;

/// A read into `bufs`, filled in order, at `offset` (`fs::File::readv_at`).
pub(crate) struct Readv<B> {
    /// Keeps the descriptor open until the kernel lets go.
    fd: SharedFd,
    /// Where the kernel writes; returned to the caller.
    bufs: Vec<B>,
    /// One entry per buffer, pointing at its (stable) memory; boxed so the
    /// kernel's pointer to the array stays put.
    iovecs: Box<[libc::iovec]>,
    /// Where in the file the read starts (the file position is neither used nor moved).
    offset: u64,
    /// epoll: bytes the inline attempt read (`iovecs` now start after them)
    /// before the pool took over.
    done: usize,
}

impl<B> std::fmt::Debug for Readv<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readv")
            .field("fd", &self.fd)
            .field("bufs", &self.bufs.len())
            .field("offset", &self.offset)
            .finish()
    }
}

impl<B: IoBufMut> Op<Readv<B>> {
    /// Reads at `offset` (files; stream sockets read through `net`'s receive path).
    pub(crate) fn readv_at(fd: &SharedFd, bufs: Vec<B>, offset: u64) -> Self {
        Op::new(Readv::new(fd, bufs, offset))
    }
}

impl<B: IoBufMut> Readv<B> {
    fn new(fd: &SharedFd, mut bufs: Vec<B>, offset: u64) -> Self {
        let mut iovecs = Vec::with_capacity(bufs.len());
        bufs.fill_mut(&mut iovecs);
        let iovecs = iovecs.into_boxed_slice();
        Readv {
            fd: fd.clone(),
            bufs,
            iovecs,
            offset,
            done: 0,
        }
    }

    /// The read, or the rest of it after `done` bytes read inline.
    fn syscall(&self) -> io::Result<u32> {
        let (fd, iov) = (self.fd.raw(), self.iovecs.as_ptr());
        // More buffers than IOV_MAX: the kernel answers EINVAL.
        let cnt = self.iovecs.len().min(i32::MAX as usize) as i32;
        let off = self.offset.wrapping_add(self.done as u64) as libc::off_t;
        // SAFETY: each iovec points into a buffer the op owns, valid for its
        // length; `preadv` does not move the file position.
        let res = unsafe { libc::preadv(fd, iov, cnt, off) };
        finish_rest(cvt(res), self.done)
    }
}

// SAFETY: the entry points only into `iovecs`, which point into `bufs`; all
// are owned by the op and their addresses are stable (`IoBufMut`, boxed slice).
unsafe impl<B: IoBufMut> Operation for Readv<B> {
    type Output = BufResult<usize, Vec<B>>;

    fn uring_entry(&mut self) -> squeue::Entry {
        let len = u32::try_from(self.iovecs.len()).unwrap_or(u32::MAX);
        opcode::Readv::new(Fd(self.fd.raw()), self.iovecs.as_ptr(), len)
            .offset(self.offset)
            .build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        if self.fd.is_file() {
            let iovs = &mut self.iovecs;
            // SAFETY: each iovec points into a buffer the op owns, valid for its length.
            return unsafe { file_read_nowait(&self.fd, iovs, Some(self.offset), &mut self.done) };
        }
        attempt_nonblocking(&self.fd, Interest::Readable, || self.syscall())
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        self.syscall()
    }

    fn complete(mut self, res: io::Result<u32>) -> Self::Output {
        if let Ok(n) = res {
            // SAFETY: the kernel wrote `n` bytes through the iovecs `fill_mut` made.
            unsafe { self.bufs.set_init(n as usize) };
        }
        (res.map(|n| n as usize), self.bufs)
    }
}
