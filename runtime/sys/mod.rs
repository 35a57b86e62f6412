//! Descriptor and address plumbing shared by the ops and the `net`/`fs`
//! types: the reference-counted descriptor, socket addresses in kernel
//! layout, `msghdr`/`iovec` storage, and the synchronous socket calls
//! (among them `sendfile` and the `SIGPIPE` guard that ops and `transfer/`
//! share, so that `op/` needs nothing from `transfer/`).

mod ftruncate;
mod msg_header;
mod send_file;
mod shared_fd;
mod sigpipe;
mod sock_addr;
pub(crate) mod socket;
pub(crate) mod stream_io;
mod unix_addr;

use std::ffi::CString;
use std::io;
use std::path::Path;

pub(crate) use crate::driver::cvt;
pub(crate) use ftruncate::ftruncate;
pub(crate) use msg_header::{IoVecs, IoVecsMut, MsgHeader, One};
pub(crate) use send_file::send_file_now;
pub(crate) use shared_fd::{FdHandle, SharedFd};
pub(crate) use sigpipe::without_sigpipe;
pub(crate) use sock_addr::SockAddr;
pub(crate) use unix_addr::{
    from_sock_addr as unix_from_sock_addr, to_sock_addr as unix_to_sock_addr,
};

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
#[inline]
pub(crate) fn io_len(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX).min(i32::MAX as u32)
}
