//! `recv(2)` into an owned buffer (sockets; `MSG_PEEK` for peeking). On
//! io_uring this is the one-shot receive of the receive protocol
//! (`driver/source.rs`): if its future is dropped, what it received is
//! adopted by the socket's queue instead of being lost.

use std::io;
use std::os::fd::RawFd;

use io_uring::{opcode, squeue, types::Fd};

use super::receive::adopt;
use super::{cvt, filled, io_len, Attempt, Interest, Operation, SharedFd};
use crate::buf::{BufResult, IoBufMut};
use crate::driver::{Chunk, Datagram};

/// A receive into `buf`, from its start, up to its total capacity.
#[derive(Debug)]
pub(crate) struct Recv<B> {
    /// Keeps the socket open until the kernel lets go.
    fd: SharedFd,
    /// Where the kernel writes; returned to the caller.
    buf: B,
    /// `MSG_*` flags, such as `MSG_PEEK`.
    flags: libc::c_int,
    /// A stream socket, where a short read means the socket is empty (not
    /// so for datagrams: a short datagram says nothing of the next one),
    /// and adopted bytes join the stream rather than form a datagram.
    stream: bool,
}

impl<B: IoBufMut> Recv<B> {
    /// Receives from a stream socket (TCP, Unix stream) into `buf`.
    pub(crate) fn stream(fd: &SharedFd, buf: B, flags: libc::c_int) -> Self {
        Recv {
            fd: fd.clone(),
            buf,
            flags,
            stream: true,
        }
    }

    /// A real read of a stream socket, after which a short count means the
    /// socket is empty (a peek leaves the data where it was).
    fn drains(&self) -> bool {
        self.stream && self.flags & libc::MSG_PEEK == 0
    }
}

// SAFETY: the entry points only into `buf`'s memory, which `IoBufMut` keeps
// where it is wherever the op moves (so the op may run in place).
unsafe impl<B: IoBufMut> Operation for Recv<B> {
    type Output = BufResult<usize, B>;

    const IN_PLACE: bool = true;

    /// A dropped receive runs on, and its socket adopts the result.
    const CANCEL_ON_DROP: bool = false;

    fn uring_entry(&mut self) -> squeue::Entry {
        let len = io_len(self.buf.bytes_total());
        opcode::Recv::new(Fd(self.fd.raw()), self.buf.stable_mut_ptr(), len)
            .flags(self.flags)
            .build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        self.fd.ensure_nonblocking();
        let (ptr, len) = (self.buf.stable_mut_ptr(), self.buf.bytes_total());
        // SAFETY: `ptr` is valid for `len` writable bytes (IoBufMut contract).
        let res = cvt(unsafe { libc::recv(self.fd.raw(), ptr.cast(), len, self.flags) });
        // A peek leaves the data where it was: only a short real read drains.
        let asked = if self.drains() { len } else { 0 };
        Attempt::from_stream_syscall(res, asked, self.fd.raw(), self.fd.id(), Interest::Readable)
    }

    fn epoll_target(&self) -> Option<(RawFd, u64, Interest)> {
        Some((self.fd.raw(), self.fd.id(), Interest::Readable))
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        // SAFETY: on `Ok(n)` the kernel initialised the first `n` bytes of `buf`.
        unsafe { filled(self.buf, res) }
    }

    /// The future is gone: what the kernel received goes to the socket's
    /// queue, for the next read (a peek took nothing, so it adopts nothing).
    fn orphaned(self, res: io::Result<u32>) -> bool {
        let chunk = match res {
            _ if self.flags & libc::MSG_PEEK != 0 => None,
            Ok(0) if self.stream => Some(Chunk::Eof),
            Ok(n) => {
                // SAFETY: the kernel wrote the first `n` bytes of `buf`,
                // which this op owns and nothing else touches now.
                let got = unsafe { std::slice::from_raw_parts(self.buf.stable_ptr(), n as usize) };
                Some(match self.stream {
                    true => Chunk::Bytes {
                        data: got.into(),
                        start: 0,
                    },
                    false => Chunk::Datagram(Box::new(Datagram {
                        bytes: got.to_vec(),
                        from: None,
                    })),
                })
            }
            Err(e) => super::receive::error_chunk(&e),
        };
        adopt(&self.fd, chunk)
    }
}
