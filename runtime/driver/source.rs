//! A descriptor's receive side, owned by the descriptor: what the kernel
//! received for it and nobody has read yet (its queue), and the receive it
//! has in a kernel. This file is the receive protocol; the io_uring driver
//! feeds it completions, the read futures take from it, and its unit tests
//! need no runtime.
//!
//! # The protocol
//!
//! **Results belong to the socket, never to the future.** On io_uring the
//! kernel performs every receive and accept, and what it delivers goes into
//! the socket's queue unless a future is there to take it at once:
//!
//! - A *multishot* receive (stream bytes into the worker's provided buffers,
//!   or connections from a listener) stays armed and pushes each completion
//!   as a [`Chunk`]; reads copy out of the queue (or take the pooled buffer
//!   itself). An idle socket pins no buffer.
//! - A *one-shot* receive straight into the caller's buffer (datagrams,
//!   and streams when the worker's buffers run out) belongs to its future
//!   while that future lives; if the future is dropped first, the completed
//!   bytes are *adopted*: copied into the queue, where the next read finds
//!   them first.
//!
//! At most one receive is in a kernel per socket ([`Kernel`]), which keeps
//! the order: a read takes from the queue first, and only an empty queue
//! with nothing in a kernel starts a new receive. A second reader waits for
//! the first one's result to land in the queue.
//!
//! # States of [`Kernel`]
//!
//! - `Idle`: nothing of this socket is in a kernel. A read that finds the
//!   queue empty starts a multishot or a one-shot receive.
//! - `Running` a multishot (`Running::multishot` is `Some`): armed in a
//!   worker's ring, which names it by the side's address, while the side
//!   keeps its descriptor open (`keep`). Each completion queues its chunk
//!   and wakes the readers; the last one (no `IORING_CQE_F_MORE`: end of
//!   stream, an error, `ENOBUFS`, a cancel) returns the state to `Idle`
//!   and lets go of the descriptor. Once the queue holds the socket's limit
//!   of bytes the multishot is cancelled (`stopping`): back-pressure, the
//!   peer's further bytes wait in the kernel's socket buffer.
//! - `Running` a one-shot: a receive into a caller's buffer, in op slot
//!   `key`. It finishes with its future (`oneshot_done`) or, if the future
//!   is gone, by adoption (`adopt`); both return the state to `Idle`.
//!
//! A read on another worker than the one running the receive waits for it
//! while that worker's loop runs; a ring whose runtime is gone is
//! forgotten; a ring whose runtime is alive but idle cannot be waited for
//! ([`Busy::Stuck`]): the read fails, and the ring is asked to let go.
//!
//! `ENOBUFS` (the worker's buffers are all lent out) ends a multishot but is
//! not an error: data is waiting in the kernel (`data_waiting`), and the next
//! read receives it with a one-shot into its own buffer, so a socket whose
//! reader is slow never starves the others.
//!
//! # Closing
//!
//! The last user handle of the descriptor ([`close`](RecvSide::close)) marks
//! the side closed, hands back the queue's chunks (pooled buffers return to
//! their ring, queued connections close) and says which kernel receive to
//! cancel; completions that arrive after that are freed at once.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::{Arc, Weak};
use std::task::Waker;

use super::buf_pool::PoolMemory;
use super::owner::Owner;
use super::send_queue::SendQueue;
use super::side_lock::{SideGuard, SideLock};
use super::unpark::Unpark;
use crate::sys::SockAddr;

/// A descriptor's receive side; see the module doc. Made by the first
/// receive that needs it (an io_uring read), so a file, or a socket only
/// ever read on epoll, pays two words for it.
#[derive(Debug, Default)]
pub(crate) struct Source {
    /// The last user handle let go (set before the side is closed): a side
    /// made afterwards, or one being made meanwhile, is closed from the start.
    closed: AtomicBool,
    /// The side, from `Box::into_raw`, or null until made; freed with the
    /// source.
    side: AtomicPtr<SideBox>,
}

/// What a [`Source`] makes on first use. A ring names the socket's
/// multishot and queued sends by its address.
#[derive(Debug, Default)]
pub(crate) struct SideBox {
    /// Its queued sends are running, or one failed and its error waits:
    /// readable without the lock, so that a direct write (which must come
    /// after them) costs one load to find out. Set under the lock.
    pub(crate) queued: AtomicBool,
    /// The side. Guarded: filled on the worker that reaps, read by
    /// whichever thread polls a read, closed by whichever drops the last
    /// handle.
    pub(crate) side: SideLock<RecvSide>,
}

