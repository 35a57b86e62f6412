//! The io_uring side of the receive protocol (`source.rs`): starting a
//! socket's receive when a read finds its queue empty (a multishot receive
//! or accept, a one-shot poll, or the caller's one-shot receive), routing
//! multishot completions into the socket's queue, lending and taking back
//! provided buffers, and the cancels a close asks for.
//!
//! A multishot is named in the ring by the address of its socket's side
//! (the `user_data`, tagged), so a completion finds the side with no table
//! between them. While it is armed the side keeps its descriptor (and so
//! itself) alive; the last completion lets go. The descriptor's last user
//! handle cancels it (`close_source`).

use std::io;
use std::sync::Arc;
use std::task::{Context, Poll};

use io_uring::{cqueue, opcode, types::Fd};

use super::buf_pool::{BufPool, PoolMemory, BUF_GROUP};
use super::descriptor::{Descriptor, Received};
use super::id::DriverId;
use super::recvmsg_out;
use super::side_lock::SideGuard;
use super::source::{stuck, Busy, Completion, Multishot, RecvSide, SideBox, Take, Taker};
use super::uring::{UringDriver, SOURCE_TAG};
use crate::metrics::bump;

/// Flags of every accepted socket: close-on-exec, and blocking (io_uring
/// needs no `O_NONBLOCK`; the epoll driver sets it before its first attempt).
const ACCEPT_FLAGS: libc::c_int = libc::SOCK_CLOEXEC;

/// Gives buffer `bid` of `memory` back: to `pool` if it is this driver's
/// (`id`), else to its owner by way of its return queue.
#[inline]
fn give_back_to(pool: &mut Option<BufPool>, id: DriverId, memory: &Arc<PoolMemory>, bid: u16) {
    match pool {
        Some(pool) if memory.driver == id => pool.give_back(bid),
        _ => memory.give_back_remote(bid),
    }
}

impl UringDriver {
    /// One poll of a receive on `fd`: takes from its queue with `take`, or
    /// waits for the receive in a kernel, or starts one: the `kind` of
    /// multishot when this worker has buffers for it, else a one-shot the
    /// caller submits ([`Received::Start`]).
    #[inline]
    pub(crate) fn poll_receive<D: Descriptor, T>(
        &mut self,
        fd: &D,
        want: Option<(Multishot, usize)>,
        cx: &mut Context<'_>,
        take: impl Taker<T>,
    ) -> Received<T> {
        let side_box = fd.source().side_box();
        let mut side = side_box.lock();
        let (pool, id) = (&mut self.pool, self.id);
        if let Take::Got(out) = take(&mut side, &mut |memory, bid| {
            give_back_to(pool, id, memory, bid)
        }) {
            return Received::Took(out);
        }
        match side.busy(&self.unpark, fd.id(), side_box.addr()) {
            Busy::No => {}
            Busy::Yes => {
                side.wait(cx.waker());
                return Received::Wait;
            }
            Busy::Stuck => return Received::Fail(stuck()),
        }
        match want {
            Some((kind, fits)) if self.can_arm(kind, fits) => {
                self.arm(fd, side, kind, cx);
                Received::Wait
            }
            _ => {
                side.start_oneshot(Arc::downgrade(&self.unpark));
                Received::Start
            }
        }
    }

    /// `readable()`: ready once the queue holds something (or the kernel
    /// has bytes it had no buffer for); otherwise arms a multishot receive,
    /// or a one-shot poll when the worker's buffers are all lent out, and waits.
    pub(crate) fn poll_readable<D: Descriptor>(
        &mut self,
        fd: &D,
        stream: bool,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let side_box = fd.source().side_box();
        let mut side = side_box.lock();
        if side.ready() {
            return Poll::Ready(Ok(()));
        }
        match side.busy(&self.unpark, fd.id(), side_box.addr()) {
            Busy::No => {
                let kind = match stream && self.can_arm(Multishot::Recv, 0) {
                    true => Multishot::Recv,
                    false => Multishot::Readable,
                };
                self.arm(fd, side, kind, cx);
            }
            Busy::Yes => side.wait(cx.waker()),
            Busy::Stuck => return Poll::Ready(Err(stuck())),
        }
        Poll::Pending
    }

    /// Whether a multishot of `kind` can start now: with a provided buffer
    /// free, and (datagrams) buffers that hold a payload of `fits` bytes, so
    /// that a datagram is cut where the caller's buffer would cut it.
    fn can_arm(&self, kind: Multishot, fits: usize) -> bool {
        let pool = self.pool.as_ref().filter(|p| p.free() > 0);
        match kind {
            Multishot::Recv => pool.is_some(),
            Multishot::RecvFrom => {
                pool.is_some_and(|p| p.memory().buf_size() as usize >= recvmsg_out::OVERHEAD + fits)
            }
            Multishot::Accept | Multishot::Readable => true,
        }
    }

