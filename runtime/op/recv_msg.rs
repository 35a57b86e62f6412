//! `recvmsg(2)` into owned buffers, reporting the source address. On
//! io_uring this is the one-shot receive of the receive protocol
//! (`driver/source.rs`): if its future is dropped, what it received (a
//! datagram and its source, or stream bytes) is adopted by the socket's
//! queue instead of being lost.

use std::io;
use std::marker::PhantomData;

use io_uring::{opcode, squeue, types::Fd};

use super::receive::{adopt, error_chunk};
use super::{cvt, Attempt, Interest, Operation, SharedFd};
use crate::buf::IoBufMut;
use crate::driver::{Chunk, Datagram};
use crate::sys::SockAddr;
use crate::sys::{IoVecsMut, MsgHeader, One};

/// A scattered receive into the buffers in `T` (a `Vec<B>`, or [`One<B>`]),
/// capturing the source address.
pub(crate) struct RecvMsg<B, T = Vec<B>> {
    /// Keeps the socket open until the kernel lets go.
    fd: SharedFd,
    /// Where the kernel writes; returned to the caller.
    bufs: T,
    /// The `msghdr` and address storage, boxed: the kernel writes them by pointer.
    hdr: Box<MsgHeader>,
    /// One iovec per buffer; the `msghdr` points at this heap array.
    iov: Vec<libc::iovec>,
    /// `MSG_*` flags, such as `MSG_PEEK`.
    flags: libc::c_int,
    /// A stream socket: adopted bytes join the stream rather than form a
    /// datagram.
    stream: bool,
    /// The element buffer type, so `RecvMsg<B>` names a receive into a `Vec<B>`.
    _buf: PhantomData<fn() -> B>,
}

// SAFETY: `hdr` and `iov` point only into memory the op owns (`bufs`, the
// boxed address, the iovec array), which moves between threads with it.
unsafe impl<B, T: Send> Send for RecvMsg<B, T> {}

impl<B, T> std::fmt::Debug for RecvMsg<B, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvMsg")
            .field("fd", &self.fd)
            .field("iovecs", &self.iov.len())
            .field("flags", &self.flags)
            .finish()
    }
}

impl<B: IoBufMut, T: IoVecsMut> RecvMsg<B, T> {
    fn new(fd: &SharedFd, mut bufs: T, flags: libc::c_int, stream: bool) -> Self {
        let mut iov = Vec::new();
        bufs.fill_mut(&mut iov);
        RecvMsg {
            fd: fd.clone(),
            bufs,
            hdr: MsgHeader::new(None),
            iov,
            flags,
            stream,
            _buf: PhantomData,
        }
    }
}

impl<B: IoBufMut> RecvMsg<B> {
    /// Receives what has arrived on a stream socket into `bufs`, filling
    /// them in order.
    pub(crate) fn stream(fd: &SharedFd, bufs: Vec<B>) -> Self {
        RecvMsg::new(fd, bufs, 0, true)
    }
}

impl<B: IoBufMut> RecvMsg<B, One<B>> {
    /// Receives one datagram into one buffer, with the source address
    /// (`recvfrom(2)`, as a `recvmsg`); `MSG_PEEK` in `flags` leaves the
    /// datagram queued.
    pub(crate) fn from(fd: &SharedFd, buf: B, flags: libc::c_int) -> Self {
        RecvMsg::new(fd, One(buf), flags, false)
    }
}

// SAFETY: the entry points at the boxed `msghdr`, which points at the boxed
// address storage and the iovec array; the iovecs point into `bufs`, whose
// addresses `IoBufMut` keeps stable. The op owns all of them.
unsafe impl<B: IoBufMut, T: IoVecsMut> Operation for RecvMsg<B, T> {
    /// The byte count and the source address (of length 0 when the source
    /// has no name, such as a stream's peer or an unbound Unix socket).
    type Output = (io::Result<(usize, SockAddr)>, T);

    /// A dropped receive runs on, and its socket adopts the result.
    const CANCEL_ON_DROP: bool = false;

    fn uring_entry(&mut self) -> squeue::Entry {
        let msg = self.hdr.prepare_recv(&mut self.iov);
        opcode::RecvMsg::new(Fd(self.fd.raw()), msg)
            .flags(self.flags as u32)
            .build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        self.fd.ensure_nonblocking();
        let msg = self.hdr.prepare_recv(&mut self.iov);
        // SAFETY: `msg` and everything it points at are owned by `self` and valid
        // for the call (see the `Operation` impl's safety note).
        let res = cvt(unsafe { libc::recvmsg(self.fd.raw(), msg, self.flags) });
        Attempt::from_syscall(res, self.fd.raw(), self.fd.id(), Interest::Readable)
    }

    fn complete(mut self, res: io::Result<u32>) -> Self::Output {
        let res = res.map(|n| {
            // With MSG_TRUNC in `flags` the kernel reports a datagram's full
            // length, which may exceed what it wrote.
            let total: usize = self.iov.iter().map(|v| v.iov_len).sum();
            let len = (n as usize).min(total);
            // SAFETY: the kernel wrote the first `len` bytes of the iovecs.
            unsafe { self.bufs.set_init(len) };
            (n as usize, self.hdr.received_addr())
        });
        (res, self.bufs)
    }

    /// The future is gone: what the kernel received goes to the socket's
    /// queue, for the next receive (a peek took nothing, so it adopts nothing).
    fn orphaned(self, res: io::Result<u32>) -> bool {
        let chunk = match res {
            _ if self.flags & libc::MSG_PEEK != 0 => None,
            Ok(0) if self.stream => Some(Chunk::Eof),
            Ok(n) => {
                let mut bytes = Vec::with_capacity(n as usize);
                let mut left = n as usize;
                for v in &self.iov {
                    let take = v.iov_len.min(left);
                    // SAFETY: the kernel wrote the first `n` bytes across the
                    // iovecs in order, into buffers this op owns.
                    let got = unsafe { std::slice::from_raw_parts(v.iov_base.cast::<u8>(), take) };
                    bytes.extend_from_slice(got);
                    left -= take;
                }
                Some(match self.stream {
                    true => Chunk::Bytes {
                        data: bytes.into_boxed_slice(),
                        start: 0,
                    },
                    false => Chunk::Datagram(Box::new(Datagram {
                        bytes,
                        from: Some(self.hdr.received_addr()),
                    })),
                })
            }
            Err(e) => error_chunk(&e),
        };
        adopt(&self.fd, chunk)
    }
}
