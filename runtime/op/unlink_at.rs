//! `unlinkat(2)`: remove a file, or with `AT_REMOVEDIR` an empty directory.

use std::ffi::CString;
use std::io;

use io_uring::{opcode, squeue, types::Fd};

use super::{cvt, Attempt, Op, Operation};

/// An unlink of `path` (relative to the working directory).
#[derive(Debug)]
pub(crate) struct UnlinkAt {
    /// The path the kernel reads, owned until it lets go.
    path: CString,
    /// 0 or `AT_REMOVEDIR`.
    flags: i32,
}

impl Op<UnlinkAt> {
    /// Removes a file (or symlink) name.
    pub(crate) fn remove_file(path: CString) -> Self {
        Op::new(UnlinkAt { path, flags: 0 })
    }

    /// Removes an empty directory.
    pub(crate) fn remove_dir(path: CString) -> Self {
        Op::new(UnlinkAt {
            path,
            flags: libc::AT_REMOVEDIR,
        })
    }
}

// SAFETY: the entry points only into `path`, which the op owns.
unsafe impl Operation for UnlinkAt {
    type Output = io::Result<()>;

    fn uring_entry(&mut self) -> squeue::Entry {
        opcode::UnlinkAt::new(Fd(libc::AT_FDCWD), self.path.as_ptr())
            .flags(self.flags)
            .build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        Attempt::Blocking
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        // SAFETY: `path` is a NUL-terminated string the op owns.
        let res = unsafe { libc::unlinkat(libc::AT_FDCWD, self.path.as_ptr(), self.flags) };
        cvt(res as isize)
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        res.map(drop)
    }
}
