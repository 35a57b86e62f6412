//! `splice(2)` between a descriptor and a pipe: `IORING_OP_SPLICE` on
//! io_uring (always run on an io-wq thread), a non-blocking splice on
//! readiness or the blocking pool on epoll. The pipe cache and the transfer
//! built on it are in `transfer/pipe.rs`.

use std::io;

use io_uring::{opcode, squeue, types::Fd};

use super::{cvt, Attempt, Interest, Op, Operation, SharedFd};
use crate::sys::without_sigpipe;

/// A splice of up to `len` bytes from `fd_in` to `fd_out`; one of them must be a pipe.
#[derive(Debug)]
pub(crate) struct Splice {
    /// Where bytes come from; kept open until the kernel lets go.
    fd_in: SharedFd,
    /// Offset in `fd_in`; `None` for a pipe or socket (`-1` to the kernel).
    off_in: Option<u64>,
    /// Where bytes go; kept open until the kernel lets go.
    fd_out: SharedFd,
    /// At most this many bytes.
    len: u32,
}

impl Op<Splice> {
    /// Moves up to `len` bytes from `fd_in` (at `off_in`, if it is a file) to
    /// `fd_out`, which is a pipe or socket; resolves to the count moved, `0`
    /// at the end of `fd_in`.
    pub(crate) fn splice(
        fd_in: &SharedFd,
        off_in: Option<u64>,
        fd_out: &SharedFd,
        len: u32,
    ) -> Self {
        Op::new(Splice {
            fd_in: fd_in.clone(),
            off_in,
            fd_out: fd_out.clone(),
            len,
        })
    }
}

impl Splice {
    /// The syscall, with extra `flags`.
    fn syscall(&self, flags: libc::c_uint) -> io::Result<u32> {
        splice_now(&self.fd_in, self.off_in, &self.fd_out, self.len, flags)
    }
}

/// `splice(2)` on this thread, `SIGPIPE` kept from being delivered;
/// `off_in` is copied, so the caller's stays put.
pub(crate) fn splice_now(
    fd_in: &SharedFd,
    off_in: Option<u64>,
    fd_out: &SharedFd,
    len: u32,
    flags: libc::c_uint,
) -> io::Result<u32> {
    let mut off = off_in.map(|o| o as libc::loff_t);
    let off_ptr = off
        .as_mut()
        .map_or(std::ptr::null_mut(), |o| o as *mut libc::loff_t);
    let res = without_sigpipe(|| {
        // SAFETY: the caller's references keep both fds open; `off_ptr` is
        // null or points to a local that outlives the call; the output
        // offset is null.
        unsafe {
            libc::splice(
                fd_in.raw(),
                off_ptr,
                fd_out.raw(),
                std::ptr::null_mut(),
                len as usize,
                flags,
            )
        }
    });
    cvt(res)
}

// SAFETY: the entry carries no pointers, only fd numbers the op keeps open.
unsafe impl Operation for Splice {
    type Output = io::Result<u32>;

    fn uring_entry(&mut self) -> squeue::Entry {
        let off_in = self.off_in.map_or(-1, |o| o as i64);
        opcode::Splice::new(
            Fd(self.fd_in.raw()),
            off_in,
            Fd(self.fd_out.raw()),
            -1,
            self.len,
        )
        .build()
    }

    /// A file on either side may wait on the disk: the blocking pool. Otherwise
    /// (pipe → socket) a non-blocking splice that waits for the output to
    /// become writable; the input pipe must already hold the bytes.
    fn epoll_attempt(&mut self) -> Attempt {
        if self.fd_in.is_file() || self.fd_out.is_file() {
            return Attempt::Blocking;
        }
        self.fd_out.ensure_nonblocking();
        Attempt::from_syscall(
            self.syscall(libc::SPLICE_F_NONBLOCK),
            self.fd_out.raw(),
            self.fd_out.id(),
            Interest::Writable,
        )
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        self.syscall(0)
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        res
    }
}