impl SideBox {
    /// Records whether queued sends run (or an error of one waits); set
    /// under the side's lock.
    pub(crate) fn set_queued(&self, queued: bool) {
        self.queued.store(queued, Ordering::Release);
    }

    /// Locks the side.
    #[inline]
    pub(crate) fn lock(&self) -> SideGuard<'_, RecvSide> {
        self.side.lock()
    }

    /// Its address, which names its multishot and queued sends in a ring.
    #[inline]
    pub(crate) fn addr(&self) -> u64 {
        self as *const SideBox as u64
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        let side = *self.side.get_mut();
        if !side.is_null() {
            // SAFETY: a non-null `side` came from `Box::into_raw` in `make`
            // and is freed only here, once; no ring names it any more (an
            // armed multishot keeps the source alive).
            drop(unsafe { Box::from_raw(side) });
        }
    }
}

impl Source {
    /// The side if it was made.
    #[inline]
    fn get(&self) -> Option<&SideBox> {
        // SAFETY: a non-null pointer came from `Box::into_raw` and stays
        // valid until the source is dropped, which `&self` rules out.
        unsafe { self.side.load(Ordering::Acquire).as_ref() }
    }

    /// The side, made on first use (two threads making it at once keep
    /// the first one's). A side made while the source closes is closed
    /// here or by [`close`](Source::close): each publishes its own step
    /// (the side, the closed flag) and then looks at the other's.
    #[inline]
    pub(crate) fn side_box(&self) -> &SideBox {
        match self.get() {
            Some(side) => side,
            None => self.make(),
        }
    }

    /// [`side_box`](Source::side_box)'s first use.
    #[cold]
    fn make(&self) -> &SideBox {
        let new = Box::into_raw(Box::<SideBox>::default());
        let won = self.side.compare_exchange(
            std::ptr::null_mut(),
            new,
            Ordering::SeqCst,
            Ordering::Acquire,
        );
        if won.is_err() {
            // SAFETY: `new` came from `Box::into_raw` above and was never shared.
            drop(unsafe { Box::from_raw(new) });
        }
        let Some(side) = self.get() else {
            unreachable!("the side was just made")
        };
        if self.closed.load(Ordering::SeqCst) {
            // Closed meanwhile: nothing of the new side reached a kernel yet.
            side.lock().closed = true;
        }
        side
    }

    /// Whether queued sends run (or an error of one waits); see
    /// [`SideBox::queued`].
    #[inline]
    pub(crate) fn queued(&self) -> bool {
        self.get()
            .is_some_and(|side| side.queued.load(Ordering::Acquire))
    }

    /// Locks the receive side, making it if this is its first use.
    #[inline]
    pub(crate) fn lock(&self) -> SideGuard<'_, RecvSide> {
        self.side_box().lock()
    }

    /// The side's address, which names its multishot in a ring.
    pub(crate) fn side_addr(&self) -> u64 {
        self.side_box().addr()
    }

    /// Locks the receive side if it was ever made (else there is nothing
    /// queued and nothing in a kernel).
    #[inline]
    pub(crate) fn existing(&self) -> Option<SideGuard<'_, RecvSide>> {
        self.get().map(SideBox::lock)
    }

    /// Marks the source closed; returns its side, locked, with its
    /// address, if it has one (see [`RecvSide::close`]).
    pub(crate) fn close(&self) -> Option<(SideGuard<'_, RecvSide>, u64)> {
        self.closed.store(true, Ordering::SeqCst);
        // SeqCst, against `make`: see `side_box`.
        // SAFETY: as in `get`.
        let side = unsafe { self.side.load(Ordering::SeqCst).as_ref() }?;
        Some((side.lock(), side.addr()))
    }
}

/// `Running::key` of a one-shot not yet submitted, or of a multishot.
pub(crate) const NO_KEY: u32 = u32::MAX;

/// Tag bit of a multishot's `user_data` (tag | address of its socket's
/// side). Neither op slot keys nor user-space addresses reach bit 63.
pub(crate) const MULTISHOT_TAG: u64 = 1 << 63;

/// Tag bit of a queued send's `user_data` (tag | address of its socket's
/// side); bit 63 is clear in it.
pub(crate) const SEND_TAG: u64 = 1 << 62;

/// What the socket has in a kernel; see the module doc.
#[derive(Debug, Default)]
pub(crate) enum Kernel {
    /// Nothing.
    #[default]
    Idle,
    /// A receive runs in a ring.
    Running(Running),
}

