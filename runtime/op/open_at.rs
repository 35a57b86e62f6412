//! `openat(2)`: open a path; the output owns the new descriptor.
//!
//! The result is turned into an [`OwnedFd`] inside `complete`, so an open whose
//! future was dropped mid-flight still closes the descriptor the kernel made.
//!
//! On epoll an open is first tried on the worker as io_uring tries it inline:
//! `openat2` with `RESOLVE_CACHED` (the lookup fails with `EAGAIN` unless every
//! component is in the dentry cache) and `O_NONBLOCK` (a FIFO, a tty or a
//! leased file answers at once instead of waiting; cleared again on success).
//! Only what would wait goes to the blocking pool.

use std::ffi::{CStr, CString};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU8, Ordering};

use io_uring::{opcode, squeue, types::Fd, types::OpenHow};

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

/// `CACHED_OPENS`: `RESOLVE_CACHED` is not known to fail; try it.
const CACHED_UNKNOWN: u8 = 0;
/// `CACHED_OPENS`: a probe saw `openat2` take `RESOLVE_CACHED`.
const CACHED_YES: u8 = 1;
/// `CACHED_OPENS`: no `openat2` or no `RESOLVE_CACHED` (before Linux 5.12,
/// or a seccomp filter): every epoll open goes to the pool.
const CACHED_NO: u8 = 2;

/// Whether the kernel takes `openat2(RESOLVE_CACHED)`, process-wide.
static CACHED_OPENS: AtomicU8 = AtomicU8::new(CACHED_UNKNOWN);

/// `O_TMPFILE` without the `O_DIRECTORY` bit it includes.
const TMPFILE_BIT: u64 = (libc::O_TMPFILE & !libc::O_DIRECTORY) as u32 as u64;

/// epoll: `openat2(dir, path, flags, resolve | RESOLVE_CACHED)` on the worker,
/// with `O_NONBLOCK` added for the open itself; `Blocking` when the open would
/// wait (a lookup off the dentry cache, a FIFO without a peer, a lease), when it
/// creates or truncates (never cached), or when the kernel lacks the flag.
pub(super) fn open_cached(dir: RawFd, path: &CStr, flags: u64, resolve: u64) -> Attempt {
    let creates = (libc::O_CREAT | libc::O_TRUNC) as u64 | TMPFILE_BIT;
    if flags & creates != 0 || CACHED_OPENS.load(Ordering::Relaxed) == CACHED_NO {
        return Attempt::Blocking;
    }
    // O_PATH opens call no driver (and openat2 refuses O_NONBLOCK with it).
    let add_nonblock = flags & (libc::O_NONBLOCK | libc::O_PATH) as u64 == 0;
    let nonblock = if add_nonblock {
        libc::O_NONBLOCK as u64
    } else {
        0
    };
    let how = OpenHow::new()
        .flags(flags | nonblock)
        .resolve(resolve | libc::RESOLVE_CACHED);
    let res = openat2(dir, path, &how);
    let fd = match res {
        Ok(fd) => fd as RawFd,
        Err(e) => {
            return match e.raw_os_error() {
                Some(libc::EAGAIN) => Attempt::Blocking,
                // FIFO opened for writing with no reader: the blocking open waits.
                Some(libc::ENXIO) if add_nonblock => Attempt::Blocking,
                // An old kernel or a seccomp filter, or flags only openat(2)
                // accepts: the pool's call gives the real answer.
                Some(libc::ENOSYS | libc::EINVAL | libc::EPERM) => {
                    probe_cached_opens();
                    Attempt::Blocking
                }
                _ => Attempt::Done(Err(e)),
            };
        }
    };
    if add_nonblock {
        // F_SETFL changes only the O_APPEND/O_NONBLOCK/O_DIRECT/O_NOATIME/O_ASYNC
        // bits, to what the caller asked for.
        // SAFETY: F_SETFL on the descriptor just opened takes no pointers.
        if unsafe { libc::fcntl(fd, libc::F_SETFL, flags as u32 as libc::c_int) } < 0 {
            // SAFETY: `fd` is ours alone; the pool opens the path again.
            unsafe { libc::close(fd) };
            return Attempt::Blocking;
        }
    }
    Attempt::Done(Ok(fd as u32))
}

/// `openat2(2)`, which libc does not wrap.
pub(super) fn openat2(dir: RawFd, path: &CStr, how: &OpenHow) -> io::Result<u32> {
    let how: *const OpenHow = how;
    // `OpenHow` is a transparent wrapper of the kernel's `struct open_how`.
    let size = std::mem::size_of::<libc::open_how>();
    // SAFETY: `path` is NUL-terminated and `how` points to `size` readable
    // bytes laid out as `struct open_how`, both borrowed across the call.
    let fd = unsafe { libc::syscall(libc::SYS_openat2, dir, path.as_ptr(), how, size) };
    cvt(fd as isize)
}

/// After an inline open failed in a way an old kernel or a seccomp filter
/// would explain: finds out once, with an open of `/` that cannot fail for
/// another reason, whether `RESOLVE_CACHED` works at all.
fn probe_cached_opens() {
    if CACHED_OPENS.load(Ordering::Relaxed) != CACHED_UNKNOWN {
        return;
    }
    let how = OpenHow::new()
        .flags((libc::O_PATH | libc::O_CLOEXEC) as u64)
        .resolve(libc::RESOLVE_CACHED);
    let works = match openat2(libc::AT_FDCWD, c"/", &how) {
        Ok(fd) => {
            // SAFETY: the probe's descriptor is ours alone.
            unsafe { libc::close(fd as RawFd) };
            true
        }
        Err(e) => e.raw_os_error() == Some(libc::EAGAIN),
    };
    let state = if works { CACHED_YES } else { CACHED_NO };
    CACHED_OPENS.store(state, Ordering::Relaxed);
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
        // Path lookups and opens may wait on the disk: only a cached one runs here.
        let flags = self.flags as u32 as u64;
        open_cached(dirfd(self.dir.as_ref()), &self.path, flags, 0)
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
