//! `IORING_OP_WRITE_FIXED` (a registered buffer) and writes to a registered
//! file (`types::Fixed`): `pwrite` on epoll, which has neither.

use std::io;

use io_uring::{opcode, squeue, types};

use super::fixed::Fixed;
use super::{cvt, io_len, Attempt, Op, Operation, SharedFd};
use crate::buf::{BufResult, IoBuf};

/// A positional write using a registered file, a registered buffer, or both.
#[derive(Debug)]
pub(crate) struct WriteFixed<B> {
    /// Keeps the descriptor open until the kernel lets go (and serves epoll).
    fd: SharedFd,
    /// The registered slots to name; holding the file's keeps it from reuse.
    fixed: Fixed,
    /// What the kernel reads; returned to the caller.
    buf: B,
    /// File offset.
    offset: u64,
}

impl<B: IoBuf> Op<WriteFixed<B>> {
    /// Writes `buf`'s initialised bytes at `offset` through the registered `fixed` resources.
    pub(crate) fn write_fixed_at(fd: SharedFd, fixed: Fixed, buf: B, offset: u64) -> Self {
        Op::new(WriteFixed {
            fd,
            fixed,
            buf,
            offset,
        })
    }
}

// SAFETY: the entry points only into `buf`, whose address `IoBuf` keeps
// stable, and names slots that `fixed` keeps registered until the op is freed.
unsafe impl<B: IoBuf> Operation for WriteFixed<B> {
    type Output = BufResult<usize, B>;

    fn uring_entry(&mut self) -> squeue::Entry {
        let ptr = self.buf.stable_ptr();
        let len = io_len(self.buf.bytes_init());
        let file = self.fixed.file.as_ref().map(|f| types::Fixed(f.slot()));
        let fd = types::Fd(self.fd.raw());
        match (file, self.fixed.buf) {
            (Some(file), Some(index)) => opcode::WriteFixed::new(file, ptr, len, index)
                .offset(self.offset)
                .build(),
            (None, Some(index)) => opcode::WriteFixed::new(fd, ptr, len, index)
                .offset(self.offset)
                .build(),
            (Some(file), None) => opcode::Write::new(file, ptr, len)
                .offset(self.offset)
                .build(),
            (None, None) => opcode::Write::new(fd, ptr, len).offset(self.offset).build(),
        }
    }

    fn epoll_attempt(&mut self) -> Attempt {
        // A regular file is always "ready": the write may block, so the pool does it.
        Attempt::Blocking
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        let len = self.buf.bytes_init();
        // SAFETY: `buf` is valid for `bytes_init` readable bytes (IoBuf contract).
        let res = unsafe {
            libc::pwrite(
                self.fd.raw(),
                self.buf.stable_ptr().cast(),
                len,
                self.offset as libc::off_t,
            )
        };
        cvt(res)
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        (res.map(|n| n as usize), self.buf)
    }
}
