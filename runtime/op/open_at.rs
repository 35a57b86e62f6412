//! `openat(2)`: open a path; the output owns the new descriptor.
//!
//! The result is turned into an [`OwnedFd`] inside `complete`, so an open whose
//! future was dropped mid-flight still closes the descriptor the kernel made.

use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use io_uring::{opcode, squeue, types::Fd};

use super::{cvt, Attempt, Op, Operation, SharedFd};

/// An open of `path`, relative to `dir` or the working directory.
#[derive(Debug)]
pub(crate) struct OpenAt {
    /// The directory a relative `path` starts from; `None`: the working directory.
    dir: Option<SharedFd>,
    /// The path the kernel reads, owned until it lets go.
    path: CString,
    /// `O_*` flags, `O_CLOEXEC` included.
    flags: i32,
    /// Permission bits of a created file (before the umask).
    mode: libc::mode_t,
}

impl Op<OpenAt> {
    /// Opens `path` with `flags` (`O_CLOEXEC` is added) and, if it creates the
    /// file, `mode`.
    pub(crate) fn open_at(dir: Option<&SharedFd>, path: CString, flags: i32, mode: u32) -> Self {
        Op::new(OpenAt {
            dir: dir.cloned(),
            path,
            flags: flags | libc::O_CLOEXEC,
            mode,
        })
    }
}

/// The raw directory fd of an `*at` call: `dir`, or `AT_FDCWD`.
pub(crate) fn dirfd(dir: Option<&SharedFd>) -> RawFd {
    dir.map_or(libc::AT_FDCWD, SharedFd::raw)
}

/// A successful open's result as an owned descriptor.
pub(crate) fn owned_fd(res: io::Result<u32>) -> io::Result<OwnedFd> {
    // SAFETY: a successful open returns a new descriptor that nothing else owns.
    res.map(|fd| unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

// SAFETY: the entry points only into `path`, which the op owns.
unsafe impl Operation for OpenAt {
    type Output = io::Result<OwnedFd>;

    fn uring_entry(&mut self) -> squeue::Entry {
        opcode::OpenAt::new(Fd(dirfd(self.dir.as_ref())), self.path.as_ptr())
            .flags(self.flags)
            .mode(self.mode)
            .build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        Attempt::Blocking // path lookups and opens may wait on the disk
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        let dir = dirfd(self.dir.as_ref());
        // SAFETY: `path` is a NUL-terminated string the op owns; `dir` is kept open by the op.
        let fd = unsafe { libc::openat(dir, self.path.as_ptr(), self.flags, self.mode) };
        cvt(fd as isize)
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        owned_fd(res)
    }
}
