//! The kinds of [`Receive`](super::receive::Receive): what each takes from a
//! socket's queue and which one-shot op it starts when the queue is empty.
//!
//! - [`StreamRead`]: `read` and `peek` of a byte stream, as many queued
//!   bytes as the buffer holds, across chunks (`Recv` as its one-shot).
//! - [`StreamReadv`]: the same into several buffers in order (`RecvMsg`).
//! - [`DatagramRecv`]: one whole datagram and its source, cut to the
//!   buffer as `recvfrom(2)` cuts it (`RecvMsg` with an address).
//! - [`AcceptConn`]: one connection of a listener (`Accept`).
//! - [`StreamRecvBuf`]: a stream's next bytes as they are, with no copy (a
//!   provided buffer itself, lent), or into a buffer of its own (`Recv`).

use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use super::receive::Receiver;
use super::{Accept, Recv, RecvMsg, SharedFd};
use crate::buf::{BufResult, IoBufMut, RecvBuf, RecvTarget};
use crate::driver::{closed, recvmsg_out, Chunk, Lent, Multishot, PoolMemory, RecvSide, Take};
use crate::sys::{One, SockAddr};

/// The buffer of a receive that no longer has it (it was returned or given
/// to the one-shot op): a broken invariant, not a caller's error.
#[cold]
fn no_buffer() -> ! {
    unreachable!("a receive's buffer is used after it was handed on")
}

/// The buffer a receive still holds.
#[inline]
fn held<T>(slot: &mut Option<T>) -> &mut T {
    match slot {
        Some(buf) => buf,
        None => no_buffer(),
    }
}

/// The buffer a receive hands on: back to the caller, or to its one-shot.
#[inline]
fn hand_on<T>(slot: &mut Option<T>) -> T {
    match slot.take() {
        Some(buf) => buf,
        None => no_buffer(),
    }
}

/// A stream `read` (or `peek`) into one buffer.
#[derive(Debug)]
pub(crate) struct StreamRead<B> {
    /// The caller's buffer, until returned or given to the one-shot.
    buf: Option<B>,
    /// `MSG_PEEK`: copy without consuming.
    peek: bool,
}

impl<B: IoBufMut> StreamRead<B> {
    /// A read (`peek`: a peek) into `buf`, from its start up to its capacity.
    pub(crate) fn new(buf: B, peek: bool) -> Self {
        StreamRead {
            buf: Some(buf),
            peek,
        }
    }
}

impl<B: IoBufMut> Receiver for StreamRead<B> {
    type Op = Recv<B>;
    type Output = BufResult<usize, B>;

    fn take(
        &mut self,
        side: &mut RecvSide,
        give_back: &mut dyn FnMut(&Arc<PoolMemory>, u16),
    ) -> Take<Self::Output> {
        let buf = held(&mut self.buf);
        let (ptr, len) = (buf.stable_mut_ptr(), buf.bytes_total());
        // SAFETY: `ptr` is valid for `len` writable bytes (IoBufMut contract).
        match unsafe { side.take_bytes(ptr, len, self.peek, give_back) } {
            Take::Got(res) => {
                let mut buf = hand_on(&mut self.buf);
                if let Ok(n) = res {
                    // SAFETY: `take_bytes` wrote the first `n` bytes.
                    unsafe { buf.set_init(n) };
                }
                Take::Got((res, buf))
            }
            Take::Empty => Take::Empty,
        }
    }

    fn start(&mut self, fd: &SharedFd) -> Recv<B> {
        let buf = hand_on(&mut self.buf);
        let flags = if self.peek { libc::MSG_PEEK } else { 0 };
        Recv::stream(fd, buf, flags)
    }

    fn finish(out: BufResult<usize, B>) -> Self::Output {
        out
    }

    fn fail(&mut self, err: io::Error) -> Self::Output {
        (Err(err), hand_on(&mut self.buf))
    }
}

/// A stream `readv` into several buffers, filled in order.
#[derive(Debug)]
pub(crate) struct StreamReadv<B> {
    /// The caller's buffers, until returned or given to the one-shot.
    bufs: Option<Vec<B>>,
}

impl<B: IoBufMut> StreamReadv<B> {
    /// A scattered read into `bufs`.
    pub(crate) fn new(bufs: Vec<B>) -> Self {
        StreamReadv { bufs: Some(bufs) }
    }
}

impl<B: IoBufMut> Receiver for StreamReadv<B> {
    type Op = RecvMsg<B>;
    type Output = BufResult<usize, Vec<B>>;

