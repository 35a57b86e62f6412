//! The futures of kernel operations and one file per operation, each
//! implementing both drivers.
//!
//! An op type owns everything the kernel may touch while it runs and
//! implements [`Operation`]; the public types in `net` and `fs` await it
//! through an [`Op`] future. Adding an operation
//! means adding one file here. Descriptor and address plumbing lives in
//! `sys/`, algorithms built from several ops in `transfer/`.

mod op_future;
pub(crate) mod poll_io;
mod ready;
mod receive;
mod receivers;

mod accept;
mod close;
mod connect;
mod fallocate;
mod fixed;
mod fsync;
mod link_at;
mod mkdir_at;
#[cfg(test)]
mod nop;
mod open_at;
mod open_at2;
mod poll_add;
mod read;
mod read_fixed;
mod readv;
mod recv;
mod recv_msg;
mod rename_at;
mod send;
mod send_file;
mod send_msg;
pub(crate) mod send_queued;
pub(crate) mod send_zc;
mod shutdown;
mod splice;
mod statx;
mod symlink_at;
mod unlink_at;
mod write;
mod write_fixed;
mod writev;

#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod tests;

pub(crate) use accept::Accept;
pub(crate) use connect::Connect;
pub(crate) use fixed::{Fixed, FixedFile};
pub(crate) use op_future::{driver_in_call, register, try_with_driver, with_driver, Op};
pub(crate) use poll_add::PollAdd;
pub(crate) use read::Read;
pub(crate) use read_fixed::ReadFixed;
pub(crate) use ready::poll_readable;
pub(crate) use receive::Receive;
pub(crate) use receivers::{AcceptConn, DatagramRecv, StreamRead, StreamReadv, StreamRecvBuf};
pub(crate) use recv::Recv;
pub(crate) use recv_msg::RecvMsg;
pub(crate) use send::Send;
pub(crate) use send_msg::SendMsg;
pub(crate) use send_zc::SendZc;
pub(crate) use splice::splice_now;
pub(crate) use statx::statx_fd_cached;
pub(crate) use write::Write;
pub(crate) use write_fixed::WriteFixed;

pub(crate) use crate::driver::{Attempt, Interest, Operation};
use crate::sys::{cvt, io_len, SharedFd};

/// epoll: runs `syscall` on `fd`, made non-blocking first, and classifies
/// its result: `EAGAIN` waits until `fd` is ready for `interest`.
#[inline]
fn attempt_nonblocking(
    fd: &SharedFd,
    interest: Interest,
    syscall: impl FnOnce() -> std::io::Result<u32>,
) -> Attempt {
    fd.ensure_nonblocking();
    Attempt::from_syscall(syscall(), fd.raw(), fd.id(), interest)
}

/// epoll: a write's attempt. A regular file's write may wait on the disk,
/// so the blocking pool runs it; anything else is tried non-blocking.
#[inline]
fn attempt_write(fd: &SharedFd, syscall: impl FnOnce() -> std::io::Result<u32>) -> Attempt {
    if fd.is_file() {
        return Attempt::Blocking;
    }
    attempt_nonblocking(fd, Interest::Writable, syscall)
}

/// A single-buffer read's output: `buf` back, with the bytes the kernel
/// wrote into it marked initialised.
///
/// # Safety
///
/// On `Ok(n)`, the kernel wrote the first `n` bytes of `buf`.
#[inline]
unsafe fn filled<B: crate::buf::IoBufMut>(
    mut buf: B,
    res: std::io::Result<u32>,
) -> crate::buf::BufResult<usize, B> {
    if let Ok(n) = res {
        // SAFETY: the caller vouches that the kernel wrote these `n` bytes.
        unsafe { buf.set_init(n as usize) };
    }
    (res.map(|n| n as usize), buf)
}
