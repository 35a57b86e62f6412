//! Socket setup: `socket(2)`, `bind`, `listen`, `get/setsockopt`,
//! `getsockname`, `getpeername`. Synchronous, because none of them blocks;
//! the `net` types call these instead of holding `unsafe` themselves.

use std::io;
use std::mem;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use super::{cvt, SockAddr};

/// A new socket (`SOCK_CLOEXEC`, blocking: the epoll driver sets `O_NONBLOCK`
/// itself before its first attempt, and on io_uring so does `send_file`, which
/// calls sendfile and splice on the worker; io_uring's own socket ops arm
/// their poll whichever way the flag is).
pub(crate) fn socket(domain: libc::c_int, ty: libc::c_int) -> io::Result<OwnedFd> {
    // SAFETY: socket(2) takes no pointers.
    let fd = cvt(unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, 0) } as isize)?;
    // SAFETY: socket(2) returned a new descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// `bind(2)`.
pub(crate) fn bind(fd: BorrowedFd<'_>, addr: &SockAddr) -> io::Result<()> {
    // SAFETY: `addr` points to `addr.len()` valid bytes of a socket address.
    cvt(unsafe { libc::bind(fd.as_raw_fd(), addr.as_ptr(), addr.len()) } as isize).map(drop)
}

/// `listen(2)`; the kernel caps `backlog` at `net.core.somaxconn`.
pub(crate) fn listen(fd: BorrowedFd<'_>, backlog: u32) -> io::Result<()> {
    let backlog = libc::c_int::try_from(backlog).unwrap_or(libc::c_int::MAX);
    // SAFETY: listen(2) takes no pointers.
    cvt(unsafe { libc::listen(fd.as_raw_fd(), backlog) } as isize).map(drop)
}

/// `setsockopt(2)` with a plain-data value (an `int`, a `linger`, …).
pub(crate) fn setsockopt<T: Copy>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: T,
) -> io::Result<()> {
    let ptr: *const T = &value;
    // SAFETY: `ptr` points to `size_of::<T>()` readable bytes for the call's duration.
    let res = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            ptr.cast(),
            mem::size_of::<T>() as libc::socklen_t,
        )
    };
    cvt(res as isize).map(drop)
}

/// `getsockopt(2)` of a plain-data value; `T` must be valid for any bit pattern
/// the kernel writes (integers and C structs of integers are).
pub(crate) fn getsockopt<T: Copy>(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
) -> io::Result<T> {
    // SAFETY: callers use integer-only types, for which all zeroes is valid.
    let mut value: T = unsafe { mem::zeroed() };
    let mut len = mem::size_of::<T>() as libc::socklen_t;
    let ptr: *mut T = &mut value;
    // SAFETY: `ptr` is writable for `len` bytes and `len` is a valid socklen_t.
    let res = unsafe { libc::getsockopt(fd.as_raw_fd(), level, name, ptr.cast(), &mut len) };
    cvt(res as isize)?;
    Ok(value)
}

/// `SO_ERROR`: the pending error of the socket (clears it), if any.
pub(crate) fn take_error(fd: BorrowedFd<'_>) -> io::Result<Option<io::Error>> {
    let err: libc::c_int = getsockopt(fd, libc::SOL_SOCKET, libc::SO_ERROR)?;
    Ok((err != 0).then(|| io::Error::from_raw_os_error(err)))
}

/// `getsockname(2)`: the address the socket is bound to.
pub(crate) fn local_addr(fd: BorrowedFd<'_>) -> io::Result<SockAddr> {
    let mut addr = SockAddr::empty();
    let ptr = addr.as_mut_ptr();
    // SAFETY: `ptr` is writable for the length `len_mut` holds, which the kernel updates.
    cvt(unsafe { libc::getsockname(fd.as_raw_fd(), ptr, addr.len_mut()) } as isize)?;
    Ok(addr)
}

/// `getpeername(2)`: the address of the connected peer (`ENOTCONN` if none).
pub(crate) fn peer_addr(fd: BorrowedFd<'_>) -> io::Result<SockAddr> {
    let mut addr = SockAddr::empty();
    let ptr = addr.as_mut_ptr();
    // SAFETY: `ptr` is writable for the length `len_mut` holds, which the kernel updates.
    cvt(unsafe { libc::getpeername(fd.as_raw_fd(), ptr, addr.len_mut()) } as isize)?;
    Ok(addr)
}

/// Clears `O_NONBLOCK`, for sockets adopted from std that may have set it, so
/// that [`SharedFd`](super::SharedFd)'s record ("not yet set") is true; whoever
/// needs the flag (the epoll driver, `send_file`) sets it again, once.
pub(crate) fn set_blocking(fd: BorrowedFd<'_>) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: F_GETFL takes no pointers.
    let flags = cvt(unsafe { libc::fcntl(raw, libc::F_GETFL) } as isize)? as libc::c_int;
    if flags & libc::O_NONBLOCK != 0 {
        // SAFETY: F_SETFL takes an integer argument, no pointers.
        cvt(unsafe { libc::fcntl(raw, libc::F_SETFL, flags & !libc::O_NONBLOCK) } as isize)?;
    }
    Ok(())
}
