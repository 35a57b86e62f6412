//! `OwnedReadHalf` / `OwnedWriteHalf`: a `TcpStream` split for two tasks.

use std::error::Error;
use std::fmt;
use std::future::Future;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};

use super::TcpStream;
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::io::{ReadOwned, WriteOwned};
use crate::net::{future, Read, Readv, Write, Writev};
use crate::op::Op;
use crate::sys::{socket, SharedFd};

/// The reading half of a [`TcpStream`], from [`TcpStream::into_split`].
///
/// It may move to another task or worker than its write half; the socket
/// closes once both halves are dropped (and no operation uses it).
#[derive(Debug)]
pub struct OwnedReadHalf {
    /// The socket, shared with the write half.
    fd: SharedFd,
}

/// The writing half of a [`TcpStream`], from [`TcpStream::into_split`].
///
/// Dropping it does not shut the connection down (the read half keeps the
/// socket open): call [`shutdown`](OwnedWriteHalf::shutdown) so the peer
/// reads end of stream.
#[derive(Debug)]
pub struct OwnedWriteHalf {
    /// The socket, shared with the read half.
    fd: SharedFd,
}

impl OwnedReadHalf {
    /// Both halves of `fd`.
    pub(crate) fn split(fd: SharedFd) -> (OwnedReadHalf, OwnedWriteHalf) {
        (OwnedReadHalf { fd: fd.clone() }, OwnedWriteHalf { fd })
    }

    /// Puts the halves back together.
    ///
    /// # Errors
    ///
    /// [`ReuniteError`], holding both halves, if they come from different streams.
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        if self.fd.id() == other.fd.id() {
            drop(other);
            Ok(TcpStream::from_shared(self.fd))
        } else {
            Err(ReuniteError(self, other))
        }
    }

    /// See [`TcpStream::read`].
    pub fn read<B: IoBufMut>(&self, buf: B) -> Read<B> {
        Read::new(&self.fd, buf, 0)
    }

    /// Waits until the socket has bytes to read (or end of stream, or an
    /// error to report), without taking any. A server holding many idle
    /// connections awaits this before taking a buffer for the read, so an
    /// idle connection holds no buffer. It can return early, rarely: after a
    /// read that filled its buffer exactly, the next read may still wait.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it takes nothing from the socket.
    pub fn readable(&self) -> impl Future<Output = io::Result<()>> + 'static {
        future::readable(&self.fd)
    }

    /// See [`TcpStream::peek`].
    pub fn peek<B: IoBufMut>(&self, buf: B) -> Read<B> {
        Read::new(&self.fd, buf, libc::MSG_PEEK)
    }

    /// See [`TcpStream::readv`].
    pub fn readv<B: IoBufMut>(&self, bufs: Vec<B>) -> Readv<B> {
        Readv::new(&self.fd, bufs)
    }

    /// The address of the peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        socket::peer_addr(self.fd.as_fd())?.to_std()
    }

    /// The local address of this end.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::local_addr(self.fd.as_fd())?.to_std()
    }
}

impl OwnedWriteHalf {
    /// See [`TcpStream::write`].
    pub fn write<B: IoBuf>(&self, buf: B) -> Write<B> {
        Write::new(&self.fd, buf)
    }

    /// See [`TcpStream::write_all`].
    pub fn write_all<B: IoBuf>(&self, buf: B) -> impl Future<Output = BufResult<(), B>> {
        future::write_all(&self.fd, buf)
    }

    /// See [`TcpStream::writev`].
    pub fn writev<B: IoBuf>(&self, bufs: Vec<B>) -> Writev<B> {
        Writev::new(&self.fd, bufs)
    }

    /// Shuts down the writing direction: the peer reads end of stream.
    pub fn shutdown(&self) -> impl Future<Output = io::Result<()>> {
        Op::shutdown(&self.fd, Shutdown::Write)
    }

    /// The address of the peer.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        socket::peer_addr(self.fd.as_fd())?.to_std()
    }

    /// The local address of this end.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        socket::local_addr(self.fd.as_fd())?.to_std()
    }
}

impl AsRawFd for OwnedReadHalf {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for OwnedReadHalf {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl AsRawFd for OwnedWriteHalf {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for OwnedWriteHalf {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl ReadOwned for OwnedReadHalf {
    fn read<B: IoBufMut>(&mut self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        OwnedReadHalf::read(self, buf)
    }

    fn readv<B: IoBufMut>(
        &mut self,
        bufs: Vec<B>,
    ) -> impl Future<Output = BufResult<usize, Vec<B>>> {
        OwnedReadHalf::readv(self, bufs)
    }
}

impl WriteOwned for OwnedWriteHalf {
    fn write<B: IoBuf>(&mut self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        OwnedWriteHalf::write(self, buf)
    }

    fn writev<B: IoBuf>(&mut self, bufs: Vec<B>) -> impl Future<Output = BufResult<usize, Vec<B>>> {
        OwnedWriteHalf::writev(self, bufs)
    }

    fn write_all<B: IoBuf>(&mut self, buf: B) -> impl Future<Output = BufResult<(), B>> {
        OwnedWriteHalf::write_all(self, buf)
    }

    fn shutdown(&mut self) -> impl Future<Output = io::Result<()>> {
        OwnedWriteHalf::shutdown(self)
    }
}

impl ReadOwned for &OwnedReadHalf {
    fn read<B: IoBufMut>(&mut self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        OwnedReadHalf::read(self, buf)
    }

    fn readv<B: IoBufMut>(
        &mut self,
        bufs: Vec<B>,
    ) -> impl Future<Output = BufResult<usize, Vec<B>>> {
        OwnedReadHalf::readv(self, bufs)
    }
}

impl WriteOwned for &OwnedWriteHalf {
    fn write<B: IoBuf>(&mut self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        OwnedWriteHalf::write(self, buf)
    }

    fn writev<B: IoBuf>(&mut self, bufs: Vec<B>) -> impl Future<Output = BufResult<usize, Vec<B>>> {
        OwnedWriteHalf::writev(self, bufs)
    }

    fn write_all<B: IoBuf>(&mut self, buf: B) -> impl Future<Output = BufResult<(), B>> {
        OwnedWriteHalf::write_all(self, buf)
    }

    fn shutdown(&mut self) -> impl Future<Output = io::Result<()>> {
        OwnedWriteHalf::shutdown(self)
    }
}

/// The halves given to [`OwnedReadHalf::reunite`] came from different streams;
/// they are handed back unchanged.
#[derive(Debug)]
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves of different TCP streams")
    }
}

impl Error for ReuniteError {}
