//! A socket's queued sends, kept on its `Source` beside its receives: on
//! io_uring, sends whose completion no task waits for. Two kinds of write
//! queue here, in one order:
//!
//! - the poll-based writes of the tokio, futures and hyper bridges, whose
//!   bytes a `poll_write` only borrows, so they are copied (and coalesced);
//! - owned buffers handed over with `write_queued`, sent as they are (a
//!   provided buffer lent by `recv_buf` goes back to its ring once sent).
//!
//! One send runs in the kernel at a time (`uring_send.rs`), which keeps the
//! byte order; what is written meanwhile waits here, up to [`LIMIT`] bytes,
//! and the completion of each send starts the next. A send's error is kept
//! and returned by the next write or flush, as a buffered writer reports
//! it, and what waited behind it is dropped.

use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::task::Waker;

use super::buf_pool::PoolMemory;
use super::owner::Owner;

/// Bytes that may wait behind the send in flight before writers wait.
pub(crate) const LIMIT: usize = 64 * 1024;

/// An owned buffer a queued send reads: the driver knows nothing of
/// buffer types, only that the bytes stay put and alive while it holds them.
pub(crate) trait Bytes: Send + 'static {
    /// The bytes to send, at an address that stays put while `self` lives
    /// unchanged (moving `self` moves no byte).
    fn bytes(&self) -> &[u8];
}

/// What waits to be sent, or is being sent.
pub(crate) enum Queued {
    /// Bytes copied from poll-based writes (later ones join it).
    Copied(Vec<u8>),
    /// A provided buffer, lent by a receive: `len` bytes at `ptr` of buffer
    /// `bid` of `memory`, given back once sent.
    Pooled {
        /// The buffers, kept alive while lent; `None` once given back.
        memory: Option<Arc<PoolMemory>>,
        /// The buffer.
        bid: u16,
        /// Its first byte to send.
        ptr: *const u8,
        /// How many.
        len: usize,
    },
    /// Any other owned buffer, sent as it is.
    Owned(Box<dyn Bytes>),
}

// SAFETY: `Pooled`'s pointer points into the pool's shared memory, which
// its `Arc` keeps mapped; the buffer is lent to this item alone. The other
// variants are `Send` already.
unsafe impl Send for Queued {}

impl std::fmt::Debug for Queued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Queued::Copied(_) => "copied",
            Queued::Pooled { .. } => "pooled",
            Queued::Owned(_) => "owned",
        };
        write!(f, "Queued({kind}, {} bytes)", self.bytes().len())
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        // A lent buffer dropped unsent (an error, a close): back to its
        // worker by way of its return queue. The driver gives back the
        // ones it sent itself, directly (`take_lent`).
        if let Queued::Pooled {
            memory: Some(memory),
            bid,
            ..
        } = self
        {
            memory.give_back_remote(*bid);
        }
    }
}

impl Queued {
    /// A lent provided buffer's pool and buffer, taken out (the item then
    /// gives nothing back when dropped).
    pub(crate) fn take_lent(&mut self) -> Option<(Arc<PoolMemory>, u16)> {
        match self {
            Queued::Pooled { memory, bid, .. } => memory.take().map(|m| (m, *bid)),
            _ => None,
        }
    }

    /// The bytes to send.
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        match self {
            Queued::Copied(v) => v,
            // SAFETY: `len` initialised bytes at `ptr`, in a buffer this
            // item holds (see the variant).
            Queued::Pooled { ptr, len, .. } => unsafe { std::slice::from_raw_parts(*ptr, *len) },
            Queued::Owned(b) => b.bytes(),
        }
    }
}

/// One socket's queued writes; see the module doc.
#[derive(Debug, Default)]
pub(crate) struct SendQueue {
    /// The send in the kernel, whose bytes it reads.
    pub(crate) in_flight: Option<Queued>,
    /// What waits for it, in order.
    pending: VecDeque<Queued>,
    /// Bytes in `pending`.
    pending_len: usize,
    /// The error of a send, for the next caller.
    pub(crate) error: Option<io::Error>,
    /// Writers, flushers and shutdowns waiting for room or completion.
    pub(crate) waiters: Vec<Waker>,
    /// While sends run: the descriptor, kept open (and its side alive, for
    /// the ring names the sends by the side's address).
    pub(crate) keep: Option<Arc<dyn Owner>>,
    /// The descriptor's number, for the next send (valid while `keep` is held).
    pub(crate) fd: std::os::fd::RawFd,
}

