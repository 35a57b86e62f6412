//! `IORING_OP_WRITE_FIXED` (a registered buffer) and writes to a registered
//! file (`types::Fixed`): `pwrite` on epoll, which has neither.

use std::io;

use io_uring::{opcode, squeue, types};

use super::fixed::Fixed;
use super::{cvt, io_len, Attempt, Op, Operation};
use crate::buf::{BufResult, IoBuf};

/// A positional write using a registered file, a registered buffer, or both.
#[derive(Debug)]
pub(crate) struct WriteFixed<B> {
    /// The file (its registered slot, or its plain descriptor) and the
    /// buffer's slot; held until the kernel lets go, so neither the
    /// descriptor closes nor the slot is reused under the op.
    fixed: Fixed,
    /// What the kernel reads; returned to the caller.
    buf: B,
    /// File offset.
    offset: u64,
    /// epoll: `buf`'s address and length, taken on the worker for the
    /// blocking pool, which must not call `IoBuf` methods (a buffer need
    /// not be `Send`).
    raw: (*const u8, usize),
}

// SAFETY: `raw` only caches where `buf` (which moves with the op) keeps its
// bytes; whoever holds the op uses it, so it is as thread-safe as `buf`.
unsafe impl<B: Send> Send for WriteFixed<B> {}

impl<B: IoBuf> Op<WriteFixed<B>> {
    /// Writes `buf`'s initialised bytes at `offset` through the registered `fixed` resources.
    pub(crate) fn write_fixed_at(fixed: Fixed, buf: B, offset: u64) -> Self {
        Op::new(WriteFixed {
            fixed,
            buf,
            offset,
            raw: (std::ptr::null(), 0),
        })
    }
}

// SAFETY: the entry points only into `buf`, whose address `IoBuf` keeps
// stable, and names only slots of the submitting ring's tables (`bind_registered`),
// which `fixed` keeps registered until the op is freed.
unsafe impl<B: IoBuf> Operation for WriteFixed<B> {
    type Output = BufResult<usize, B>;

    const IN_PLACE: bool = true;

    fn bind_registered(&mut self, table: crate::driver::DriverId) {
        self.fixed.bind(table);
    }

    fn uring_entry(&mut self) -> squeue::Entry {
        let ptr = self.buf.stable_ptr();
        let len = io_len(self.buf.bytes_init());
        let file = self.fixed.file_slot().map(types::Fixed);
        let fd = types::Fd(self.fixed.fd().raw());
        match (file, self.fixed.buf_index()) {
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
        self.raw = (self.buf.stable_ptr(), self.buf.bytes_init());
        // A regular file is always "ready": the write may block, so the pool does it.
        Attempt::Blocking
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        let (ptr, len) = self.raw;
        // SAFETY: `epoll_attempt` took `ptr` and `len` from `buf`, valid for
        // `len` readable bytes (IoBuf contract) while the op owns it.
        let res = unsafe {
            libc::pwrite(
                self.fixed.fd().raw(),
                ptr.cast(),
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
