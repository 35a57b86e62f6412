//! `close(2)` as an operation, for an explicit, awaited close.
//!
//! The op owns the descriptor. Once the kernel (or the blocking pool) ran the
//! close, the descriptor is gone whatever the result, so `complete` forgets
//! it; if the close never ran (cancelled, or no runtime), dropping the
//! `OwnedFd` closes it synchronously instead, so it never leaks.

use std::io;
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd};

use io_uring::{opcode, squeue, types::Fd};

use super::{cvt, Attempt, Op, Operation};

/// A close of `fd`.
#[derive(Debug)]
pub(crate) struct Close {
    /// The descriptor to close; `None` once released after the close ran.
    fd: Option<OwnedFd>,
    /// Set when the close was handed to the kernel or run on the pool.
    started: bool,
}

impl Op<Close> {
    /// Closes `fd`, reporting the kernel's error (EIO from a delayed write, say).
    pub(crate) fn close(fd: OwnedFd) -> Self {
        Op::new(Close {
            fd: Some(fd),
            started: false,
        })
    }
}

impl Close {
    fn raw(&self) -> i32 {
        self.fd.as_ref().map_or(-1, AsRawFd::as_raw_fd)
    }
}

// SAFETY: the entry carries no pointers, only the descriptor number.
unsafe impl Operation for Close {
    type Output = io::Result<()>;

    fn uring_entry(&mut self) -> squeue::Entry {
        self.started = true;
        opcode::Close::new(Fd(self.raw())).build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        Attempt::Blocking // closing a file may flush it (NFS, FUSE)
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        self.started = true;
        // SAFETY: the op owns the descriptor; `complete` forgets it afterwards.
        cvt(unsafe { libc::close(self.raw()) } as isize)
    }

    fn complete(mut self, res: io::Result<u32>) -> Self::Output {
        let ran =
            self.started && !matches!(&res, Err(e) if e.raw_os_error() == Some(libc::ECANCELED));
        if let Some(fd) = self.fd.take() {
            if ran {
                // Linux releases the descriptor even when close reports an error.
                let _ = fd.into_raw_fd();
            } else {
                drop(fd);
            }
        }
        res.map(drop)
    }
}
