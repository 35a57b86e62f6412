//! Kernel operations, one file each, each implementing both drivers.
//!
//! An op type owns everything the kernel may touch while it runs and
//! implements [`Operation`](crate::driver::Operation); the public types in
//! `net` and `fs` wrap it in an [`Op`](crate::driver::Op) future. Adding an
//! operation means adding one file here.

mod accept;
mod cachestat;
mod close;
mod connect;
mod fallocate;
mod fixed;
mod fsync;
mod ftruncate;
mod link_at;
mod mkdir_at;
mod msg_header;
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
mod shared_fd;
mod shutdown;
mod sock_addr;
pub(crate) mod socket;
mod splice;
mod statx;
mod symlink_at;
mod unix_addr;
mod unlink_at;
mod write;
mod write_fixed;
mod writev;

#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod tests;

pub(crate) use accept::{Accept, AcceptMulti};
pub(crate) use connect::Connect;
pub(crate) use fixed::{fixed_for, may_be_fixed, FixedFile};
pub(crate) use ftruncate::ftruncate;
pub(crate) use msg_header::One;
pub(crate) use poll_add::PollAdd;
pub(crate) use read::Read;
pub(crate) use read_fixed::ReadFixed;
pub(crate) use recv::Recv;
pub(crate) use recv_msg::RecvMsg;
pub(crate) use send::Send;
pub(crate) use send_file::send_file;
pub(crate) use send_msg::SendMsg;
pub(crate) use shared_fd::SharedFd;
pub(crate) use sock_addr::SockAddr;
pub(crate) use statx::statx_fd_cached;
pub(crate) use unix_addr::{
    from_sock_addr as unix_from_sock_addr, to_sock_addr as unix_to_sock_addr,
};
pub(crate) use write::Write;
pub(crate) use write_fixed::WriteFixed;

pub(crate) use crate::driver::{cvt, Attempt, Interest, Op, Operation};

use std::ffi::CString;
use std::io;
use std::path::Path;

/// An owned, NUL-terminated copy of `path` for the kernel; a NUL inside the
/// path is an `InvalidInput` error, not a panic.
pub(crate) fn cstring(path: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("path contains a NUL byte: {}", path.display()),
        )
    })
}

/// The length the kernel accepts for one transfer (it caps at `i32::MAX` anyway).
pub(crate) fn io_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX).min(i32::MAX as u32)
}
