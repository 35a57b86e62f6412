//! Zero-copy sends on io_uring (`IORING_OP_SEND_ZC`, Linux 6.0+): whether
//! this ring sends zero-copy and from what size, and the two completions of
//! each such send.
//!
//! The kernel reads a zero-copy send's buffer after the send's own
//! completion: the pages go out with the packets (and wait in TCP's
//! retransmit queue until acknowledged), so the buffer is the kernel's
//! until a second completion, the notification (`IORING_CQE_F_NOTIF`),
//! says it let go. The first completion carries `IORING_CQE_F_MORE` to say
//! the notification follows, error or not. The slot keeps the first
//! result and completes with it on the notification (`lifecycle.rs`), so
//! the op, and the buffer it owns, lives until then, even when its future
//! was dropped.

use std::io;

use io_uring::{cqueue, IoUring};

use super::lifecycle::Ops;
use super::operation::cqe_result;
use crate::metrics::{bump, Counters};

/// `IORING_NOTIF_USAGE_ZC_COPIED` (uapi `io_uring.h`): set in a
/// notification's result when the kernel copied the bytes after all (on
/// loopback, or a device without scatter-gather), if the send asked for
/// the report (`IORING_SEND_ZC_REPORT_USAGE`, Linux 6.2+).
const NOTIF_USAGE_ZC_COPIED: u32 = 1 << 31;

/// What a ring knows of zero-copy sends.
#[derive(Debug, Default)]
pub(crate) struct ZeroCopy {
    /// The kernel has `IORING_OP_SEND_ZC` (probed once, with the ring).
    supported: bool,
    /// The smallest `write_all` send that goes zero-copy (`None`: none does).
    min: Option<usize>,
}

impl ZeroCopy {
    /// Sends of at least `min` bytes go zero-copy (`None`: none does),
    /// where the kernel has it.
    pub(super) fn set(&mut self, min: Option<usize>) {
        self.min = min.filter(|_| self.supported);
    }

    /// The smallest send that goes zero-copy, if any does.
    #[inline]
    pub(super) fn min(&self) -> Option<usize> {
        self.min
    }

    /// Probes `ring`'s kernel; no send goes zero-copy until
    /// `UringDriver::set_send_zerocopy`.
    pub(super) fn probe(ring: &IoUring) -> Self {
        ZeroCopy {
            supported: super::detect::send_zc_supported(ring),
            min: None,
        }
    }
}

/// Whether a completion's `flags` belong to a two-completion op (a
/// zero-copy send's result or notification), for [`two_step`].
#[inline(always)] // on every reaped completion
pub(super) fn is_two_step(flags: u32) -> bool {
    cqueue::more(flags) || cqueue::notif(flags)
}

/// A completion of slot `key` that [`is_two_step`]: the send's result is
/// held (`None`: nothing to complete yet); the notification gives the
/// result to complete the slot with (`None` if stale: the slot held none).
pub(super) fn two_step(
    ops: &mut Ops,
    counters: &Counters,
    key: usize,
    res: i32,
    flags: u32,
) -> Option<io::Result<u32>> {
    if cqueue::more(flags) {
        ops.hold(key, res);
        return None;
    }
    let held = ops.release_held(key)?;
    if held > 0 {
        bump(&counters.sends_zerocopy);
        if res as u32 & NOTIF_USAGE_ZC_COPIED != 0 {
            bump(&counters.sends_zerocopy_copied);
        }
    }
    Some(cqe_result(held))
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::Relaxed;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::driver::lifecycle::Reaped;

    /// `IORING_CQE_F_MORE` and `IORING_CQE_F_NOTIF`.
    const MORE: u32 = 1 << 1;
    const NOTIF: u32 = 1 << 3;

    #[test]
    fn a_zero_copy_send_completes_on_its_notification_only() {
        let (mut ops, counters) = (Ops::default(), Counters::default());
        let mut cx = Context::from_waker(Waker::noop());
        let key = ops.insert_in_place(Waker::noop().clone());
        assert!(is_two_step(MORE) && is_two_step(NOTIF) && !is_two_step(0));
        assert!(two_step(&mut ops, &counters, key, 4096, MORE).is_none());
        assert!(
            ops.poll_result(key, &mut cx).is_pending(),
            "done before the notification"
        );
        let copied = NOTIF_USAGE_ZC_COPIED as i32;
        let res = two_step(&mut ops, &counters, key, copied, NOTIF).expect("the final result");
        assert!(matches!(ops.complete(key, res), Reaped::Wake(_)));
        assert!(matches!(
            ops.poll_result(key, &mut cx),
            Poll::Ready(Ok(4096))
        ));
        assert_eq!(counters.sends_zerocopy.load(Relaxed), 1);
        assert_eq!(counters.sends_zerocopy_copied.load(Relaxed), 1);
    }

    #[test]
    fn a_failed_send_keeps_its_error_and_a_stale_notification_is_ignored() {
        let (mut ops, counters) = (Ops::default(), Counters::default());
        let key = ops.insert_in_place(Waker::noop().clone());
        assert!(two_step(&mut ops, &counters, key, -libc::ECANCELED, MORE).is_none());
        let res = two_step(&mut ops, &counters, key, 0, NOTIF).expect("the final result");
        assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::ECANCELED));
        // No second notification without a held result (nor for a gone slot).
        assert!(two_step(&mut ops, &counters, key, 0, NOTIF).is_none());
        assert!(two_step(&mut ops, &counters, key + 1, 0, NOTIF).is_none());
        assert_eq!(counters.sends_zerocopy.load(Relaxed), 0);
    }
}
