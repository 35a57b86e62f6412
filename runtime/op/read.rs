//! `read(2)` / `pread(2)` into an owned buffer.
//!
//! On epoll a regular-file read is first tried on the worker with
//! `preadv2(RWF_NOWAIT)`, as io_uring does inline before it punts to its
//! workers: a page-cache hit then costs one syscall instead of a hand-off to
//! the blocking pool, which only gets the reads that would wait for the disk.
//! Like io_uring, a read the cache could serve only in part is finished by the
//! pool, so a file read is short only at end of file, as `pread` is.

use std::io;

use io_uring::{opcode, squeue, types::Fd};

use super::{attempt_nonblocking, cvt, filled, io_len, Attempt, Interest, Op, Operation, SharedFd};
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
    /// epoll: bytes the inline attempt read before the pool took over.
    done: usize,
    /// epoll: `buf`'s address and capacity, taken on the worker for the
    /// blocking pool, which must not call `IoBuf` methods.
    raw: (*mut u8, usize),
}

// SAFETY: `raw` only caches where `buf` (which moves with the op) keeps its
// bytes; whoever holds the op uses it, so it is as thread-safe as `buf`.
unsafe impl<B: Send> Send for Read<B> {}

impl<B: IoBufMut> Op<Read<B>> {
    /// Reads at the current position (pipes; sockets use `Recv`).
    #[cfg(test)]
    pub(crate) fn read(fd: &SharedFd, buf: B) -> Self {
        Op::new(Read {
            fd: fd.clone(),
            buf,
            offset: None,
            done: 0,
            raw: (std::ptr::null_mut(), 0),
        })
    }

    /// Reads at `offset` (files).
    pub(crate) fn read_at(fd: &SharedFd, buf: B, offset: u64) -> Self {
        Op::new(Read {
            fd: fd.clone(),
            buf,
            offset: Some(offset),
            done: 0,
            raw: (std::ptr::null_mut(), 0),
        })
    }
}

impl<B: IoBufMut> Read<B> {
    /// The read of what `epoll_attempt` recorded in `raw`, or the rest of
    /// it after `done` bytes read inline; safe on any thread.
    fn syscall(&self) -> io::Result<u32> {
        let done = self.done;
        let fd = self.fd.raw();
        // `done` never exceeds the buffer: it is what the kernel wrote into it.
        let ptr = self.raw.0.wrapping_add(done);
        let len = self.raw.1 - done;
        let res = match self.offset {
            // SAFETY: `ptr` is valid for `len` writable bytes (IoBufMut contract).
            None => unsafe { libc::read(fd, ptr.cast(), len) },
            // SAFETY: as above; `pread` does not move the file position.
            Some(off) => unsafe {
                libc::pread(
                    fd,
                    ptr.cast(),
                    len,
                    off.wrapping_add(done as u64) as libc::off_t,
                )
            },
        };
        finish_rest(cvt(res), done)
    }
}

/// A pool read's result after the inline attempt read `done` bytes: those
/// count even if the rest fails, as with a short `read`.
pub(super) fn finish_rest(res: io::Result<u32>, done: usize) -> io::Result<u32> {
    match res {
        Ok(n) => Ok(n + done as u32),
        Err(_) if done > 0 => Ok(done as u32),
        Err(e) => Err(e),
    }
}

/// Linux's cap on one read (`MAX_RW_COUNT`): a larger buffer comes back short.
const MAX_READ: usize = 0x7fff_f000;

/// Moves `iovs` past the first `n` bytes, leaving empty ones in place.
fn advance(iovs: &mut [libc::iovec], mut n: usize) {
    for iov in iovs {
        let step = n.min(iov.iov_len);
        iov.iov_base = iov.iov_base.cast::<u8>().wrapping_add(step).cast();
        iov.iov_len -= step;
        n -= step;
        if n == 0 {
            break;
        }
    }
}

