//! A socket's queued sends: the poll-based writes of a stream socket on
//! io_uring (the tokio, futures and hyper bridges). A `poll_write` borrows
//! its bytes only for the call, and the kernel performs the send later, so
//! the bytes are copied into a send of their own (`op::SendQueued`). One
//! send runs in the kernel at a time, which keeps the byte order; bytes
//! written meanwhile wait here, up to [`LIMIT`], and go out in one send
//! when it completes. Kept on the socket's `Source`, beside its receives.
//!
//! A send's error is kept and returned by the next `poll_write`,
//! `poll_flush` or `poll_shutdown`, as a buffered writer reports it.
//! `poll_flush` is ready once every byte is in a send the kernel has been
//! given; `poll_shutdown` once every send has completed.

use std::io;
use std::task::Waker;

/// Bytes that may wait behind the send in flight before writers wait.
pub(crate) const LIMIT: usize = 64 * 1024;

/// One socket's queued writes; see the module doc.
#[derive(Debug, Default)]
pub(crate) struct SendQueue {
    /// A send is in the kernel.
    pub(crate) busy: bool,
    /// Bytes written while it runs, for the next send.
    pub(crate) pending: Vec<u8>,
    /// The error of a send, for the next caller.
    pub(crate) error: Option<io::Error>,
    /// Writers, flushers and shutdowns waiting for room or completion.
    pub(crate) waiters: Vec<Waker>,
}

impl SendQueue {
    /// Parks `waker` until the queue changes.
    pub(crate) fn wait(&mut self, waker: &Waker) {
        if !self.waiters.iter().any(|w| w.will_wake(waker)) {
            self.waiters.push(waker.clone());
        }
    }

    /// A send of `len` bytes finished with `res`: returns the bytes to
    /// send next (the unsent rest first, then what waited), if any, and
    /// leaves the waiters to wake in `woken`.
    pub(crate) fn sent(
        &mut self,
        res: io::Result<u32>,
        unsent: &[u8],
        woken: &mut Vec<Waker>,
    ) -> Option<Vec<u8>> {
        woken.append(&mut self.waiters);
        if let Err(e) = res {
            self.error = Some(e);
            self.pending = Vec::new();
            self.busy = false;
            return None;
        }
        if !unsent.is_empty() {
            let mut next = unsent.to_vec();
            next.append(&mut self.pending);
            return Some(next);
        }
        if self.pending.is_empty() {
            self.busy = false;
            return None;
        }
        Some(std::mem::take(&mut self.pending))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_go_out_one_at_a_time_in_order() {
        let mut q = SendQueue {
            busy: true,
            ..SendQueue::default()
        };
        q.pending.extend_from_slice(b"later");
        let mut woken = Vec::new();
        // A short send: the rest goes first, then what waited.
        let next = q.sent(Ok(3), b"de", &mut woken);
        assert_eq!(next.as_deref(), Some(&b"delater"[..]));
        assert!(q.busy && q.pending.is_empty());
        assert_eq!(q.sent(Ok(7), b"", &mut woken), None);
        assert!(!q.busy);
    }

    #[test]
    fn an_error_is_kept_for_the_next_caller_and_drops_what_waited() {
        let mut q = SendQueue {
            busy: true,
            pending: b"lost".to_vec(),
            ..SendQueue::default()
        };
        let err = io::Error::from_raw_os_error(libc::EPIPE);
        assert_eq!(q.sent(Err(err), b"", &mut Vec::new()), None);
        assert!(!q.busy && q.pending.is_empty());
        assert_eq!(q.error.take().unwrap().raw_os_error(), Some(libc::EPIPE));
    }
}
