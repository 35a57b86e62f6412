//! `openat2(2)`: open a path with resolution limits (`RESOLVE_BENEATH` …);
//! the output owns the new descriptor.
//!
//! On epoll the open is first tried on the worker with `RESOLVE_CACHED`
//! added, as `OpenAt` does (see open_at.rs).

use std::ffi::CString;
use std::io;
use std::os::fd::OwnedFd;

use io_uring::{opcode, squeue, types::Fd, types::OpenHow};

use super::open_at::{dirfd, open_cached, openat2, owned_fd};
use super::{Attempt, Op, Operation, SharedFd};

/// An open of `path` relative to `dir`, resolved under `how.resolve`.
#[derive(Debug)]
pub(crate) struct OpenAt2 {
    /// The directory `path` is resolved from; `None`: the working directory.
    dir: Option<SharedFd>,
    /// The path the kernel reads, owned until it lets go.
    path: CString,
    /// Flags, mode and resolve bits; boxed so the kernel's pointer stays put.
    how: Box<OpenHow>,
    /// `how`'s flags and resolve bits (which `OpenHow` does not give back),
    /// for the epoll attempt.
    flags: u64,
    /// See `flags`.
    resolve: u64,
}

impl Op<OpenAt2> {
    /// Opens `path` below `dir` with `flags` (`O_CLOEXEC` is added), `mode`,
    /// and the `RESOLVE_*` bits in `resolve`.
    pub(crate) fn open_at2(
        dir: Option<&SharedFd>,
        path: CString,
        flags: i32,
        mode: u32,
        resolve: u64,
    ) -> Self {
        let flags = (flags | libc::O_CLOEXEC) as u32 as u64;
        // openat2 rejects a mode without O_CREAT / O_TMPFILE (EINVAL).
        let tmpfile = libc::O_TMPFILE as u64;
        let creates = flags & libc::O_CREAT as u64 != 0 || flags & tmpfile == tmpfile;
        let mode = if creates { u64::from(mode) } else { 0 };
        Op::new(OpenAt2 {
            dir: dir.cloned(),
            path,
            how: Box::new(OpenHow::new().flags(flags).mode(mode).resolve(resolve)),
            flags,
            resolve,
        })
    }
}

// SAFETY: the entry points only into `path` and `how`, which the op owns.
unsafe impl Operation for OpenAt2 {
    type Output = io::Result<OwnedFd>;

    fn uring_entry(&mut self) -> squeue::Entry {
        let how: *const OpenHow = &*self.how;
        opcode::OpenAt2::new(Fd(dirfd(self.dir.as_ref())), self.path.as_ptr(), how).build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        open_cached(
            dirfd(self.dir.as_ref()),
            &self.path,
            self.flags,
            self.resolve,
        )
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        openat2(dirfd(self.dir.as_ref()), &self.path, &self.how)
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        owned_fd(res)
    }
}
