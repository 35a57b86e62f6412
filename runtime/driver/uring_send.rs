//! The io_uring side of a socket's queued sends (`send_queue.rs`): one
//! `IORING_OP_SEND` at a time per socket, named in the ring by the address
//! of the socket's side (tagged), whose completion this driver handles in
//! its reap: the next queued bytes go out at once, a provided buffer that
//! was sent goes back to this worker's ring, and no task is woken unless
//! it waits for room or a flush. While sends run, the side keeps its
//! descriptor (and so itself) alive.

use std::io;
use std::task::{Context, Poll};

use io_uring::{opcode, types::Fd};

use super::descriptor::Descriptor;
use super::operation::cqe_result;
use super::send_queue::Queued;
use super::source::{SideBox, SEND_TAG};
use super::uring::UringDriver;
use crate::metrics::bump;

impl UringDriver {
    /// Queues `item` (taken from the slot once queued) on `fd`'s sends,
    /// sending it at once if none runs; waits while the queue is full. An
    /// earlier send's error is returned instead (the item is dropped).
    #[inline]
    pub(crate) fn queue_send<D: Descriptor>(
        &mut self,
        fd: &D,
        item: &mut Option<Queued>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let side_box = fd.source().side_box();
        let mut side = side_box.lock();
        let q = side.sends();
        if let Some(e) = q.error.take() {
            side_box.set_queued(q.busy());
            *item = None;
            return Poll::Ready(Err(e));
        }
        let Some(next) = item.take() else {
            return Poll::Ready(Ok(()));
        };
        if next.bytes().is_empty() {
            drop(side);
            self.release(next);
            return Poll::Ready(Ok(()));
        }
        if q.busy() {
            if q.room() == 0 {
                q.wait(cx.waker());
                *item = Some(next);
                return Poll::Pending;
            }
            q.push(next);
            return Poll::Ready(Ok(()));
        }
        let bytes = next.bytes();
        let (ptr, len) = (bytes.as_ptr(), bytes.len());
        q.in_flight = Some(next);
        q.keep.get_or_insert_with(|| fd.keep());
        q.fd = fd.raw();
        side_box.set_queued(true);
        drop(side);
        self.push_send(fd.raw(), ptr, len, side_box.addr());
        Poll::Ready(Ok(()))
    }

    /// Poll-based write: copies what fits of `bytes` into `fd`'s sends,
    /// sending them at once if none runs; waits while the queue is full.
    pub(crate) fn queue_copy<D: Descriptor>(
        &mut self,
        fd: &D,
        bytes: &[u8],
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        {
            let source = fd.source();
            let mut side = source.lock();
            let q = side.sends();
            if q.busy() || q.error.is_some() {
                if let Some(e) = q.error.take() {
                    source.side_box().set_queued(q.busy());
                    return Poll::Ready(Err(e));
                }
                let n = q.room().min(bytes.len());
                if n == 0 {
                    q.wait(cx.waker());
                    return Poll::Pending;
                }
                q.push_copied(&bytes[..n]);
                return Poll::Ready(Ok(n));
            }
        }
        let mut item = Some(Queued::Copied(bytes.to_vec()));
        self.queue_send(fd, &mut item, cx)
            .map(|res| res.map(|()| bytes.len()))
    }

    /// Pushes the send of `len` bytes at `ptr` for the side at `addr`.
    #[inline]
    fn push_send(&mut self, fd: std::os::fd::RawFd, ptr: *const u8, len: usize, addr: u64) {
        bump(&self.counters.ops_submitted);
        self.sending += 1;
        let len = u32::try_from(len).unwrap_or(u32::MAX).min(i32::MAX as u32);
        let entry = opcode::Send::new(Fd(fd), ptr, len)
            .flags(libc::MSG_NOSIGNAL | libc::MSG_WAITALL)
            .build()
            .user_data(SEND_TAG | addr);
        self.push(entry);
    }

    /// The completion of the queued send of the side at `addr`.
    pub(super) fn send_cqe(&mut self, addr: u64, res: i32) {
        bump(&self.counters.ops_completed);
        self.sending -= 1;
        // SAFETY: `addr` is the address of a side whose queued send this
        // ring ran; the side keeps its descriptor, which owns the side,
        // alive while sends run, and lets go only below, after the last.
        let side_box = unsafe { &*(addr as *const SideBox) };
        let mut side = side_box.lock();
        let q = side.sends();
        let done = q.sent(cqe_result(res), &mut self.woken);
        let next = q
            .in_flight
            .as_ref()
            .map(|n| (n.bytes().as_ptr(), n.bytes().len()));
        let keep = match next {
            Some(_) => None,
            None => q.keep.take(),
        };
        side_box.set_queued(q.busy() || q.error.is_some());
        let fd = q.fd;
        drop(side);
        if let Some(done) = done {
            self.release(done);
        }
        if let Some((ptr, len)) = next {
            self.push_send(fd, ptr, len, addr);
        }
        // Outside the side's lock: may close the descriptor, and free it.
        drop(keep);
    }

    /// Drops a queued item, giving a lent buffer of this worker's pool
    /// straight back to the ring.
    fn release(&mut self, mut item: Queued) {
        if let Some((memory, bid)) = item.take_lent() {
            self.give_back(&memory, bid);
        }
    }
}
