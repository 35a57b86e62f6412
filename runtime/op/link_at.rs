//! `linkat(2)`: create a hard link.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, squeue, types::Fd};

use super::{cvt, Attempt, Op, Operation};

/// A new name `to` for the file at `from`.
#[derive(Debug)]
pub(crate) struct LinkAt {
    /// The existing path (a final symlink is not followed, as `link(2)` on Linux).
    from: CString,
    /// The new name.
    to: CString,
}

impl Op<LinkAt> {
    /// Creates `to`, another name for the file at `from`.
    pub(crate) fn hard_link(from: CString, to: CString) -> Self {
        Op::new(LinkAt { from, to })
    }
}

// SAFETY: the entry points only into `from` and `to`, which the op owns.
unsafe impl Operation for LinkAt {
    type Output = io::Result<()>;

    fn uring_entry(&mut self) -> squeue::Entry {
        let cwd = Fd(libc::AT_FDCWD);
        opcode::LinkAt::new(cwd, self.from.as_ptr(), cwd, self.to.as_ptr()).build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        Attempt::Blocking
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        let cwd = libc::AT_FDCWD;
        // SAFETY: both paths are NUL-terminated strings the op owns.
        let res = unsafe { libc::linkat(cwd, self.from.as_ptr(), cwd, self.to.as_ptr(), 0) };
        cvt(res as isize)
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        res.map(drop)
    }
}
