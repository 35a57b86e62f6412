//! `sendfile(2)` as an operation: file → socket, attempted on readiness
//! (epoll). The transfer loop that picks a path per driver is
//! `transfer/send_file.rs`.

use std::io;

use io_uring::{opcode, squeue, types::Fd};

use super::{Attempt, Interest, Op, Operation, SharedFd};
use crate::sys::send_file_now;

/// A `sendfile` of up to `len` bytes of `file` from `offset` to `sock`.
#[derive(Debug)]
pub(crate) struct SendFile {
    /// The socket; kept open until the op is done.
    sock: SharedFd,
    /// The file; kept open until the op is done.
    file: SharedFd,
    /// Where in the file to start (the file position is neither used nor moved).
    offset: u64,
    /// At most this many bytes.
    len: u32,
}

impl Op<SendFile> {
    /// Sends up to `len` bytes of `file` from `offset`; resolves to the count
    /// sent, `0` at the end of the file. epoll only: see [`send_file`].
    pub(crate) fn send_file(sock: &SharedFd, file: &SharedFd, offset: u64, len: u32) -> Self {
        Op::new(SendFile {
            sock: sock.clone(),
            file: file.clone(),
            offset,
            len,
        })
    }
}

// SAFETY: the entry carries no pointers, only fd numbers the op keeps open.
unsafe impl Operation for SendFile {
    type Output = io::Result<u32>;

    /// io_uring has no sendfile, and [`send_file`] never submits this op there;
    /// should it be, this splice between two non-pipes fails with `EINVAL`.
    fn uring_entry(&mut self) -> squeue::Entry {
        opcode::Splice::new(
            Fd(self.file.raw()),
            self.offset as i64,
            Fd(self.sock.raw()),
            -1,
            self.len,
        )
        .build()
    }

    /// Non-blocking on the socket; a page-cache miss still waits for the disk.
    fn epoll_attempt(&mut self) -> Attempt {
        self.sock.ensure_nonblocking();
        Attempt::from_syscall(
            send_file_now(&self.sock, &self.file, self.offset, self.len),
            self.sock.raw(),
            self.sock.id(),
            Interest::Writable,
        )
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        res
    }
}
