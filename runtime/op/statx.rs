//! `statx(2)`: the metadata of a path or an open descriptor, as an op (which
//! io_uring always runs on io-wq, and epoll on the blocking pool), or, for an
//! open descriptor, inline with `AT_STATX_DONT_SYNC` (`statx_fd_cached`).

use std::ffi::CString;
use std::io;

use io_uring::{opcode, squeue, types::Fd};

use super::open_at::dirfd;
use super::{cvt, Attempt, Op, Operation, SharedFd};

/// What we ask for: the classic `stat` fields plus the birth time.
const MASK: u32 = libc::STATX_BASIC_STATS | libc::STATX_BTIME;

/// A statx of `path` relative to `dir`, or of `dir` itself with an empty path.
pub(crate) struct Statx {
    /// The directory or file; `None`: the working directory.
    dir: Option<SharedFd>,
    /// The path the kernel reads; empty with `AT_EMPTY_PATH`.
    path: CString,
    /// `AT_*` flags (`AT_SYMLINK_NOFOLLOW`, `AT_EMPTY_PATH`).
    flags: i32,
    /// Where the kernel writes; boxed so its address stays put.
    buf: Box<libc::statx>,
}

impl std::fmt::Debug for Statx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statx")
            .field("dir", &self.dir)
            .field("path", &self.path)
            .field("flags", &self.flags)
            .finish_non_exhaustive()
    }
}

impl Op<Statx> {
    /// The metadata of `path`, following a final symlink if `follow`.
    pub(crate) fn statx_path(path: CString, follow: bool) -> Self {
        let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
        Op::new(Statx::new(None, path, flags))
    }

    /// The metadata of an open descriptor.
    pub(crate) fn statx_fd(fd: &SharedFd) -> Self {
        Op::new(Statx::new(
            Some(fd.clone()),
            CString::default(),
            libc::AT_EMPTY_PATH,
        ))
    }
}

impl Statx {
    fn new(dir: Option<SharedFd>, path: CString, flags: i32) -> Self {
        // SAFETY: `statx` is plain integers, for which all-zero bytes are valid.
        let buf = Box::new(unsafe { std::mem::zeroed::<libc::statx>() });
        Statx {
            dir,
            path,
            flags,
            buf,
        }
    }
}

// SAFETY: the entry points only into `path` and `buf`, which the op owns.
unsafe impl Operation for Statx {
    type Output = io::Result<libc::statx>;

    fn uring_entry(&mut self) -> squeue::Entry {
        let buf: *mut libc::statx = &mut *self.buf;
        opcode::Statx::new(Fd(dirfd(self.dir.as_ref())), self.path.as_ptr(), buf.cast())
            .flags(self.flags)
            .mask(MASK)
            .build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        Attempt::Blocking
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        let dir = dirfd(self.dir.as_ref());
        // SAFETY: `path` is NUL-terminated and `buf` is a writable `statx`, both owned by the op.
        let res = unsafe { libc::statx(dir, self.path.as_ptr(), self.flags, MASK, &mut *self.buf) };
        cvt(res as isize)
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        res.map(|_| *self.buf)
    }
}

/// The metadata of an open descriptor, read on this thread from what the
/// kernel has in memory: `AT_STATX_DONT_SYNC` keeps a network filesystem from
/// asking its server, and a local one reads the in-memory inode, so neither
/// waits.
pub(crate) fn statx_fd_cached(fd: &SharedFd) -> io::Result<libc::statx> {
    // SAFETY: `statx` is plain integers, for which all-zero bytes are valid.
    let mut buf: libc::statx = unsafe { std::mem::zeroed() };
    let flags = libc::AT_EMPTY_PATH | libc::AT_STATX_DONT_SYNC;
    // SAFETY: the path is an empty NUL-terminated string, `buf` a writable
    // `statx` that outlives the call, and `fd` is kept open by the reference.
    let res = unsafe { libc::statx(fd.raw(), c"".as_ptr(), flags, MASK, &mut buf) };
    cvt(res as isize)?;
    Ok(buf)
}
