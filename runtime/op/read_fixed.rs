//! `IORING_OP_READ_FIXED` (a registered buffer) and reads of a registered
//! file (`types::Fixed`): `pread` on epoll, which has neither.

use std::io;

use io_uring::{opcode, squeue, types};

use super::fixed::Fixed;
use super::read::{file_read_nowait, finish_rest};
use super::{cvt, filled, io_len, Attempt, Op, Operation};
use crate::buf::{BufResult, IoBufMut};

/// A positional read using a registered file, a registered buffer, or both.
#[derive(Debug)]
pub(crate) struct ReadFixed<B> {
    /// The file (its registered slot, or its plain descriptor) and the
    /// buffer's slot; held until the kernel lets go, so neither the
    /// descriptor closes nor the slot is reused under the op.
    fixed: Fixed,
    /// Where the kernel writes; returned to the caller.
    buf: B,
    /// File offset.
    offset: u64,
    /// epoll: bytes the inline attempt read before the pool took over (a
    /// single read moves at most `u32::MAX`: see `io_len`).
    done: u32,
    /// epoll: `buf`'s address and capacity, taken on the worker for the
    /// blocking pool, which must not call `IoBuf` methods (a buffer need
    /// not be `Send`).
    raw: (*mut u8, usize),
}

// SAFETY: `raw` only caches where `buf` (which moves with the op) keeps its
// bytes; whoever holds the op uses it, so it is as thread-safe as `buf`.
unsafe impl<B: Send> Send for ReadFixed<B> {}

impl<B: IoBufMut> Op<ReadFixed<B>> {
    /// Reads at `offset` through the registered `fixed` resources.
    pub(crate) fn read_fixed_at(fixed: Fixed, buf: B, offset: u64) -> Self {
        Op::new(ReadFixed {
            fixed,
            buf,
            offset,
            done: 0,
            raw: (std::ptr::null_mut(), 0),
        })
    }
}

impl<B: IoBufMut> ReadFixed<B> {
    /// The `pread` of what `epoll_attempt` recorded in `raw`, or the rest
    /// of it after `done` bytes read inline; safe on any thread.
    fn syscall(&self) -> io::Result<u32> {
        let done = self.done as usize;
        // `done` never exceeds the buffer: it is what the kernel wrote into it.
        let ptr = self.raw.0.wrapping_add(done);
        let len = self.raw.1 - done;
        let off = self.offset.wrapping_add(done as u64) as libc::off_t;
        // SAFETY: `ptr` is valid for `len` writable bytes (IoBufMut contract).
        let res = unsafe { libc::pread(self.fixed.fd().raw(), ptr.cast(), len, off) };
        finish_rest(cvt(res), done)
    }
}

// SAFETY: the entry points only into `buf`, whose address `IoBufMut` keeps
// stable, and names only slots of the submitting ring's tables (`bind_registered`),
// which `fixed` keeps registered until the op is freed.
unsafe impl<B: IoBufMut> Operation for ReadFixed<B> {
    type Output = BufResult<usize, B>;

    const IN_PLACE: bool = true;

    fn bind_registered(&mut self, table: crate::driver::DriverId) {
        self.fixed.bind(table);
    }

    fn uring_entry(&mut self) -> squeue::Entry {
        let ptr = self.buf.stable_mut_ptr();
        let len = io_len(self.buf.bytes_total());
        let file = self.fixed.file_slot().map(types::Fixed);
        let fd = types::Fd(self.fixed.fd().raw());
        match (file, self.fixed.buf_index()) {
            (Some(file), Some(index)) => opcode::ReadFixed::new(file, ptr, len, index)
                .offset(self.offset)
                .build(),
            (None, Some(index)) => opcode::ReadFixed::new(fd, ptr, len, index)
                .offset(self.offset)
                .build(),
            (Some(file), None) => opcode::Read::new(file, ptr, len)
                .offset(self.offset)
                .build(),
            (None, None) => opcode::Read::new(fd, ptr, len).offset(self.offset).build(),
        }
    }

    fn epoll_attempt(&mut self) -> Attempt {
        self.raw = (self.buf.stable_mut_ptr(), self.buf.bytes_total());
        let mut iov = [libc::iovec {
            iov_base: self.raw.0.cast(),
            iov_len: self.raw.1,
        }];
        let mut done = 0;
        // SAFETY: `iov` points at `buf`, valid for `bytes_total` writable
        // bytes (IoBufMut contract).
        let attempt =
            unsafe { file_read_nowait(self.fixed.fd(), &mut iov, Some(self.offset), &mut done) };
        self.done = u32::try_from(done).unwrap_or(u32::MAX);
        attempt
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        self.syscall()
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        // SAFETY: on `Ok(n)` the kernel initialised the first `n` bytes of `buf`.
        unsafe { filled(self.buf, res) }
    }
}
