//! `accept4(2)`: one connection (`Accept`), or a stream of them from one
//! submission (`AcceptMulti`, io_uring's multishot accept).
//!
//! Accepted descriptors come back as `OwnedFd`, so one nobody takes (the
//! future or stream was dropped while the kernel was accepting) is closed.

use std::io;
use std::os::fd::{FromRawFd, OwnedFd};

use io_uring::{opcode, squeue, types::Fd};

use super::{cvt, Attempt, Interest, Op, Operation, SharedFd};
use crate::driver::Multishot;
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
}

impl Op<Accept> {
    /// Accepts one connection on `fd`.
    pub(crate) fn accept(fd: &SharedFd) -> Self {
        Op::new(Accept {
            fd: fd.clone(),
            addr: SockAddr::empty(),
        })
    }
}

// SAFETY: the entry points only into `addr`, which lives in the (boxed) op.
unsafe impl Operation for Accept {
    type Output = io::Result<(OwnedFd, SockAddr)>;

    fn uring_entry(&mut self) -> squeue::Entry {
        let ptr = self.addr.as_mut_ptr();
        opcode::Accept::new(Fd(self.fd.raw()), ptr, self.addr.len_mut())
            .flags(ACCEPT_FLAGS)
            .build()
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
}

/// Accepts connection after connection from one submission (io_uring
/// multishot accept); on epoll, one `accept4` per item.
///
/// Kernels without multishot accept (before 5.19) reject it with `EINVAL`;
/// the op then falls back to one single-shot accept per re-arm.
#[derive(Debug)]
pub(crate) struct AcceptMulti {
    /// The listener; kept open until the kernel lets go.
    fd: SharedFd,
    /// Whether entries ask for multishot (cleared by the fallback).
    multishot: bool,
    /// Whether any connection arrived (an `EINVAL` after that is real).
    delivered: bool,
}

impl AcceptMulti {
    /// A multishot accept on `fd`.
    pub(crate) fn new(fd: &SharedFd) -> Self {
        AcceptMulti {
            fd: fd.clone(),
            multishot: true,
            delivered: false,
        }
    }
}

// SAFETY: the entries carry no pointers (no peer address is asked for).
unsafe impl Operation for AcceptMulti {
    /// The last result, when the op was dropped: any fd in it is closed.
    type Output = ();

    fn uring_entry(&mut self) -> squeue::Entry {
        if self.multishot {
            opcode::AcceptMulti::new(Fd(self.fd.raw()))
                .flags(ACCEPT_FLAGS)
                .build()
        } else {
            let (addr, len) = (std::ptr::null_mut(), std::ptr::null_mut());
            opcode::Accept::new(Fd(self.fd.raw()), addr, len)
                .flags(ACCEPT_FLAGS)
                .build()
        }
    }

    fn epoll_attempt(&mut self) -> Attempt {
        self.fd.ensure_nonblocking();
        let (addr, len) = (std::ptr::null_mut(), std::ptr::null_mut());
        // SAFETY: null address pointers ask the kernel for no peer address.
        let res = cvt(unsafe { libc::accept4(self.fd.raw(), addr, len, ACCEPT_FLAGS) } as isize);
        Attempt::from_syscall(res, self.fd.raw(), self.fd.id(), Interest::Readable)
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        if let Ok(fd) = res {
            drop(owned(fd));
        }
    }

    fn discard_shot(&mut self, res: io::Result<u32>, _flags: u32) {
        if let Ok(fd) = res {
            drop(owned(fd));
        }
    }
}

impl Multishot for AcceptMulti {
    /// `None`: nothing to report (the multishot fallback kicked in); poll again.
    type Item = Option<io::Result<OwnedFd>>;

    fn next(&mut self, res: io::Result<u32>, _flags: u32) -> Self::Item {
        match res {
            Ok(fd) => {
                self.delivered = true;
                Some(Ok(owned(fd)))
            }
            Err(e)
                if e.raw_os_error() == Some(libc::EINVAL) && self.multishot && !self.delivered =>
            {
                self.multishot = false;
                None
            }
            Err(e) => Some(Err(e)),
        }
    }
}
