//! `symlinkat(2)`: create a symbolic link.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, squeue, types::Fd};

use super::{cvt, Attempt, Op, Operation};

/// A symlink at `link` whose content is `target`.
#[derive(Debug)]
pub(crate) struct SymlinkAt {
    /// What the link points to, stored as is (not resolved).
    target: CString,
    /// Where the link is created (relative to the working directory).
    link: CString,
}

impl Op<SymlinkAt> {
    /// Creates `link`, a symlink pointing to `target`.
    pub(crate) fn symlink(target: CString, link: CString) -> Self {
        Op::new(SymlinkAt { target, link })
    }
}

// SAFETY: the entry points only into `target` and `link`, which the op owns.
unsafe impl Operation for SymlinkAt {
    type Output = io::Result<()>;

    fn uring_entry(&mut self) -> squeue::Entry {
        opcode::SymlinkAt::new(Fd(libc::AT_FDCWD), self.target.as_ptr(), self.link.as_ptr()).build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        Attempt::Blocking
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        let (target, link) = (self.target.as_ptr(), self.link.as_ptr());
        // SAFETY: both paths are NUL-terminated strings the op owns.
        let res = unsafe { libc::symlinkat(target, libc::AT_FDCWD, link) };
        cvt(res as isize)
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        res.map(drop)
    }
}
