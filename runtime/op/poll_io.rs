//! Poll-based stream I/O, for the tokio, futures and hyper bridges, on
//! both drivers.
//!
//! Reads take from the socket's receive queue, as every read does (see
//! `driver/source.rs`): on io_uring the kernel has already received the
//! bytes; on epoll an empty queue falls back to a non-blocking `recv` the
//! caller makes on readiness. Either way the bytes are taken only by the
//! poll that returns them, so a caller that stops polling loses nothing.
//!
//! Writes borrow their bytes only for the call: on io_uring they are
//! copied into a kernel send of their own (`send_queued.rs`), on epoll
//! written by a non-blocking `send` on readiness.
#![cfg_attr(
    not(any(feature = "tokio-io", feature = "futures-io", feature = "hyper")),
    allow(dead_code)
)]

use std::io;
use std::mem::MaybeUninit;
use std::task::{Context, Poll};

use super::op_future::no_runtime;
use super::{send_queued, Recv};
use crate::driver::{Descriptor as _, Interest, Multishot, Received};
use crate::sys::{stream_io, SharedFd};

/// An io_uring one-shot receive for a poll-based read (when the worker's
/// provided buffers are all lent out) gets a buffer of its own of at most
/// this size; its bytes join the queue.
const DETACHED_RECV: usize = 64 * 1024;

/// Reads into `buf` (maybe uninitialised): `Ready(Ok(n))` with the bytes
/// at its start, `Ok(0)` at end of stream. The queue and the kernel write
/// only initialised bytes into it.
pub(crate) fn poll_read(
    fd: &SharedFd,
    cx: &mut Context<'_>,
    buf: &mut [MaybeUninit<u8>],
) -> Poll<io::Result<usize>> {
    let (dst, len) = (buf.as_mut_ptr().cast::<u8>(), buf.len());
    let Some((polled, transferred)) = super::with_driver(|driver| {
        let received =
            driver.poll_receive(fd, Some((Multishot::Recv, 0)), cx, |side, give_back| {
                // SAFETY: `dst` is valid for `len` bytes: it is `buf`, which
                // this call borrows mutably.
                unsafe { side.take_bytes(dst, len, false, give_back) }
            });
        match received {
            Received::Took(res) => (Poll::Ready(res), false),
            Received::Wait => (Poll::Pending, false),
            Received::Fail(e) => (Poll::Ready(Err(e)), false),
            Received::Start if driver.receives_in_kernel() => {
                // No buffer to lend: the kernel receives into one of the
                // op's own, and the socket adopts what it gets.
                let cap = len.clamp(1, DETACHED_RECV);
                let op = Recv::stream(fd, Vec::with_capacity(cap), 0);
                let polled = match driver.submit_detached(op) {
                    Ok(key) => {
                        driver.oneshot_submitted(fd, key);
                        fd.source().lock().wait(cx.waker());
                        Poll::Pending
                    }
                    Err(_) => Poll::Ready(Err(io::Error::other(
                        "runtime: a detached receive was refused",
                    ))),
                };
                (polled, false)
            }
            Received::Start => {
                fd.ensure_nonblocking();
                let recv = || stream_io::recv(fd.raw(), buf);
                let polled = driver.poll_transfer(fd, Interest::Readable, len, cx, recv);
                (polled, true)
            }
        }
    }) else {
        return Poll::Ready(Err(no_runtime()));
    };
    // The caller's own receive ended: the readers behind it wake, once the
    // driver's borrow has ended.
    if let (true, true, Some(mut side)) = (transferred, polled.is_ready(), fd.source().existing()) {
        let mut woken = Vec::new();
        side.oneshot_done(&mut woken);
        drop(side);
        woken.into_iter().for_each(std::task::Waker::wake);
    }
    polled
}

/// [`poll_read`] into an initialised buffer (futures-io's `poll_read` has no uninit form).
#[cfg(feature = "futures-io")]
pub(crate) fn poll_read_init(
    fd: &SharedFd,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    // SAFETY: `MaybeUninit<u8>` has `u8`'s layout, and `poll_read` writes
    // only initialised bytes through the view, so `buf` stays initialised.
    let view = unsafe { &mut *(buf as *mut [u8] as *mut [MaybeUninit<u8>]) };
    poll_read(fd, cx, view)
}

/// Writes what it can of `buf`: `Ready(Ok(n))` once `n` bytes are the
/// kernel's (io_uring: copied into a queued send; epoll: `send`, the
/// non-blocking syscall the caller makes on readiness).
pub(crate) fn poll_write(
    fd: &SharedFd,
    cx: &mut Context<'_>,
    buf: &[u8],
    send: impl FnOnce() -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    match send_queued::poll_write(fd, cx, buf) {
        Some(polled) => polled,
        None => poll_transfer(fd, Interest::Writable, buf.len(), cx, send),
    }
}

/// [`poll_write`] of several buffers in order: on io_uring one queued send
/// of their copy (up to the queue's room), on epoll `send` (a gather
/// `sendmsg`, the caller's syscall).
pub(crate) fn poll_write_vectored(
    fd: &SharedFd,
    cx: &mut Context<'_>,
    bufs: &[std::io::IoSlice<'_>],
    send: impl FnOnce() -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    let Some(in_kernel) = super::with_driver(|driver| driver.receives_in_kernel()) else {
        return Poll::Ready(Err(no_runtime()));
    };
    if in_kernel {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        let mut joined = Vec::with_capacity(total.min(crate::driver::send_queue::LIMIT));
        for b in bufs {
            let room = crate::driver::send_queue::LIMIT - joined.len();
            joined.extend_from_slice(&b[..b.len().min(room)]);
            if joined.len() == crate::driver::send_queue::LIMIT {
                break;
            }
        }
        if let Some(polled) = send_queued::poll_write(fd, cx, &joined) {
            return polled;
        }
    }
    let asked = bufs.iter().map(|b| b.len()).sum();
    poll_transfer(fd, Interest::Writable, asked, cx, send)
}

/// Ready once every written byte is the kernel's (nothing is ever queued
/// on epoll, which writes in the call).
pub(crate) fn poll_flush(fd: &SharedFd, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    send_queued::poll_flush(fd, cx)
}

/// Ready once every queued send has completed, so that a shutdown follows
/// the bytes written before it.
pub(crate) fn poll_sent(fd: &SharedFd, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
    send_queued::poll_drained(fd, cx)
}

/// epoll: runs `io`, a non-blocking transfer of up to `asked` bytes on
/// `fd`, once `fd` may be ready for `interest`: `Ready` with the count, or
/// `Pending` until the next edge. A short transfer is remembered, so the
/// next call waits for an edge instead of a syscall bound to fail. Outside
/// a runtime, `Ready` with an error.
fn poll_transfer(
    fd: &SharedFd,
    interest: Interest,
    asked: usize,
    cx: &mut Context<'_>,
    io: impl FnOnce() -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    fd.ensure_nonblocking();
    let polled = super::with_driver(|driver| driver.poll_transfer(fd, interest, asked, cx, io));
    polled.unwrap_or_else(|| Poll::Ready(Err(no_runtime())))
}