/// A receive in a ring: where it runs, and what it is.
#[derive(Debug)]
pub(crate) struct Running {
    /// The wake-up handle of the worker whose ring holds the receive: it
    /// names the driver, and reaches it from another thread to ask for a
    /// cancel. Weak, so a socket outliving its runtime keeps no eventfd open.
    pub(crate) owner: Weak<Unpark>,
    /// A one-shot's op slot key; [`NO_KEY`] until it has one (and for a
    /// multishot, which the ring names by its side's address).
    pub(crate) key: u32,
    /// A multishot of this kind, or `None` for a one-shot receive into a
    /// caller's buffer.
    pub(crate) multishot: Option<Multishot>,
    /// A multishot's cancel was asked for (back-pressure, close);
    /// completions may still come.
    pub(crate) stopping: bool,
}

impl Running {
    /// Whether the receive runs in the driver of worker `here`.
    pub(crate) fn is(&self, here: &Arc<Unpark>) -> bool {
        std::ptr::eq(self.owner.as_ptr(), Arc::as_ptr(here))
    }
}

/// What multishot a socket arms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Multishot {
    /// Stream bytes into the worker's provided buffers.
    Recv,
    /// Datagrams with their source, one per provided buffer
    /// (`recvmsg_out.rs` says how one is laid out).
    RecvFrom,
    /// Connections on a listening socket.
    Accept,
    /// A one-shot poll for input, for `readable()` when the worker's
    /// buffers are all lent out: its completion says data is waiting.
    Readable,
}

/// A datagram adopted from a one-shot receive whose future was dropped.
#[derive(Debug)]
pub(crate) struct Datagram {
    /// Its bytes (as many as the dropped receive's buffer held).
    pub(crate) bytes: Vec<u8>,
    /// Where it came from; `None` when the receive did not ask.
    pub(crate) from: Option<SockAddr>,
}

/// One thing the kernel received and nobody has taken yet.
#[derive(Debug)]
pub(crate) enum Chunk {
    /// Bytes in a buffer of the pool `RecvSide::pool`: `start..end`.
    Pooled {
        /// The buffer.
        bid: u16,
        /// First unread byte.
        start: u32,
        /// End of the received bytes.
        end: u32,
    },
    /// Bytes adopted from a dropped one-shot read, from `start`.
    Bytes {
        /// The bytes.
        data: Box<[u8]>,
        /// First unread byte.
        start: u32,
    },
    /// A whole datagram (datagram sockets).
    Datagram(Box<Datagram>),
    /// An accepted connection (listeners).
    Conn(OwnedFd),
    /// End of stream: every later read returns 0.
    Eof,
    /// A receive failed with this errno; reported once.
    Err(i32),
}

impl Chunk {
    /// Unread bytes it holds (for the queue's limit).
    fn len(&self) -> usize {
        match self {
            Chunk::Pooled { start, end, .. } => (end - start) as usize,
            Chunk::Bytes { data, start } => data.len() - *start as usize,
            Chunk::Datagram(d) => d.bytes.len(),
            Chunk::Conn(_) | Chunk::Eof | Chunk::Err(_) => 0,
        }
    }
}

/// A receive side's state; see the module doc. Only its methods change it.
#[derive(Debug, Default)]
pub(crate) struct RecvSide {
    /// What is in a kernel.
    pub(crate) kernel: Kernel,
    /// Received, not yet taken, in order. The front chunk is kept apart so
    /// that the usual queue of at most one chunk needs no allocation.
    front: Option<Chunk>,

    /// Unread bytes in the queue, against the limit.
    queued: u32,
    /// A task waiting for the queue or the kernel state to change (more
    /// of them wait in `extra`).
    waiter: Option<Waker>,
    /// End of stream was read: every later read returns 0 at once.
    eof: bool,
    /// The kernel has bytes it had no buffer for (`ENOBUFS`).
    data_waiting: bool,
    /// The last user handle is gone.
    closed: bool,
    /// The buffers `Chunk::Pooled` chunks name (the pool of the driver that
    /// armed the last multishot receive).
    pool: Option<Arc<PoolMemory>>,
    /// While a multishot is armed: its descriptor, kept open (and this side
    /// alive, since the ring names it by address) until its last completion.
    keep: Option<Arc<dyn Owner>>,
    /// What most sockets never need, made on first use: chunks after the
    /// front one, further waiters, queued sends.
    extra: Option<Box<Extra>>,
}