    /// Arms a multishot of `kind` on `fd` (whose side is `side`, `Idle`)
    /// and parks the caller as a reader. The entry is pushed only after the
    /// side's lock is released: a full submission queue reaps, and reaping
    /// may lock this same side.
    fn arm<D: Descriptor>(
        &mut self,
        fd: &D,
        mut side: SideGuard<'_, RecvSide>,
        kind: Multishot,
        cx: &mut Context<'_>,
    ) {
        let user_data = SOURCE_TAG | fd.source().side_addr();
        let memory = match kind {
            Multishot::Recv | Multishot::RecvFrom => self.pool.as_ref().map(BufPool::memory),
            Multishot::Accept | Multishot::Readable => None,
        };
        side.arm(Arc::downgrade(&self.unpark), kind, memory, fd.keep());
        side.wait(cx.waker());
        drop(side);
        self.armed += 1;
        let entry = match kind {
            Multishot::Recv => opcode::RecvMulti::new(Fd(fd.raw()), BUF_GROUP).build(),
            Multishot::RecvFrom => {
                opcode::RecvMsgMulti::new(Fd(fd.raw()), recvmsg_out::header(), BUF_GROUP).build()
            }
            Multishot::Accept => opcode::AcceptMulti::new(Fd(fd.raw()))
                .flags(ACCEPT_FLAGS)
                .build(),
            Multishot::Readable => {
                let mask = libc::POLLIN | libc::POLLRDHUP;
                opcode::PollAdd::new(Fd(fd.raw()), mask as u32).build()
            }
        };
        bump(&self.counters.ops_submitted);
        self.push(entry.user_data(user_data));
    }

    /// A completion of the multishot of the side at `addr`.
    pub(super) fn source_cqe(&mut self, addr: u64, res: i32, flags: u32) {
        // SAFETY: `addr` is the address of a side this ring armed a
        // multishot for; the side keeps its descriptor, which owns the side,
        // alive until the last completion, handled below, lets go of it.
        let side = unsafe { &*(addr as *const SideBox) };
        let bid = cqueue::buffer_select(flags);
        if bid.is_some() {
            if let Some(pool) = &mut self.pool {
                pool.taken();
            }
        }
        let c = Completion {
            res,
            more: cqueue::more(flags),
            bid,
        };
        let limits = (self.limits.max_queued, self.limits.max_conns);
        let reaction = side.lock().multishot_cqe(c, limits, &mut self.woken);
        if let (Some(bid), Some(pool)) = (reaction.give_back, &mut self.pool) {
            pool.give_back(bid);
        }
        if reaction.cancel {
            bump(&self.counters.ops_cancelled);
            self.cancel(SOURCE_TAG | addr);
        }
        if let Some(keep) = reaction.ended {
            bump(&self.counters.ops_completed);
            self.armed -= 1;
            // Outside the side's lock: may close the descriptor, and free it.
            drop(keep);
        }
    }

    /// A one-shot receive on `fd` now runs in op slot `key`: recorded on its
    /// side (for a close to cancel it) and in the slot (so a cancel by id
    /// finds it); a side closed meanwhile cancels it at once.
    pub(crate) fn oneshot_submitted<D: Descriptor>(&mut self, fd: &D, key: u64) {
        self.ops.tag(key as usize, fd.id());
        if fd.source().lock().oneshot_key(key) {
            self.cancel_receive(key, fd.id());
        }
    }

    /// Cancels the receive with `user_data` if it still belongs to the
    /// descriptor with id `sid`. A one-shot's slot may have been given to
    /// another op since, so its tag is checked; a multishot that already
    /// ended gets a cancel that finds nothing (or, should its side's memory
    /// serve another socket's multishot by now, one that re-arms: no
    /// receive loses data to a cancel).
    pub(crate) fn cancel_receive(&mut self, user_data: u64, sid: u64) {
        let ours = user_data & SOURCE_TAG != 0 || self.ops.is_tagged(user_data as usize, sid);
        if ours {
            bump(&self.counters.ops_cancelled);
            self.cancel(user_data);
        }
    }

    /// A buffer of `memory` is free again (a read or a `RecvBuf` is done with it).
    #[inline]
    pub(crate) fn give_back(&mut self, memory: &Arc<PoolMemory>, bid: u16) {
        give_back_to(&mut self.pool, self.id, memory, bid);
    }

    /// A line for `driver_info()`: the pool, or why there is none.
    pub(crate) fn pool_info(&self) -> String {
        match (&self.pool, &self.pool_note) {
            (Some(pool), _) => format!(
                "{} provided buffers of {} KiB for multishot receives",
                pool.count(),
                pool.memory().buf_size() / 1024
            ),
            (None, Some(note)) => note.clone(),
            (None, None) => "no provided buffers".to_string(),
        }
    }
}