    fn take(
        &mut self,
        side: &mut RecvSide,
        give_back: &mut dyn FnMut(&Arc<PoolMemory>, u16),
    ) -> Take<Self::Output> {
        let bufs = held(&mut self.bufs);
        let mut total = 0;
        let mut result = None;
        for (i, buf) in bufs.iter_mut().enumerate() {
            // After the first buffer, only bytes: an end of stream or an
            // error that follows them stays queued for the next read.
            if i > 0 && !side.has_bytes() {
                break;
            }
            let (ptr, len) = (buf.stable_mut_ptr(), buf.bytes_total());
            // SAFETY: `ptr` is valid for `len` writable bytes (IoBufMut contract).
            match unsafe { side.take_bytes(ptr, len, false, give_back) } {
                Take::Got(Ok(n)) => {
                    // SAFETY: `take_bytes` wrote the first `n` bytes.
                    unsafe { buf.set_init(n) };
                    total += n;
                    result = Some(Ok(total));
                    if n < len {
                        break; // the queue ran out
                    }
                }
                Take::Got(Err(e)) => {
                    result = Some(Err(e));
                    break;
                }
                Take::Empty => break,
            }
        }
        let Some(res) = result else {
            return Take::Empty;
        };
        Take::Got((res, hand_on(&mut self.bufs)))
    }

    fn start(&mut self, fd: &SharedFd) -> RecvMsg<B> {
        RecvMsg::stream(fd, hand_on(&mut self.bufs))
    }

    fn finish((res, bufs): <RecvMsg<B> as super::Operation>::Output) -> Self::Output {
        (res.map(|(n, _from)| n), bufs)
    }

    fn fail(&mut self, err: io::Error) -> Self::Output {
        (Err(err), hand_on(&mut self.bufs))
    }
}

/// One datagram and its source (`recv_from`, `recv`, `peek_from`).
#[derive(Debug)]
pub(crate) struct DatagramRecv<B> {
    /// The caller's buffer, until returned or given to the one-shot.
    buf: Option<B>,
    /// `MSG_PEEK`: leave the datagram queued.
    peek: bool,
}

impl<B: IoBufMut> DatagramRecv<B> {
    /// A receive (`peek`: a peek) of one datagram into `buf`.
    pub(crate) fn new(buf: B, peek: bool) -> Self {
        DatagramRecv {
            buf: Some(buf),
            peek,
        }
    }
}

impl<B: IoBufMut> Receiver for DatagramRecv<B> {
    type Op = RecvMsg<B, One<B>>;
    /// The byte count and the source (of length 0 when unknown: an adopted
    /// datagram of a connected socket's `recv`).
    type Output = BufResult<(usize, SockAddr), B>;
    fn multishot(&self) -> Option<(Multishot, usize)> {
        let fits = self.buf.as_ref().map_or(usize::MAX, |b| b.bytes_total());
        Some((Multishot::RecvFrom, fits))
    }

    fn take(
        &mut self,
        side: &mut RecvSide,
        give_back: &mut dyn FnMut(&Arc<PoolMemory>, u16),
    ) -> Take<Self::Output> {
        if side.is_closed() {
            return Take::Got(self.fail(closed()));
        }
        let res = match side.front() {
            None => return Take::Empty,
            // A datagram the multishot received into a provided buffer.
            Some(Chunk::Pooled { bid, start, end }) => {
                let Some(pool) = side.pool() else {
                    unreachable!("a pooled chunk without its pool")
                };
                // SAFETY: the queue holds buffer `bid`, and the kernel wrote
                // `..end` of it.
                let bytes = unsafe { pool.bytes(*bid, *start, end - start) };
                match recvmsg_out::parse(bytes) {
                    Some((name, payload)) => {
                        let buf = held(&mut self.buf);
                        let n = payload.len().min(buf.bytes_total());
                        // SAFETY: `buf` has room for `bytes_total` bytes, and
                        // `n` is at most that; the payload is not `buf`.
                        unsafe {
                            std::ptr::copy_nonoverlapping(
                                payload.as_ptr(),
                                buf.stable_mut_ptr(),
                                n,
                            );
                            buf.set_init(n);
                        }
                        Ok((n, SockAddr::from_bytes(name)))
                    }
                    None => Err(io::Error::from_raw_os_error(libc::EIO)),
                }
            }
            Some(Chunk::Datagram(d)) => {
                let buf = held(&mut self.buf);
                let n = d.bytes.len().min(buf.bytes_total());
                // SAFETY: `buf` has room for `bytes_total` bytes, and `n`
                // is at most that; the queue's bytes are not `buf`.
                unsafe {
                    std::ptr::copy_nonoverlapping(d.bytes.as_ptr(), buf.stable_mut_ptr(), n);
                    buf.set_init(n);
                }
                Ok((n, d.from.unwrap_or_else(SockAddr::empty)))
            }
            Some(Chunk::Err(errno)) => Err(io::Error::from_raw_os_error(*errno)),
            Some(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a datagram receive on a socket that queued something else",
            )),
        };
        if !self.peek || res.is_err() {
            if let Take::Got(Chunk::Pooled { bid, .. }) = side.take_chunk() {
                if let Some(pool) = side.pool() {
                    give_back(pool, bid);
                }
            }
        }
        let buf = hand_on(&mut self.buf);
        Take::Got((res, buf))
    }

    fn start(&mut self, fd: &SharedFd) -> Self::Op {
        let buf = hand_on(&mut self.buf);
        let flags = if self.peek { libc::MSG_PEEK } else { 0 };
        RecvMsg::from(fd, buf, flags)
    }

    fn finish((res, One(buf)): <Self::Op as super::Operation>::Output) -> Self::Output {
        (res, buf)
    }

    fn fail(&mut self, err: io::Error) -> Self::Output {
        (Err(err), hand_on(&mut self.buf))
    }
}