impl SendQueue {
    /// Whether a send runs.
    #[inline]
    pub(crate) fn busy(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Parks `waker` until the queue changes.
    pub(crate) fn wait(&mut self, waker: &Waker) {
        if !self.waiters.iter().any(|w| w.will_wake(waker)) {
            self.waiters.push(waker.clone());
        }
    }

    /// Room left behind the send in flight.
    pub(crate) fn room(&self) -> usize {
        LIMIT.saturating_sub(self.pending_len)
    }

    /// Whether nothing waits to be handed to the kernel.
    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "futures-io", feature = "hyper")),
        allow(dead_code)
    )]
    pub(crate) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Queues copied bytes behind what waits (joining the last copy).
    #[cfg_attr(
        not(any(feature = "tokio-io", feature = "futures-io", feature = "hyper")),
        allow(dead_code)
    )]
    pub(crate) fn push_copied(&mut self, bytes: &[u8]) {
        self.pending_len += bytes.len();
        if let Some(Queued::Copied(last)) = self.pending.back_mut() {
            last.extend_from_slice(bytes);
            return;
        }
        self.pending.push_back(Queued::Copied(bytes.to_vec()));
    }

    /// Queues an item behind what waits.
    pub(crate) fn push(&mut self, item: Queued) {
        self.pending_len += item.bytes().len();
        self.pending.push_back(item);
    }

    /// The send in flight finished with `res`: returns it (to drop, or to
    /// give its buffer back) and leaves in flight what goes next (its
    /// unsent rest first, then what waited), if anything; the waiters to
    /// wake go to `woken`. After an error nothing more is sent: the error
    /// waits for the next caller, and what waited is dropped.
    #[inline]
    pub(crate) fn sent(&mut self, res: io::Result<u32>, woken: &mut Vec<Waker>) -> Option<Queued> {
        if !self.waiters.is_empty() {
            woken.append(&mut self.waiters);
        }
        let done = self.in_flight.take();
        // The usual case, straight: all of it went, nothing waits.
        if let (Ok(n), Some(d), true) = (&res, &done, self.pending.is_empty()) {
            if *n as usize >= d.bytes().len() {
                return done;
            }
        }
        match res {
            Err(e) => {
                self.error = Some(e);
                self.pending.clear();
                self.pending_len = 0;
            }
            Ok(n) => {
                let rest = done
                    .as_ref()
                    .map(|d| &d.bytes()[(n as usize).min(d.bytes().len())..])
                    .filter(|rest| !rest.is_empty());
                self.in_flight = match rest {
                    // A short stream send (a signal, say): the rest first.
                    Some(rest) => Some(Queued::Copied(rest.to_vec())),
                    None => self.pending.pop_front().inspect(|next| {
                        self.pending_len -= next.bytes().len();
                    }),
                };
            }
        }
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Bytes for Vec<u8> {
        fn bytes(&self) -> &[u8] {
            self
        }
    }

    /// Finishes the send in flight with `res`; returns what is in flight next.
    fn finish(q: &mut SendQueue, res: io::Result<u32>) -> Option<Vec<u8>> {
        q.sent(res, &mut Vec::new());
        q.in_flight.as_ref().map(|next| next.bytes().to_vec())
    }

    #[test]
    fn sends_go_out_one_at_a_time_in_order() {
        let mut q = SendQueue {
            in_flight: Some(Queued::Copied(b"first".to_vec())),
            ..SendQueue::default()
        };
        q.push_copied(b"la");
        q.push_copied(b"ter");
        q.push(Queued::Owned(Box::new(b"owned".to_vec())));
        q.push_copied(b"!");
        assert_eq!(q.room(), LIMIT - 11);
        // A short send: its rest goes first.
        assert_eq!(finish(&mut q, Ok(3)).unwrap(), b"st");
        // Copies joined, the owned buffer as it is, in order.
        assert_eq!(finish(&mut q, Ok(2)).unwrap(), b"later");
        assert_eq!(finish(&mut q, Ok(5)).unwrap(), b"owned");
        assert_eq!(finish(&mut q, Ok(5)).unwrap(), b"!");
        assert!(q.busy() && q.is_empty() && q.room() == LIMIT);
        assert!(finish(&mut q, Ok(1)).is_none());
        assert!(!q.busy());
    }

    #[test]
    fn an_error_is_kept_for_the_next_caller_and_drops_what_waited() {
        let mut q = SendQueue {
            in_flight: Some(Queued::Copied(b"sent".to_vec())),
            ..SendQueue::default()
        };
        q.push_copied(b"lost");
        let err = io::Error::from_raw_os_error(libc::EPIPE);
        assert!(finish(&mut q, Err(err)).is_none());
        assert!(!q.busy() && q.is_empty());
        assert_eq!(q.error.take().unwrap().raw_os_error(), Some(libc::EPIPE));
    }
}
