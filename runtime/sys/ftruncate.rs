//! `ftruncate(2)`, as a plain blocking call for the blocking pool.
//!
//! `IORING_OP_FTRUNCATE` only exists since Linux 6.9, and the driver requires
//! every opcode it submits to be present, so requiring it would push older
//! kernels onto epoll for one rarely used call. Callers run this on the
//! blocking pool instead, on both drivers.

use std::io;

use super::{cvt, SharedFd};

/// Sets the size of `fd`'s file to `len`, blocking the calling thread.
pub(crate) fn ftruncate(fd: &SharedFd, len: u64) -> io::Result<()> {
    let len = libc::off_t::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "file length exceeds i64::MAX"))?;
    // SAFETY: `fd` is kept open by the borrow; no pointers are passed.
    let res = unsafe { libc::ftruncate(fd.raw(), len) };
    cvt(res as isize).map(drop)
}
