//! `sendmsg(2)` from owned buffers to an optional address, always with
//! `MSG_NOSIGNAL` (a send to a vanished stream peer is `EPIPE`, never `SIGPIPE`).

use std::io;
use std::marker::PhantomData;

use io_uring::{opcode, squeue, types::Fd};

use super::{cvt, Attempt, Interest, Op, Operation, SharedFd};
use crate::buf::{BufResult, IoBuf};
use crate::sys::SockAddr;
use crate::sys::{IoVecs, MsgHeader, One};

/// A gathered send of the buffers in `T` (a `Vec<B>`, or [`One<B>`]), to an
/// address or to the connected peer.
pub(crate) struct SendMsg<B, T = Vec<B>> {
    /// Keeps the socket open until the kernel lets go.
    fd: SharedFd,
    /// What the kernel reads; returned to the caller.
    bufs: T,
    /// The `msghdr` and destination, boxed: the kernel reads them by pointer.
    hdr: Box<MsgHeader>,
    /// One iovec per buffer; the `msghdr` points at this heap array.
    iov: Vec<libc::iovec>,
    /// `MSG_*` flags; `MSG_NOSIGNAL` is always among them.
    flags: libc::c_int,
    /// The element buffer type, so `SendMsg<B>` names a send of a `Vec<B>`.
    _buf: PhantomData<fn() -> B>,
}

// SAFETY: `hdr` and `iov` point only into memory the op owns (`bufs`, the
// boxed address, the iovec array), which moves between threads with it.
unsafe impl<B, T: Send> Send for SendMsg<B, T> {}

impl<B, T> std::fmt::Debug for SendMsg<B, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SendMsg")
            .field("fd", &self.fd)
            .field("iovecs", &self.iov.len())
            .field("addr", &self.hdr.addr)
            .field("flags", &self.flags)
            .finish()
    }
}

impl<B: IoBuf, T: IoVecs> SendMsg<B, T> {
    fn new(fd: &SharedFd, bufs: T, addr: Option<SockAddr>, flags: libc::c_int) -> Self {
        let mut iov = Vec::new();
        bufs.fill(&mut iov);
        SendMsg {
            fd: fd.clone(),
            bufs,
            hdr: MsgHeader::new(addr),
            iov,
            flags: flags | libc::MSG_NOSIGNAL,
            _buf: PhantomData,
        }
    }
}

impl<B: IoBuf> Op<SendMsg<B>> {
    /// Sends `bufs` in order, as one message (datagram sockets) or as a run
    /// of bytes (streams), to `addr` or, when `None`, the connected peer.
    pub(crate) fn send_msg(
        fd: &SharedFd,
        bufs: Vec<B>,
        addr: Option<SockAddr>,
        flags: libc::c_int,
    ) -> Self {
        Op::new(SendMsg::new(fd, bufs, addr, flags))
    }
}

impl<B: IoBuf> Op<SendMsg<B, One<B>>> {
    /// Sends one buffer to `addr` (`sendto(2)`, as a `sendmsg`).
    pub(crate) fn send_to(fd: &SharedFd, buf: B, addr: SockAddr) -> Self {
        Op::new(SendMsg::new(fd, One(buf), Some(addr), 0))
    }
}

// SAFETY: the entry points at the boxed `msghdr`, which points at the boxed
// address and the iovec array; the iovecs point into `bufs`, whose addresses
// `IoBuf` keeps stable. The op owns all of them.
unsafe impl<B: IoBuf, T: IoVecs> Operation for SendMsg<B, T> {
    type Output = BufResult<usize, T>;

    fn uring_entry(&mut self) -> squeue::Entry {
        let msg = self.hdr.prepare_send(&mut self.iov);
        opcode::SendMsg::new(Fd(self.fd.raw()), msg)
            .flags(self.flags as u32)
            .build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        self.fd.ensure_nonblocking();
        let msg = self.hdr.prepare_send(&mut self.iov);
        // SAFETY: `msg` and everything it points at are owned by `self` and valid
        // for the call (see the `Operation` impl's safety note).
        let res = cvt(unsafe { libc::sendmsg(self.fd.raw(), msg, self.flags) });
        Attempt::from_syscall(res, self.fd.raw(), self.fd.id(), Interest::Writable)
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        (res.map(|n| n as usize), self.bufs)
    }
}
