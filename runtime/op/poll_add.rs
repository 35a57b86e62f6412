//! `IORING_OP_POLL_ADD`: wait until a descriptor is ready, for syscalls the
//! kernel cannot wait in itself without parking one of its threads.
//!
//! `send_file` uses it on io_uring: its `sendfile(2)` (resident file data) or
//! pipe → socket splice (the rest) runs on the worker against a non-blocking
//! socket, so a full socket buffer returns `EAGAIN` rather than blocking the
//! worker or holding an io-wq thread until a slow peer reads, and the
//! transfer waits here for room instead.

use std::io;

use io_uring::{opcode, squeue, types::Fd};

use super::{cvt, Attempt, Interest, Op, Operation, SharedFd};

/// A one-shot wait for `fd` to become ready for `interest`.
#[derive(Debug)]
pub(crate) struct PollAdd {
    /// Keeps the descriptor open until the kernel lets go.
    fd: SharedFd,
    /// The direction to wait for.
    interest: Interest,
}

impl Op<PollAdd> {
    /// Resolves once `fd` is ready for `interest` (or has an error or hang-up
    /// pending, which the next syscall on it reports).
    pub(crate) fn poll_add(fd: &SharedFd, interest: Interest) -> Self {
        Op::new(PollAdd {
            fd: fd.clone(),
            interest,
        })
    }
}

impl PollAdd {
    /// The `poll(2)` event mask for `interest`.
    fn events(&self) -> libc::c_short {
        match self.interest {
            Interest::Readable => libc::POLLIN,
            Interest::Writable => libc::POLLOUT,
        }
    }
}

// SAFETY: the entry carries no pointers, only an fd number the op keeps open.
unsafe impl Operation for PollAdd {
    type Output = io::Result<()>;

    fn uring_entry(&mut self) -> squeue::Entry {
        opcode::PollAdd::new(Fd(self.fd.raw()), self.events() as u32).build()
    }

    /// A zero-timeout `poll(2)`: ready now, or wait for the epoll driver's edge.
    fn epoll_attempt(&mut self) -> Attempt {
        let mut pfd = libc::pollfd {
            fd: self.fd.raw(),
            events: self.events(),
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd that outlives the call; the op keeps `fd` open.
        let res = cvt(unsafe { libc::poll(&mut pfd, 1, 0) } as isize);
        let res = match res {
            Ok(0) => Err(io::Error::from_raw_os_error(libc::EAGAIN)),
            res => res,
        };
        Attempt::from_syscall(res, self.fd.raw(), self.fd.id(), self.interest)
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        res.map(drop)
    }
}
