//! `sendfile(2)`: file → socket without a copy through user space, and the
//! transfer loop `send_file` that both drivers share.
//!
//! This is the one place that picks a syscall sequence by driver, because the
//! two have no common one: io_uring has no sendfile opcode and splices through
//! a pipe (`splice.rs`), while on epoll a pipe would need two readiness waits
//! per round where sendfile on a non-blocking socket needs one.
//!
//! Neither sendfile nor splice takes `MSG_NOSIGNAL`: writing to a socket whose
//! peer has gone raises `SIGPIPE`. io_uring runs splices on its io-wq threads,
//! which block every signal; the syscalls made here run under
//! [`without_sigpipe`], which keeps a `SIGPIPE` they raise from being delivered.

use std::io;

use io_uring::{opcode, squeue, types::Fd};

use super::{cvt, io_len, splice, Attempt, Interest, Op, Operation, SharedFd};
use crate::DriverKind;

/// A `sendfile` of up to `len` bytes of `file` from `offset` to `sock`.
#[derive(Debug)]
pub(crate) struct SendFile {
    /// The socket; kept open until the op is done.
    sock: SharedFd,
    /// The file; kept open until the op is done.
    file: SharedFd,
    /// Where in the file to start (the file position is neither used nor moved).
    offset: u64,
    /// At most this many bytes.
    len: u32,
}

impl Op<SendFile> {
    /// Sends up to `len` bytes of `file` from `offset`; resolves to the count
    /// sent, `0` at the end of the file. epoll only: see [`send_file`].
    pub(crate) fn send_file(sock: &SharedFd, file: &SharedFd, offset: u64, len: u32) -> Self {
        Op::new(SendFile {
            sock: sock.clone(),
            file: file.clone(),
            offset,
            len,
        })
    }
}

// SAFETY: the entry carries no pointers, only fd numbers the op keeps open.
unsafe impl Operation for SendFile {
    type Output = io::Result<u32>;

    /// io_uring has no sendfile, and [`send_file`] never submits this op there;
    /// should it be, this splice between two non-pipes fails with `EINVAL`.
    fn uring_entry(&mut self) -> squeue::Entry {
        opcode::Splice::new(
            Fd(self.file.raw()),
            self.offset as i64,
            Fd(self.sock.raw()),
            -1,
            self.len,
        )
        .build()
    }

    /// Non-blocking on the socket; a page-cache miss still waits for the disk.
    fn epoll_attempt(&mut self) -> Attempt {
        self.sock.ensure_nonblocking();
        let mut off = self.offset as libc::off_t;
        let res = without_sigpipe(|| {
            // SAFETY: both fds are kept open by the op; `off` is a local that
            // outlives the call.
            unsafe {
                libc::sendfile(
                    self.sock.raw(),
                    self.file.raw(),
                    &mut off,
                    self.len as usize,
                )
            }
        });
        Attempt::from_syscall(
            cvt(res),
            self.sock.raw(),
            self.sock.id(),
            Interest::Writable,
        )
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        res
    }
}

/// Sends up to `len` bytes of `file` from `offset` to the socket `sock`,
/// looping over partial transfers until `len` bytes are sent or the file
/// ends; returns the bytes sent.
///
/// # Errors
///
/// `InvalidInput` if `offset` exceeds `i64::MAX`; otherwise the kernel's
/// error (`BrokenPipe` or `ConnectionReset` if the peer went away), after
/// which some bytes may have been sent.
pub(crate) async fn send_file(
    sock: &SharedFd,
    file: &SharedFd,
    offset: u64,
    len: u64,
) -> io::Result<u64> {
    if i64::try_from(offset).is_err() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "send_file offset exceeds i64::MAX",
        ));
    }
    if len == 0 {
        return Ok(0);
    }
    if crate::driver_kind() == DriverKind::Uring {
        return splice::send_file(sock, file, offset, len).await;
    }
    let mut sent = 0u64;
    while sent < len {
        let want = io_len(usize::try_from(len - sent).unwrap_or(usize::MAX));
        match Op::send_file(sock, file, offset + sent, want).await {
            Ok(0) => break, // end of file
            Ok(n) => sent += u64::from(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(sent)
}

/// Runs `f`, a syscall that writes to a socket or pipe, so that a `SIGPIPE`
/// it raises is never delivered: the caller sees `EPIPE` alone.
///
/// With `SIGPIPE` ignored (what Rust programs do by default) this costs one
/// `sigaction` query. Otherwise `SIGPIPE` is blocked on this thread around
/// the call, and one the call left pending is consumed before the old mask
/// returns, unless one was already pending before (it belongs to someone else).
pub(crate) fn without_sigpipe(f: impl FnOnce() -> isize) -> isize {
    // SAFETY: a zeroed sigaction is a valid out-parameter; a null `act` only queries.
    let ignored = unsafe {
        let mut cur: libc::sigaction = std::mem::zeroed();
        libc::sigaction(libc::SIGPIPE, std::ptr::null(), &mut cur) == 0
            && cur.sa_sigaction == libc::SIG_IGN
    };
    if ignored {
        return f();
    }
    // SAFETY: the sigset functions only write to the sets passed; the thread
    // mask is restored below before returning.
    unsafe {
        let mut pipe_set: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        let mut pending: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut pipe_set);
        libc::sigaddset(&mut pipe_set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &pipe_set, &mut old);
        libc::sigpending(&mut pending);
        let was_pending = libc::sigismember(&pending, libc::SIGPIPE) == 1;
        let res = f();
        let errno = io::Error::last_os_error().raw_os_error();
        if res < 0 && errno == Some(libc::EPIPE) && !was_pending {
            let zero = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            while libc::sigtimedwait(&pipe_set, std::ptr::null_mut(), &zero) < 0
                && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR)
            {}
        }
        libc::pthread_sigmask(libc::SIG_SETMASK, &old, std::ptr::null_mut());
        // Callers read errno after this returns: put the syscall's back.
        if let (true, Some(e)) = (res < 0, errno) {
            *libc::__errno_location() = e;
        }
        res
    }
}
