//! `read(2)` / `pread(2)` into an owned buffer.

use std::io;

use io_uring::{opcode, squeue, types::Fd};

use super::{cvt, io_len, Attempt, Interest, Op, Operation, SharedFd};
use crate::buf::{BufResult, IoBufMut};

/// A read into `buf`, at `offset` or at the file position.
#[derive(Debug)]
pub(crate) struct Read<B> {
    /// Keeps the descriptor open until the kernel lets go.
    fd: SharedFd,
    /// Where the kernel writes; returned to the caller.
    buf: B,
    /// `None`: the file position (pipes, sockets).
    offset: Option<u64>,
}

impl<B: IoBufMut> Op<Read<B>> {
    /// Reads at the current position (pipes; sockets use `Recv`).
    #[cfg(test)]
    pub(crate) fn read(fd: &SharedFd, buf: B) -> Self {
        Op::new(Read {
            fd: fd.clone(),
            buf,
            offset: None,
        })
    }

    /// Reads at `offset` (files).
    pub(crate) fn read_at(fd: &SharedFd, buf: B, offset: u64) -> Self {
        Op::new(Read {
            fd: fd.clone(),
            buf,
            offset: Some(offset),
        })
    }
}

impl<B: IoBufMut> Read<B> {
    fn syscall(&mut self) -> io::Result<u32> {
        let (fd, ptr, len) = (
            self.fd.raw(),
            self.buf.stable_mut_ptr(),
            self.buf.bytes_total(),
        );
        let res = match self.offset {
            // SAFETY: `ptr` is valid for `len` writable bytes (IoBufMut contract).
            None => unsafe { libc::read(fd, ptr.cast(), len) },
            // SAFETY: as above; `pread` does not move the file position.
            Some(off) => unsafe { libc::pread(fd, ptr.cast(), len, off as libc::off_t) },
        };
        cvt(res)
    }
}

// SAFETY: the entry points only into `buf`, whose address `IoBufMut` keeps stable.
unsafe impl<B: IoBufMut> Operation for Read<B> {
    type Output = BufResult<usize, B>;

    fn uring_entry(&mut self) -> squeue::Entry {
        let len = io_len(self.buf.bytes_total());
        opcode::Read::new(Fd(self.fd.raw()), self.buf.stable_mut_ptr(), len)
            .offset(self.offset.unwrap_or(u64::MAX)) // u64::MAX: the file position
            .build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        if self.fd.is_file() {
            return Attempt::Blocking;
        }
        self.fd.ensure_nonblocking();
        Attempt::from_syscall(
            self.syscall(),
            self.fd.raw(),
            self.fd.id(),
            Interest::Readable,
        )
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        self.syscall()
    }

    fn complete(mut self, res: io::Result<u32>) -> Self::Output {
        if let Ok(n) = res {
            // SAFETY: the kernel initialised the first `n` bytes of `buf`.
            unsafe { self.buf.set_init(n as usize) };
        }
        (res.map(|n| n as usize), self.buf)
    }
}
