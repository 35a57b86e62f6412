//! `fallocate(2)`: reserve (or, with mode flags, punch or zero) a file's space.

use std::io;

use io_uring::{opcode, squeue, types::Fd};

use super::{cvt, Attempt, Op, Operation, SharedFd};

/// An fallocate of `len` bytes at `offset`.
#[derive(Debug)]
pub(crate) struct Fallocate {
    /// Keeps the descriptor open until the kernel lets go.
    fd: SharedFd,
    /// Start of the range.
    offset: u64,
    /// Length of the range.
    len: u64,
    /// `FALLOC_FL_*` flags; 0 allocates and extends the file.
    mode: i32,
}

impl Op<Fallocate> {
    /// Allocates (or, per `mode`, punches or zeroes) `offset..offset + len`.
    pub(crate) fn fallocate(fd: &SharedFd, offset: u64, len: u64, mode: i32) -> Self {
        Op::new(Fallocate {
            fd: fd.clone(),
            offset,
            len,
            mode,
        })
    }
}

// SAFETY: the entry carries no pointers.
unsafe impl Operation for Fallocate {
    type Output = io::Result<()>;

    fn uring_entry(&mut self) -> squeue::Entry {
        opcode::Fallocate::new(Fd(self.fd.raw()), self.len)
            .offset(self.offset)
            .mode(self.mode)
            .build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        Attempt::Blocking
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        let (off, len) = (self.offset as libc::off_t, self.len as libc::off_t);
        // SAFETY: the op keeps the descriptor open; no pointers are passed.
        let res = unsafe { libc::fallocate(self.fd.raw(), self.mode, off, len) };
        cvt(res as isize)
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        res.map(drop)
    }
}
