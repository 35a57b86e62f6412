//! `renameat2(2)`: rename a path, replacing the target if it exists.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, squeue, types::Fd};

use super::{cvt, Attempt, Op, Operation};

/// A rename of `from` to `to` (both relative to the working directory).
#[derive(Debug)]
pub(crate) struct RenameAt {
    /// The old path, read by the kernel.
    from: CString,
    /// The new path, read by the kernel.
    to: CString,
}

impl Op<RenameAt> {
    /// Renames `from` to `to`, replacing `to` if it exists.
    pub(crate) fn rename(from: CString, to: CString) -> Self {
        Op::new(RenameAt { from, to })
    }
}

// SAFETY: the entry points only into `from` and `to`, which the op owns.
unsafe impl Operation for RenameAt {
    type Output = io::Result<()>;

    fn uring_entry(&mut self) -> squeue::Entry {
        let cwd = Fd(libc::AT_FDCWD);
        opcode::RenameAt::new(cwd, self.from.as_ptr(), cwd, self.to.as_ptr()).build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        Attempt::Blocking
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        let cwd = libc::AT_FDCWD;
        // SAFETY: both paths are NUL-terminated strings the op owns.
        let res = unsafe { libc::renameat(cwd, self.from.as_ptr(), cwd, self.to.as_ptr()) };
        cvt(res as isize)
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        res.map(drop)
    }
}