/// The rarely used part of a [`RecvSide`], kept apart so that a side stays
/// small (every socket read on io_uring has one).
#[derive(Debug, Default)]
struct Extra {
    /// The chunks after `RecvSide::front`.
    rest: std::collections::VecDeque<Chunk>,
    /// Waiters after `RecvSide::waiter` (several tasks reading one socket).
    waiters: Vec<Waker>,
    /// The poll-based writes' queued sends (io_uring).
    sends: SendQueue,
}

/// What reaping a multishot completion asks of the driver.
#[derive(Default)]
pub(crate) struct Reaction {
    /// The multishot ended: its descriptor, to let go of once the side is
    /// unlocked (dropping it may close the descriptor and free the side).
    pub(crate) ended: Option<Arc<dyn Owner>>,
    /// Cancel it (the queue reached its limit, or the side is closed).
    pub(crate) cancel: bool,
    /// A provided buffer nobody will read (the side is closed): give it back.
    pub(crate) give_back: Option<u16>,
}

/// Whether a read must wait for a receive the socket has in a kernel.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Busy {
    /// Nothing is in a kernel: start a receive.
    No,
    /// A receive runs where its completions will be reaped: wait for it.
    Yes,
    /// A receive runs in the ring of a runtime that is alive but not
    /// running, so nothing would reap it: fail now (the ring was asked to
    /// let go the next time it runs, which queues what it received).
    Stuck,
}

/// What a read found in the queue.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Take<T> {
    /// Something to return.
    Got(T),
    /// Nothing queued: wait, or start a receive.
    Empty,
}

/// What a read takes from its socket's queue, given the side (locked) and
/// how to free a provided buffer it consumed: each receive's `take`,
/// handed to the driver's `poll_receive`.
pub(crate) trait Taker<T>:
    FnOnce(&mut RecvSide, &mut dyn FnMut(&Arc<PoolMemory>, u16)) -> Take<T>
{
}

impl<T, F> Taker<T> for F where
    F: FnOnce(&mut RecvSide, &mut dyn FnMut(&Arc<PoolMemory>, u16)) -> Take<T>
{
}

/// What a zero-copy read takes: a provided buffer, lent (bytes
/// `start..end` of buffer `bid` of the pool), or bytes of their own.
#[derive(Debug)]
pub(crate) enum Lent {
    /// A provided buffer, which the taker must give back.
    Pooled(Arc<PoolMemory>, u16, u32, u32),
    /// Bytes moved out of the queue (empty: end of stream).
    Bytes(Vec<u8>),
}

/// A multishot completion, as the driver read it from the CQE.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Completion {
    /// The result (`-errno` on failure).
    pub(crate) res: i32,
    /// `IORING_CQE_F_MORE`: the multishot stays armed.
    pub(crate) more: bool,
    /// The provided buffer it filled, if any.
    pub(crate) bid: Option<u16>,
}

impl RecvSide {
    /// Whether something waits to be taken (a chunk, end of stream, or
    /// bytes the kernel had no buffer for): `readable()` is then ready.
    pub(crate) fn ready(&self) -> bool {
        self.front.is_some() || self.eof || self.data_waiting || self.closed
    }

    /// The `user_data` to cancel this side's receive with (`addr`: the
    /// side's address), once it has one, and the ring it runs in.
    #[inline]
    pub(crate) fn cancel_target(&self, addr: u64) -> Option<(&Weak<Unpark>, u64)> {
        match &self.kernel {
            Kernel::Idle => None,
            Kernel::Running(run) if run.multishot.is_some() => {
                Some((&run.owner, MULTISHOT_TAG | addr))
            }
            Kernel::Running(run) => (run.key != NO_KEY).then_some((&run.owner, u64::from(run.key))),
        }
    }

    /// Whether a read by driver `here` waits for a receive in a kernel; a
    /// receive in a ring that is gone is forgotten. `sid` is the
    /// descriptor's id and `addr` the side's address, for a cancel asked
    /// of an idle ring.
    #[inline]
    pub(crate) fn busy(&mut self, here: &Arc<Unpark>, sid: u64, addr: u64) -> Busy {
        let Kernel::Running(run) = &self.kernel else {
            return Busy::No;
        };
        if run.is(here) {
            return Busy::Yes;
        }
        match run.owner.upgrade() {
            // Its runtime is gone, and its ring with the receive.
            None => {
                self.kernel = Kernel::Idle;
                Busy::No
            }
            Some(owner) if owner.is_active() => Busy::Yes,
            Some(owner) => {
                if let Some((_, user_data)) = self.cancel_target(addr) {
                    owner.release(user_data, sid);
                }
                Busy::Stuck
            }
        }
    }