/// epoll: reads a regular file on the worker as far as the page cache holds
/// it, with `preadv2(.., RWF_NOWAIT)`. Returns the attempt; with `Blocking`,
/// `inline` is set to how many bytes were read on the worker (`iovs` moved
/// past them): the pool reads the rest, or all of it when the file cannot
/// say what is cached (`nowait_reads`).
///
/// A short `RWF_NOWAIT` read means "the rest is not cached" (or end of file),
/// so it is tried again from where it stopped: 0 is end of file, `EAGAIN`
/// sends the rest to the pool.
///
/// # Safety
///
/// Each of `iovs` must point to writable memory valid for its length for the
/// duration of the call.
pub(super) unsafe fn file_read_nowait(
    fd: &SharedFd,
    iovs: &mut [libc::iovec],
    offset: Option<u64>,
    inline: &mut usize,
) -> Attempt {
    *inline = 0;
    if !fd.nowait_reads() {
        return Attempt::Blocking;
    }
    let asked = iovs.iter().map(|v| v.iov_len).sum::<usize>().min(MAX_READ);
    let cnt = iovs.len().min(i32::MAX as usize) as libc::c_int;
    let mut done = 0;
    loop {
        // -1 is the file position, so an offset past `off_t` must not wrap to
        // it: the pool's `pread` reports EINVAL for it.
        let off = match offset.map(|o| libc::off_t::try_from(o.saturating_add(done as u64))) {
            None => -1,
            Some(Ok(off)) => off,
            Some(Err(_)) => {
                *inline = done;
                return Attempt::Blocking;
            }
        };
        // SAFETY: the caller vouches for `iovs`; the fd is kept open by `fd`.
        let res =
            cvt(unsafe { libc::preadv2(fd.raw(), iovs.as_ptr(), cnt, off, libc::RWF_NOWAIT) });
        match res {
            Ok(0) => return Attempt::Done(Ok(done as u32)), // end of file
            Ok(n) => {
                done += n as usize;
                if done >= asked {
                    return Attempt::Done(Ok(done as u32));
                }
                advance(iovs, n as usize);
            }
            Err(e) => {
                return match e.raw_os_error() {
                    Some(libc::EAGAIN) => {
                        *inline = done; // not in the page cache
                        Attempt::Blocking
                    }
                    _ if done > 0 => Attempt::Done(Ok(done as u32)),
                    // The file system, a kernel before 4.14 or a seccomp filter
                    // refuses RWF_NOWAIT or preadv2; the pool's pread answers.
                    Some(libc::EOPNOTSUPP | libc::EINVAL | libc::ENOSYS | libc::EPERM) => {
                        fd.refuse_nowait_reads();
                        Attempt::Blocking
                    }
                    _ => Attempt::Done(Err(e)),
                };
            }
        }
    }
}

// SAFETY: the entry points only into `buf`'s memory, which `IoBufMut` keeps
// where it is wherever the op moves (so the op may run in place).
unsafe impl<B: IoBufMut> Operation for Read<B> {
    type Output = BufResult<usize, B>;

    const IN_PLACE: bool = true;

    fn uring_entry(&mut self) -> squeue::Entry {
        let len = io_len(self.buf.bytes_total());
        opcode::Read::new(Fd(self.fd.raw()), self.buf.stable_mut_ptr(), len)
            .offset(self.offset.unwrap_or(u64::MAX)) // u64::MAX: the file position
            .build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        self.raw = (self.buf.stable_mut_ptr(), self.buf.bytes_total());
        if self.fd.is_file() {
            let mut iov = [libc::iovec {
                iov_base: self.raw.0.cast(),
                iov_len: self.raw.1,
            }];
            // SAFETY: `iov` points at `buf`, valid for `bytes_total` writable
            // bytes (IoBufMut contract).
            return unsafe { file_read_nowait(&self.fd, &mut iov, self.offset, &mut self.done) };
        }
        attempt_nonblocking(&self.fd, Interest::Readable, || self.syscall())
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        self.syscall()
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        // SAFETY: on `Ok(n)` the kernel initialised the first `n` bytes of `buf`.
        unsafe { filled(self.buf, res) }
    }
}
