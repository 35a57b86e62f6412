//! `mkdirat(2)`: create a directory.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, squeue, types::Fd};

use super::{cvt, Attempt, Op, Operation};

/// A mkdir of `path` (relative to the working directory).
#[derive(Debug)]
pub(crate) struct MkDirAt {
    /// The path the kernel reads, owned until it lets go.
    path: CString,
    /// Permission bits (before the umask).
    mode: libc::mode_t,
}

impl Op<MkDirAt> {
    /// Creates the directory `path` with `mode`.
    pub(crate) fn create_dir(path: CString, mode: u32) -> Self {
        Op::new(MkDirAt { path, mode })
    }
}

// SAFETY: the entry points only into `path`, which the op owns.
unsafe impl Operation for MkDirAt {
    type Output = io::Result<()>;

    fn uring_entry(&mut self) -> squeue::Entry {
        opcode::MkDirAt::new(Fd(libc::AT_FDCWD), self.path.as_ptr())
            .mode(self.mode)
            .build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        Attempt::Blocking
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        // SAFETY: `path` is a NUL-terminated string the op owns.
        let res = unsafe { libc::mkdirat(libc::AT_FDCWD, self.path.as_ptr(), self.mode) };
        cvt(res as isize)
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        res.map(drop)
    }
}
