//! Non-blocking `recv`/`send`/`sendmsg`/`shutdown` on a stream socket, made
//! by the worker itself for the poll-based streams (the tokio, futures and
//! hyper bridges): on epoll, the receive and sends that `op::poll_io` makes
//! on readiness (on io_uring the kernel receives and sends instead); on both
//! drivers, the shutdown that follows the last queued send.
//!
//! Each passes `MSG_DONTWAIT`, so it never blocks whatever the descriptor's
//! flags, and sends pass `MSG_NOSIGNAL`, so a gone peer is `EPIPE`, never
//! `SIGPIPE`.

#![cfg_attr(
    not(any(feature = "tokio-io", feature = "futures-io", feature = "hyper")),
    allow(dead_code)
)]

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::os::fd::RawFd;

use super::cvt;

/// `recv(2)` into `buf`, which may be uninitialised; returns the count of
/// bytes the kernel wrote at its start (`0`: end of stream).
pub(crate) fn recv(fd: RawFd, buf: &mut [MaybeUninit<u8>]) -> io::Result<usize> {
    // SAFETY: `buf` is writable for `buf.len()` bytes for the call's duration,
    // and the kernel writes only initialised bytes into it.
    let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
    cvt(n).map(|n| n as usize)
}

/// `send(2)` of `buf`; returns how many bytes the kernel took.
pub(crate) fn send(fd: RawFd, buf: &[u8]) -> io::Result<usize> {
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    // SAFETY: `buf` is readable for `buf.len()` bytes for the call's duration.
    let n = unsafe { libc::send(fd, buf.as_ptr().cast(), buf.len(), flags) };
    cvt(n).map(|n| n as usize)
}

/// `sendmsg(2)` of `bufs` in order (a gather write, no copy); returns how
/// many bytes the kernel took.
pub(crate) fn send_vectored(fd: RawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    // The kernel refuses more than IOV_MAX entries; the rest go in a later call.
    let bufs = &bufs[..bufs.len().min(libc::UIO_MAXIOV as usize)];
    // SAFETY: all zeroes is a valid, empty `msghdr`.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // `IoSlice` is guaranteed ABI-compatible with `iovec` on Unix; sendmsg
    // only reads through the pointer despite its `*mut` type.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len() as _;
    let flags = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;
    // SAFETY: `msg` names `bufs.len()` iovecs, each readable for its length,
    // all alive for the call's duration.
    let n = unsafe { libc::sendmsg(fd, &msg, flags) };
    cvt(n).map(|n| n as usize)
}

/// `shutdown(2)` of the writing direction; it never blocks.
pub(crate) fn shutdown_write(fd: RawFd) -> io::Result<()> {
    // SAFETY: shutdown(2) takes no pointers.
    cvt(unsafe { libc::shutdown(fd, libc::SHUT_WR) } as isize).map(drop)
}