    /// Whether the side was closed (its last handle dropped).
    #[inline]
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether the front chunk holds bytes (not a connection, an end of
    /// stream or an error).
    pub(crate) fn has_bytes(&self) -> bool {
        matches!(
            self.front,
            Some(Chunk::Pooled { .. } | Chunk::Bytes { .. } | Chunk::Datagram(_))
        )
    }

    /// Parks `waker` until a chunk arrives or the kernel state changes.
    #[inline]
    pub(crate) fn wait(&mut self, waker: &Waker) {
        match &self.waiter {
            None => self.waiter = Some(waker.clone()),
            Some(w) if w.will_wake(waker) => {}
            Some(_) => {
                let more = &mut self.extra().waiters;
                if !more.iter().any(|w| w.will_wake(waker)) {
                    more.push(waker.clone());
                }
            }
        }
    }

    /// Moves the waiting wakers into `out`.
    #[inline]
    pub(crate) fn wake_into(&mut self, out: &mut Vec<Waker>) {
        if let Some(w) = self.waiter.take() {
            out.push(w);
            if let Some(extra) = &mut self.extra {
                out.append(&mut extra.waiters);
            }
        }
    }

    /// The rarely used part, made on first use.
    #[inline]
    fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// Appends `chunk` to the queue.
    #[inline]
    fn push(&mut self, chunk: Chunk) {
        self.queued = self.queued.saturating_add(chunk.len() as u32);
        match self.front {
            None => self.front = Some(chunk),
            Some(_) => self.extra().rest.push_back(chunk),
        }
    }

    /// Removes the front chunk.
    #[inline]
    fn pop(&mut self) -> Option<Chunk> {
        let chunk = self.front.take()?;
        self.front = self.extra.as_mut().and_then(|extra| extra.rest.pop_front());
        self.queued = self.queued.saturating_sub(chunk.len() as u32);
        Some(chunk)
    }

    /// Chunks queued after the front one.
    fn rest_len(&self) -> usize {
        self.extra.as_ref().map_or(0, |extra| extra.rest.len())
    }

    /// A multishot of `kind` is about to be armed in the ring of worker
    /// `owner`, lending buffers of `pool` (`None` for accepts), keeping
    /// `keep` (its descriptor) until its last completion. Only from `Idle`.
    pub(crate) fn arm(
        &mut self,
        owner: Weak<Unpark>,
        kind: Multishot,
        pool: Option<&Arc<PoolMemory>>,
        keep: Arc<dyn Owner>,
    ) {
        debug_assert!(matches!(self.kernel, Kernel::Idle));
        if let Some(pool) = pool {
            // Chunks of an earlier pool would be misread: arming happens only
            // once the queue is empty, so there are none.
            debug_assert!(self.front.is_none());
            if !self.pool.as_ref().is_some_and(|p| Arc::ptr_eq(p, pool)) {
                self.pool = Some(pool.clone());
            }
        }
        self.data_waiting = false;
        self.keep = Some(keep);
        self.kernel = Kernel::Running(Running {
            owner,
            key: NO_KEY,
            multishot: Some(kind),
            stopping: false,
        });
    }

    /// The queued sends, made on first use.
    #[inline]
    pub(crate) fn sends(&mut self) -> &mut SendQueue {
        &mut self.extra().sends
    }

    /// A one-shot receive is about to start in the ring of worker `owner`.
    /// Only from `Idle`.
    pub(crate) fn start_oneshot(&mut self, owner: Weak<Unpark>) {
        debug_assert!(matches!(self.kernel, Kernel::Idle));
        self.kernel = Kernel::Running(Running {
            owner,
            key: NO_KEY,
            multishot: None,
            stopping: false,
        });
    }

    /// The one-shot receive now has slot `key`; says whether to cancel it
    /// at once (the side was closed meanwhile).
    pub(crate) fn oneshot_key(&mut self, key: u64) -> bool {
        let Kernel::Running(run) = &mut self.kernel else {
            return false;
        };
        if run.multishot.is_some() {
            return false;
        }
        run.key = u32::try_from(key).unwrap_or(NO_KEY);
        self.closed
    }

    /// The receive `start_oneshot` announced is not started after all (its
    /// reader waits for readiness first): back to `Idle`, as it was.
    pub(crate) fn unstart(&mut self) {
        if matches!(&self.kernel, Kernel::Running(run) if run.multishot.is_none() && run.key == NO_KEY)
        {
            self.kernel = Kernel::Idle;
        }
    }

    /// Whether a one-shot receive (not a multishot) runs.
    fn oneshot_running(&self) -> bool {
        matches!(&self.kernel, Kernel::Running(run) if run.multishot.is_none())
    }

    /// The one-shot receive finished and its future took the result; the
    /// readers waiting behind it try again.
    pub(crate) fn oneshot_done(&mut self, woken: &mut Vec<Waker>) {
        if self.oneshot_running() {
            self.kernel = Kernel::Idle;
            // It received what the kernel had, or some: a later readable()
            // asks the kernel again.
            self.data_waiting = false;
        }
        self.wake_into(woken);
    }

    /// A one-shot receive finished after its future was dropped: `chunk`
    /// (if any) is what it received, queued for the next read.
    pub(crate) fn adopt(&mut self, chunk: Option<Chunk>, woken: &mut Vec<Waker>) {
        if self.oneshot_running() {
            self.kernel = Kernel::Idle;
            self.data_waiting = false;
        }
        if let Some(chunk) = chunk {
            if !self.closed {
                self.push(chunk);
            }
        }
        self.wake_into(woken);
    }

    /// A completion `c` of this side's multishot; `limits` are the queue's
    /// byte limit and (accepts) connection limit, `woken` collects the
    /// readers to wake. Says what the driver must do.
    #[inline]
    pub(crate) fn multishot_cqe(
        &mut self,
        c: Completion,
        limits: (usize, usize),
        woken: &mut Vec<Waker>,
    ) -> Reaction {
        let Kernel::Running(Running {
            multishot: Some(kind),
            ..
        }) = self.kernel
        else {
            // Not armed (a completion the driver misrouted): take nothing.
            return Reaction::default();
        };
        // The usual case, straight: bytes into the empty queue of an open
        // side, far below the limit, the multishot staying armed.
        if let (Multishot::Recv | Multishot::RecvFrom, true, Some(bid), None, false) =
            (kind, c.more, c.bid, &self.front, self.closed)
        {
            if c.res > 0 && (c.res as usize) < limits.0 {
                self.front = Some(Chunk::Pooled {
                    bid,
                    start: 0,
                    end: c.res as u32,
                });
                self.queued = c.res as u32;
                self.wake_into(woken);
                return Reaction::default();
            }
        }
        let mut reaction = Reaction::default();
        let chunk = match (kind, c.res) {
            (Multishot::Recv | Multishot::RecvFrom, n) if n > 0 => match c.bid {
                Some(bid) => Some(Chunk::Pooled {
                    bid,
                    start: 0,
                    end: n as u32,
                }),
                // The kernel always names the buffer it filled.
                None => Some(Chunk::Err(libc::EIO)),
            },
            (Multishot::Recv, 0) => Some(Chunk::Eof),
            (Multishot::Readable, mask) if mask >= 0 => {
                self.data_waiting = true;
                None
            }
            (Multishot::Accept, fd) if fd >= 0 => {
                // SAFETY: a successful accept returned a new descriptor that
                // nothing else owns.
                Some(Chunk::Conn(unsafe {
                    std::os::fd::FromRawFd::from_raw_fd(fd)
                }))
            }
            (_, e) if e == -libc::ENOBUFS => {
                self.data_waiting = true;
                None
            }
            (_, e) if e == -libc::ECANCELED => None,
            (_, e) => Some(Chunk::Err(-e)),
        };
        if self.closed {
            if let Some(Chunk::Pooled { bid, .. }) = chunk {
                reaction.give_back = Some(bid);
            }
            // A connection drops here, closing it.
            reaction.cancel = c.more && self.mark_stopping();
        } else if let Some(chunk) = chunk {
            self.push(chunk);
            let full = match kind {
                Multishot::Recv | Multishot::RecvFrom => self.queued as usize >= limits.0,
                Multishot::Accept => self.rest_len() + 1 >= limits.1,
                Multishot::Readable => false,
            };
            if full && c.more {
                reaction.cancel = self.mark_stopping();
            }
        }
        if !c.more {
            self.kernel = Kernel::Idle;
            reaction.ended = self.keep.take();
        }
        self.wake_into(woken);
        reaction
    }

    /// Marks a multishot as being cancelled; false if it already was.
    fn mark_stopping(&mut self) -> bool {
        match &mut self.kernel {
            Kernel::Running(run) if run.multishot.is_some() && !run.stopping => {
                run.stopping = true;
                true
            }
            _ => false,
        }
    }

    /// Copies queued bytes into `dst` (a stream read), as many as fit, across
    /// chunks; consumed pooled buffers go to `give_back`. `peek` copies
    /// without consuming. End of stream and errors are returned in order:
    /// `Ok(0)` for end of stream (sticky), an error once.
    ///
    /// # Safety
    ///
    /// `dst` is valid for writes of `len` bytes.
    pub(crate) unsafe fn take_bytes(
        &mut self,
        dst: *mut u8,
        len: usize,
        peek: bool,
        give_back: &mut dyn FnMut(&Arc<PoolMemory>, u16),
    ) -> Take<io::Result<usize>> {
        if self.closed {
            return Take::Got(Err(closed()));
        }
        if len == 0 && (self.front.is_some() || self.eof) {
            return Take::Got(Ok(0));
        }
        let mut n = 0;
        // The chunk being read: always the front, but for peeks, which
        // walk the queue without consuming it.
        let mut index = 0;
        loop {
            let chunk = match index {
                0 => self.front.as_mut(),
                i => self
                    .extra
                    .as_mut()
                    .and_then(|extra| extra.rest.get_mut(i - 1)),
            };
            let Some(chunk) = chunk else {
                break;
            };
            let room = len - n;
            // The bytes to copy, and whether they finish the chunk.
            let (src, whole): (&[u8], bool) = match chunk {
                Chunk::Pooled { bid, start, end } => {
                    let Some(pool) = self.pool.as_deref() else {
                        unreachable!("a pooled chunk without its pool")
                    };
                    let avail = *end - *start;
                    let take = avail.min(u32::try_from(room).unwrap_or(u32::MAX));
                    // SAFETY: the queue holds buffer `bid`, and the kernel
                    // wrote `..end` of it.
                    let src = unsafe { pool.bytes(*bid, *start, take) };
                    if !peek {
                        *start += take;
                    }
                    (src, take == avail)
                }
                Chunk::Bytes { data, start } => {
                    let at = *start as usize;
                    let avail = data.len() - at;
                    let take = avail.min(room);
                    let src = &data[at..at + take];
                    if !peek {
                        *start += take as u32;
                    }
                    (src, take == avail)
                }
                // A datagram read as bytes is consumed whole (what does not
                // fit is cut, as recv(2) cuts it).
                Chunk::Datagram(d) => (&d.bytes[..d.bytes.len().min(room)], true),
                Chunk::Eof | Chunk::Err(_) | Chunk::Conn(_) => {
                    if n > 0 {
                        break; // report the bytes first
                    }
                    return Take::Got(self.take_marker(peek));
                }
            };
            let taken = src.len();
            // SAFETY: `dst` has room for `len` bytes (the caller's contract)
            // and `n + taken <= len`; `src` is queue memory, not `dst`.
            unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.add(n), taken) };
            n += taken;
            if peek {
                if whole && n < len {
                    index += 1;
                    continue;
                }
                break;
            }
            // Pooled and byte chunks were advanced past what was read (a
            // popped chunk then counts for nothing more); a datagram counts
            // whole until popped.
            if !matches!(self.front, Some(Chunk::Datagram(_))) {
                self.queued = self.queued.saturating_sub(taken as u32);
            }
            if whole {
                let done = self.pop();
                if let Some(Chunk::Pooled { bid, .. }) = done {
                    let Some(pool) = self.pool.as_ref() else {
                        unreachable!("a pooled chunk without its pool")
                    };
                    give_back(pool, bid);
                }
            }
            if n == len {
                break;
            }
        }
        if n > 0 {
            return Take::Got(Ok(n));
        }
        if self.eof {
            return Take::Got(Ok(0));
        }
        Take::Empty
    }

    /// The front chunk is end of stream or an error: returns it (consuming
    /// an error unless `peek`; end of stream stays sticky).
    fn take_marker(&mut self, peek: bool) -> io::Result<usize> {
        match self.front {
            Some(Chunk::Eof) => {
                if !peek {
                    self.pop();
                    self.eof = true;
                }
                Ok(0)
            }
            Some(Chunk::Err(errno)) => {
                if !peek {
                    self.pop();
                }
                Err(io::Error::from_raw_os_error(errno))
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a stream read on a socket that queued something else",
            )),
        }
    }

    /// Takes the front chunk whole, whatever it is (accepts, datagrams,
    /// zero-copy reads).
    #[inline]
    pub(crate) fn take_chunk(&mut self) -> Take<Chunk> {
        if self.closed {
            return Take::Got(Chunk::Err(libc::EBADF));
        }
        if self.eof && self.front.is_none() {
            return Take::Got(Chunk::Eof);
        }
        match self.pop() {
            Some(Chunk::Eof) => {
                self.eof = true;
                Take::Got(Chunk::Eof)
            }
            Some(chunk) => Take::Got(chunk),
            None => Take::Empty,
        }
    }

    /// Takes the front chunk's bytes for a zero-copy read: a pooled buffer
    /// is lent as it is (the taker gives it back), other bytes are moved
    /// out; end of stream is an empty `Bytes` (sticky), an error is
    /// reported once.
    #[inline]
    pub(crate) fn take_lent(&mut self) -> Take<io::Result<Lent>> {
        // The usual case, straight: a pooled chunk at the front.
        if let (Some(Chunk::Pooled { .. }), Some(pool), false) =
            (&self.front, &self.pool, self.closed)
        {
            let Some(Chunk::Pooled { bid, start, end }) = self.front.take() else {
                unreachable!("matched above")
            };
            let lent = Lent::Pooled(pool.clone(), bid, start, end);
            self.queued = self.queued.saturating_sub(end - start);
            if let Some(extra) = &mut self.extra {
                self.front = extra.rest.pop_front();
            }
            return Take::Got(Ok(lent));
        }
        let chunk = match self.take_chunk() {
            Take::Empty => return Take::Empty,
            Take::Got(chunk) => chunk,
        };
        Take::Got(match chunk {
            Chunk::Pooled { bid, start, end } => match &self.pool {
                Some(pool) => Ok(Lent::Pooled(pool.clone(), bid, start, end)),
                None => unreachable!("a pooled chunk without its pool"),
            },
            Chunk::Bytes { data, start } => {
                let mut data = data.into_vec();
                data.drain(..start as usize);
                Ok(Lent::Bytes(data))
            }
            Chunk::Datagram(d) => Ok(Lent::Bytes(d.bytes)),
            Chunk::Eof => Ok(Lent::Bytes(Vec::new())),
            Chunk::Err(errno) => Err(io::Error::from_raw_os_error(errno)),
            Chunk::Conn(_) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a stream read on a socket that queued connections",
            )),
        })
    }

    /// The pool `Chunk::Pooled` chunks name.
    pub(crate) fn pool(&self) -> Option<&Arc<PoolMemory>> {
        self.pool.as_ref()
    }

    /// The front chunk, to look at without taking it (datagram peeks).
    pub(crate) fn front(&self) -> Option<&Chunk> {
        self.front.as_ref()
    }

    /// The owner of the descriptor let go of it: marks the side closed and
    /// returns what it held (chunks to free, the kernel receive to cancel,
    /// the readers to wake); `addr` is the side's address.
    pub(crate) fn close(&mut self, addr: u64) -> Closed {
        self.closed = true;
        let mut chunks = Vec::new();
        while let Some(chunk) = self.pop() {
            chunks.push(chunk);
        }
        let cancel = self
            .cancel_target(addr)
            .map(|(owner, user_data)| (owner.clone(), user_data));
        if let Kernel::Running(run) = &mut self.kernel {
            run.stopping = true;
        }
        if let Some(extra) = &mut self.extra {
            extra.rest = Default::default();
        }
        let mut woken = Vec::new();
        self.wake_into(&mut woken);
        Closed {
            chunks,
            pool: self.pool.clone(),
            cancel,
            woken,
        }
    }
}

/// The error of a read whose socket's receive is stuck in an idle ring
/// (see [`Busy::Stuck`]).
pub(crate) fn stuck() -> io::Error {
    io::Error::other(
        "runtime: this socket's receive is in the ring of another runtime, which is alive but \
         not running (outside its block_on); run that runtime once (it then hands over what it \
         received) or drop it, then read again",
    )
}

/// The error of a read whose socket was closed meanwhile (its last handle
/// dropped while the read's future lived on).
pub(crate) fn closed() -> io::Error {
    io::Error::from_raw_os_error(libc::EBADF)
}

/// What closing a side let go of.
#[derive(Debug)]
pub(crate) struct Closed {
    /// Queued chunks, to free (pooled buffers go back to `pool`).
    pub(crate) chunks: Vec<Chunk>,
    /// The pool of the pooled chunks.
    pub(crate) pool: Option<Arc<PoolMemory>>,
    /// The kernel receive to cancel: the ring's worker, and the `user_data`.
    pub(crate) cancel: Option<(Weak<Unpark>, u64)>,
    /// Readers to wake (their reads now fail).
    pub(crate) woken: Vec<Waker>,
}

#[cfg(test)]
#[path = "source_tests.rs"]
mod tests;
