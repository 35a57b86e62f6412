//! `write(2)` / `pwrite(2)` from an owned buffer (pipes and files; sockets use `send`).

use std::io;

use io_uring::{opcode, squeue, types::Fd};

use super::{attempt_write, cvt, io_len, Attempt, Op, Operation, SharedFd};
use crate::buf::{BufResult, IoBuf};

/// A write of `buf`'s initialised bytes, at `offset` or at the file position.
#[derive(Debug)]
pub(crate) struct Write<B> {
    /// Keeps the descriptor open until the kernel lets go.
    fd: SharedFd,
    /// What the kernel reads; returned to the caller.
    buf: B,
    /// `None`: the file position (pipes) or append.
    offset: Option<u64>,
    /// epoll: `buf`'s address and length, taken on the worker for the
    /// blocking pool, which must not call `IoBuf` methods.
    raw: (*const u8, usize),
}

// SAFETY: `raw` only caches where `buf` (which moves with the op) keeps its
// bytes; whoever holds the op uses it, so it is as thread-safe as `buf`.
unsafe impl<B: Send> Send for Write<B> {}

impl<B: IoBuf> Op<Write<B>> {
    /// Writes at the current position (pipes; sockets use `Send`).
    #[cfg(test)]
    pub(crate) fn write(fd: &SharedFd, buf: B) -> Self {
        Op::new(Write {
            fd: fd.clone(),
            buf,
            offset: None,
            raw: (std::ptr::null(), 0),
        })
    }

    /// Writes at `offset` (files).
    pub(crate) fn write_at(fd: &SharedFd, buf: B, offset: u64) -> Self {
        Op::new(Write {
            fd: fd.clone(),
            buf,
            offset: Some(offset),
            raw: (std::ptr::null(), 0),
        })
    }
}

impl<B: IoBuf> Write<B> {
    /// Takes `buf`'s address and length (on the worker).
    fn prepare(&mut self) {
        self.raw = (self.buf.stable_ptr(), self.buf.bytes_init());
    }

    /// The write of what `prepare` recorded; safe on any thread.
    fn syscall(&self) -> io::Result<u32> {
        let (fd, (ptr, len)) = (self.fd.raw(), self.raw);
        let res = match self.offset {
            // SAFETY: `ptr` is valid for `len` initialised bytes (IoBuf contract).
            None => unsafe { libc::write(fd, ptr.cast(), len) },
            // SAFETY: as above.
            Some(off) => unsafe { libc::pwrite(fd, ptr.cast(), len, off as libc::off_t) },
        };
        cvt(res)
    }
}

// SAFETY: the entry points only into `buf`'s memory, which `IoBuf` keeps
// where it is wherever the op moves (so the op may run in place).
unsafe impl<B: IoBuf> Operation for Write<B> {
    type Output = BufResult<usize, B>;

    const IN_PLACE: bool = true;

    fn uring_entry(&mut self) -> squeue::Entry {
        let len = io_len(self.buf.bytes_init());
        opcode::Write::new(Fd(self.fd.raw()), self.buf.stable_ptr(), len)
            .offset(self.offset.unwrap_or(u64::MAX))
            .build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        self.prepare();
        attempt_write(&self.fd, || self.syscall())
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        self.syscall()
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        (res.map(|n| n as usize), self.buf)
    }
}
