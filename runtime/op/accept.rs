//! `accept4(2)`: one connection. On epoll it is taken from the backlog by
//! the poll that returns it (the readiness protocol), so a dropped accept
//! leaves it there; on io_uring listeners accept with a multishot into
//! their queue (`driver/source.rs`), and this one-shot, if ever started,
//! hands a connection its future no longer wants to that queue.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use io_uring::{opcode, squeue, types::Fd};

use super::receive::{adopt, error_chunk};
use super::{cvt, Attempt, Interest, Operation, SharedFd};
use crate::driver::Chunk;
use crate::sys::SockAddr;

/// Flags of every accepted socket: close-on-exec, and blocking (io_uring wants
/// it so; the epoll driver sets `O_NONBLOCK` before its first attempt).
const ACCEPT_FLAGS: libc::c_int = libc::SOCK_CLOEXEC;

/// Takes ownership of a descriptor the kernel just returned.
fn owned(fd: u32) -> OwnedFd {
    // SAFETY: a successful accept returned a new descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(fd as i32) }
}

/// One accept on a listening socket, with the peer's address.
#[derive(Debug)]
pub(crate) struct Accept {
    /// The listener; kept open until the kernel lets go.
    fd: SharedFd,
    /// Where the kernel writes the peer's address.
    addr: SockAddr,
    /// io_uring: `EAGAIN` rather than a wait in the kernel when no
    /// connection is there (`AcceptConn::shared`).
    dontwait: bool,
}

impl Accept {
    /// Accepts one connection on `fd`; `dontwait`: see the field.
    pub(crate) fn new(fd: &SharedFd, dontwait: bool) -> Self {
        Accept {
            fd: fd.clone(),
            addr: SockAddr::empty(),
            dontwait,
        }
    }
}

/// `IORING_ACCEPT_DONTWAIT` (Linux 6.10), in the entry's `ioprio`.
const IORING_ACCEPT_DONTWAIT: u16 = 1 << 1;

/// `entry` with its `ioprio` field set to `ioprio`, which the io-uring crate's
/// `Accept` builder does not set.
fn with_ioprio(entry: squeue::Entry, ioprio: u16) -> squeue::Entry {
    // SAFETY: `squeue::Entry` is `repr(C)` around the kernel's 64-byte
    // `io_uring_sqe` (transmute checks the size), any bytes of which are a
    // valid value of it; `ioprio` is its `u16` at offset 2 (the kernel ABI).
    let mut raw: [u8; 64] = unsafe { std::mem::transmute(entry) };
    raw[2..4].copy_from_slice(&ioprio.to_ne_bytes());
    // SAFETY: as above: the same bytes back, with the one field changed.
    unsafe { std::mem::transmute::<[u8; 64], squeue::Entry>(raw) }
}

// SAFETY: the entry points only into `addr`, which lives in the (boxed) op.
unsafe impl Operation for Accept {
    type Output = io::Result<(OwnedFd, SockAddr)>;

    /// A dropped accept runs on, and its listener adopts the connection.
    const CANCEL_ON_DROP: bool = false;

    fn uring_entry(&mut self) -> squeue::Entry {
        let ptr = self.addr.as_mut_ptr();
        let entry = opcode::Accept::new(Fd(self.fd.raw()), ptr, self.addr.len_mut())
            .flags(ACCEPT_FLAGS)
            .build();
        match self.dontwait {
            true => with_ioprio(entry, IORING_ACCEPT_DONTWAIT),
            false => entry,
        }
    }

    fn epoll_target(&self) -> Option<(RawFd, u64, Interest)> {
        Some((self.fd.raw(), self.fd.id(), Interest::Readable))
    }

    fn epoll_attempt(&mut self) -> Attempt {
        self.fd.ensure_nonblocking();
        let ptr = self.addr.as_mut_ptr();
        let len = self.addr.len_mut();
        // SAFETY: `ptr` is writable for `*len` bytes; the kernel updates `*len`.
        let res = cvt(unsafe { libc::accept4(self.fd.raw(), ptr, len, ACCEPT_FLAGS) } as isize);
        Attempt::from_syscall(res, self.fd.raw(), self.fd.id(), Interest::Readable)
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        res.map(|fd| (owned(fd), self.addr))
    }

    /// The future is gone: the connection waits in the listener's queue.
    fn orphaned(self, res: io::Result<u32>) -> bool {
        let chunk = match res {
            Ok(fd) => Some(Chunk::Conn(owned(fd))),
            Err(e) => error_chunk(&e),
        };
        adopt(&self.fd, chunk)
    }
}
