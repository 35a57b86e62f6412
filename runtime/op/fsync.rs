//! `fsync(2)` / `fdatasync(2)`: flush a file to its storage.

use std::io;

use io_uring::{opcode, squeue, types::Fd, types::FsyncFlags};

use super::{cvt, Attempt, Op, Operation, SharedFd};

/// A sync of `fd`'s data, and of its metadata unless `datasync`.
#[derive(Debug)]
pub(crate) struct Fsync {
    /// Keeps the descriptor open until the kernel lets go.
    fd: SharedFd,
    /// `fdatasync`: skip metadata not needed to read the data back.
    datasync: bool,
}

impl Op<Fsync> {
    /// `fsync(2)`: data and metadata.
    pub(crate) fn sync_all(fd: &SharedFd) -> Self {
        Op::new(Fsync {
            fd: fd.clone(),
            datasync: false,
        })
    }

    /// `fdatasync(2)`: data, and only the metadata needed to read it.
    pub(crate) fn sync_data(fd: &SharedFd) -> Self {
        Op::new(Fsync {
            fd: fd.clone(),
            datasync: true,
        })
    }
}

// SAFETY: the entry carries no pointers (so the op may run in place).
unsafe impl Operation for Fsync {
    type Output = io::Result<()>;

    const IN_PLACE: bool = true;

    fn uring_entry(&mut self) -> squeue::Entry {
        let flags = if self.datasync {
            FsyncFlags::DATASYNC
        } else {
            FsyncFlags::empty()
        };
        opcode::Fsync::new(Fd(self.fd.raw())).flags(flags).build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        Attempt::Blocking
    }

    fn run_blocking(&mut self) -> io::Result<u32> {
        let fd = self.fd.raw();
        // SAFETY: the op keeps `fd` open; neither call takes a pointer.
        let res = unsafe {
            if self.datasync {
                libc::fdatasync(fd)
            } else {
                libc::fsync(fd)
            }
        };
        cvt(res as isize)
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        res.map(drop)
    }
}