/// One connection of a listener, with the peer's address when the accept
/// reported it (a multishot accept does not: the caller asks the socket).
#[derive(Debug, Default, Clone)]
pub(crate) struct AcceptConn {
    /// The listener is shared with other workers' rings: see [`AcceptConn::shared`].
    shared: bool,
}

impl AcceptConn {
    /// An accept on a listener that other workers accept on too (each its
    /// own descriptor of it). A kernel's accept waiting on a listener is an
    /// exclusive waiter, which the kernel picks alone for the next
    /// connection, even when its worker is busy: so on io_uring these wait
    /// for readability (a plain poll, which every worker's ring sees), then
    /// accept without waiting in the kernel (`IORING_ACCEPT_DONTWAIT`), and
    /// wait again if another worker took the connection. On a kernel older
    /// than that flag (6.10) they accept as unshared ones do.
    pub(crate) fn shared() -> Self {
        AcceptConn {
            shared: crate::driver::accept_dontwait_supported(),
        }
    }
}

impl Receiver for AcceptConn {
    type Op = Accept;
    type Output = io::Result<(OwnedFd, Option<SockAddr>)>;
    fn multishot(&self) -> Option<(Multishot, usize)> {
        (!self.shared).then_some((Multishot::Accept, 0))
    }

    fn ready_first(&self) -> bool {
        self.shared
    }

    const RECEIVES_BYTES: bool = false;

    fn again(out: &io::Result<(OwnedFd, SockAddr)>) -> bool {
        matches!(out, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
    }

    fn take(
        &mut self,
        side: &mut RecvSide,
        _give_back: &mut dyn FnMut(&Arc<PoolMemory>, u16),
    ) -> Take<Self::Output> {
        match side.take_chunk() {
            Take::Empty => Take::Empty,
            Take::Got(Chunk::Conn(fd)) => Take::Got(Ok((fd, None))),
            Take::Got(Chunk::Err(errno)) => Take::Got(Err(io::Error::from_raw_os_error(errno))),
            Take::Got(_) => Take::Got(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "an accept on a socket that queued something else",
            ))),
        }
    }

    fn start(&mut self, fd: &SharedFd) -> Accept {
        Accept::new(fd, self.shared)
    }

    fn finish(out: io::Result<(OwnedFd, SockAddr)>) -> Self::Output {
        out.map(|(fd, addr)| (fd, Some(addr)))
    }

    fn fail(&mut self, err: io::Error) -> Self::Output {
        Err(err)
    }
}

/// A stream's next bytes, lent as received (`recv_buf`): one chunk of the
/// queue, or what a one-shot receive into a buffer of `capacity` bytes got.
#[derive(Debug)]
pub(crate) struct StreamRecvBuf {
    /// The one-shot's buffer size, when it has one of its own.
    capacity: usize,
    /// The buffer the driver lent for the one-shot.
    lent: Option<RecvTarget>,
}

impl StreamRecvBuf {
    /// A zero-copy read; a one-shot receives at most `capacity` bytes into
    /// a buffer of its own, or at most a lent buffer's size.
    #[inline]
    pub(crate) fn new(capacity: usize) -> Self {
        StreamRecvBuf {
            capacity,
            lent: None,
        }
    }
}

impl Receiver for StreamRecvBuf {
    type Op = Recv<RecvTarget>;
    type Output = io::Result<RecvBuf>;
    fn ready_first(&self) -> bool {
        true
    }
    const LENDS: bool = true;

    fn lend(&mut self, memory: Arc<PoolMemory>, bid: u16) {
        self.lent = Some(RecvTarget::lent(memory, bid));
    }

    #[inline]
    fn take(
        &mut self,
        side: &mut RecvSide,
        _give_back: &mut dyn FnMut(&Arc<PoolMemory>, u16),
    ) -> Take<Self::Output> {
        if side.is_closed() {
            return Take::Got(Err(closed()));
        }
        match side.take_lent() {
            Take::Empty => Take::Empty,
            Take::Got(Ok(Lent::Pooled(memory, bid, start, end))) => {
                Take::Got(Ok(RecvBuf::pooled(memory, bid, start, end)))
            }
            Take::Got(Ok(Lent::Bytes(bytes))) => Take::Got(Ok(RecvBuf::owned(bytes))),
            Take::Got(Err(e)) => Take::Got(Err(e)),
        }
    }

    fn start(&mut self, fd: &SharedFd) -> Recv<RecvTarget> {
        let target = self
            .lent
            .take()
            .unwrap_or_else(|| RecvTarget::Vec(Vec::with_capacity(self.capacity)));
        Recv::stream(fd, target, 0)
    }

    fn finish((res, buf): BufResult<usize, RecvTarget>) -> Self::Output {
        res.map(|_| buf.into_recv_buf())
    }

    fn fail(&mut self, err: io::Error) -> Self::Output {
        Err(err)
    }
}
