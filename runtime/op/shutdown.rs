//! `shutdown(2)`: end one or both directions of a connected socket.

use std::io;

use io_uring::{opcode, squeue, types::Fd};

use super::{cvt, Attempt, Op, Operation, SharedFd};

/// A shutdown of `how` (`SHUT_RD`, `SHUT_WR` or `SHUT_RDWR`).
#[derive(Debug)]
pub(crate) struct Shutdown {
    /// Keeps the socket open until the kernel lets go.
    fd: SharedFd,
    /// Which direction(s) to end.
    how: libc::c_int,
}

impl Op<Shutdown> {
    /// Shuts down `how` on `fd`.
    pub(crate) fn shutdown(fd: &SharedFd, how: std::net::Shutdown) -> Self {
        let how = match how {
            std::net::Shutdown::Read => libc::SHUT_RD,
            std::net::Shutdown::Write => libc::SHUT_WR,
            std::net::Shutdown::Both => libc::SHUT_RDWR,
        };
        Op::new(Shutdown {
            fd: fd.clone(),
            how,
        })
    }
}

// SAFETY: a shutdown entry carries no pointers.
unsafe impl Operation for Shutdown {
    type Output = io::Result<()>;

    fn uring_entry(&mut self) -> squeue::Entry {
        opcode::Shutdown::new(Fd(self.fd.raw()), self.how).build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        // shutdown(2) never blocks.
        // SAFETY: shutdown takes no pointers.
        Attempt::Done(cvt(
            unsafe { libc::shutdown(self.fd.raw(), self.how) } as isize
        ))
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        res.map(drop)
    }
}
