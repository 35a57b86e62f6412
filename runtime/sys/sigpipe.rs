//! Socket and pipe writes that never deliver `SIGPIPE`, for the syscalls
//! that take no `MSG_NOSIGNAL` (`sendfile(2)`, `splice(2)`).

use std::io;

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
