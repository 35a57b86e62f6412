//! `connect(2)` to an owned socket address.
//!
//! io_uring performs the whole connect. epoll starts a non-blocking connect
//! (`EINPROGRESS`), waits for the socket to become writable, then reads the
//! outcome with `getsockopt(SO_ERROR)`.

use std::io;

use io_uring::{opcode, squeue, types::Fd};

use super::{cvt, Attempt, Interest, Op, Operation, SharedFd};
use crate::sys::{socket, SockAddr};

/// A connect of `fd` to `addr`.
#[derive(Debug)]
pub(crate) struct Connect {
    /// Keeps the socket open until the kernel lets go.
    fd: SharedFd,
    /// The peer's address, which the kernel reads.
    addr: SockAddr,
    /// epoll: the non-blocking connect has started; later attempts check its outcome.
    started: bool,
}

impl Op<Connect> {
    /// Connects `fd` to `addr`.
    pub(crate) fn connect(fd: &SharedFd, addr: SockAddr) -> Self {
        Op::new(Connect {
            fd: fd.clone(),
            addr,
            started: false,
        })
    }
}

impl Connect {
    /// epoll, after the socket reported writable: did the connect finish?
    fn outcome(&mut self) -> Attempt {
        let waiting = Attempt::WouldBlock {
            fd: self.fd.raw(),
            fd_id: self.fd.id(),
            interest: Interest::Writable,
        };
        match socket::take_error(std::os::fd::AsFd::as_fd(&self.fd)) {
            Err(e) => Attempt::Done(Err(e)),
            Ok(Some(e)) => Attempt::Done(Err(e)),
            Ok(None) => match socket::peer_addr(std::os::fd::AsFd::as_fd(&self.fd)) {
                Ok(_) => Attempt::Done(Ok(0)),
                // No error and no peer: still in progress (a spurious wake-up).
                Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => waiting,
                Err(e) => Attempt::Done(Err(e)),
            },
        }
    }
}

// SAFETY: the entry points only into `addr`, which lives in the (boxed) op.
unsafe impl Operation for Connect {
    type Output = io::Result<()>;

    fn uring_entry(&mut self) -> squeue::Entry {
        opcode::Connect::new(Fd(self.fd.raw()), self.addr.as_ptr(), self.addr.len()).build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        if self.started {
            return self.outcome();
        }
        self.fd.ensure_nonblocking();
        let (ptr, len) = (self.addr.as_ptr(), self.addr.len());
        // SAFETY: `ptr` points to `len` valid bytes of a socket address.
        let res = cvt(unsafe { libc::connect(self.fd.raw(), ptr, len) } as isize);
        match res {
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {
                self.started = true;
                Attempt::WouldBlock {
                    fd: self.fd.raw(),
                    fd_id: self.fd.id(),
                    interest: Interest::Writable,
                }
            }
            // EAGAIN (a full Unix-socket backlog): try the connect again when writable.
            res => Attempt::from_syscall(res, self.fd.raw(), self.fd.id(), Interest::Writable),
        }
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        res.map(drop)
    }
}
