//! Descriptors passed between io_uring workers with `IORING_OP_MSG_RING`:
//! the sending ring posts a completion carrying the descriptor number into
//! the receiving ring, which wakes that worker if it waits in the kernel
//! (no eventfd write, no inbox). Used by `http::serve` to hand accepted
//! connections to the least-loaded worker.
//!
//! # `user_data` layout
//!
//! Bits 63 and 62 set (readiness polls have bit 62 clear), bits 48..61
//! clear except bit 61, which marks the sender's own completion; bits
//! 40..47 the worker the connection is counted on, bits 32..39 the
//! receiver's key; the sender's completion also carries the descriptor in
//! bits 0..31 (the receiver's gets it as the result). The reserved
//! `user_data` constants of `uring.rs` have bits 48..60 set, so none is
//! mistaken for these.
//!
//! # Nothing lost
//!
//! A descriptor belongs to the hand-off from the send until a receiver takes
//! it: if the kernel refuses the message (an old kernel, a ring gone), the
//! sender's completion gives it back to the sender's own arrivals, to be
//! served there; what nobody took by shutdown is closed.

use std::os::fd::RawFd;
use std::task::{Context, Poll, Waker};

/// Tag bits of a hand-off `user_data`.
pub(crate) const TAG: u64 = 0b11 << 62;
/// Mask that tells a hand-off `user_data` apart (tag, clear bits 48..60).
pub(crate) const MASK: u64 = (0b11 << 62) | (0x1fff << 48);
/// Marks the sender's own completion.
pub(crate) const RETURN: u64 = 1 << 61;

/// One descriptor that arrived for a receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Arrival {
    /// The descriptor, owned by whoever takes the arrival.
    pub(crate) fd: RawFd,
    /// The worker the connection is counted on (the intended receiver).
    pub(crate) counted_on: u8,
}

/// The receiver's `user_data` for a descriptor for `key`, counted on `worker`.
pub(crate) fn message(key: u8, worker: u8) -> u64 {
    TAG | (u64::from(worker) << 40) | (u64::from(key) << 32)
}

/// The sender's own `user_data`: the message's, marked, with the descriptor.
pub(crate) fn receipt(key: u8, worker: u8, fd: RawFd) -> u64 {
    message(key, worker) | RETURN | u64::from(fd as u32)
}

/// Arrived descriptors by receiver key, and the receivers waiting.
#[derive(Debug, Default)]
pub(crate) struct Arrivals {
    /// (key, arrival), in arrival order.
    fds: Vec<(u8, Arrival)>,
    /// Receivers waiting for their key.
    waiting: Vec<(u8, Waker)>,
}

impl Arrivals {
    /// A completion with hand-off `user_data` `data` and result `res`
    /// (the descriptor, for a message; the send's outcome, for a receipt).
    /// Returns the waker of the receiver to wake, if one waits.
    pub(crate) fn complete(&mut self, data: u64, res: i32) -> Option<Waker> {
        let key = (data >> 32) as u8;
        let counted_on = (data >> 40) as u8;
        let fd = if data & RETURN != 0 {
            if res >= 0 {
                return None; // delivered
            }
            // Refused: the descriptor comes back to this worker.
            data as u32 as RawFd
        } else {
            res
        };
        if fd < 0 {
            return None;
        }
        self.fds.push((key, Arrival { fd, counted_on }));
        let i = self.waiting.iter().position(|(k, _)| *k == key)?;
        Some(self.waiting.swap_remove(i).1)
    }

    /// A receiver's look for `key`: the next arrival, or its waker is kept.
    pub(crate) fn poll(&mut self, key: u8, cx: &mut Context<'_>) -> Poll<Arrival> {
        if let Some(i) = self.fds.iter().position(|(k, _)| *k == key) {
            return Poll::Ready(self.fds.remove(i).1);
        }
        match self.waiting.iter_mut().find(|(k, _)| *k == key) {
            Some((_, w)) if w.will_wake(cx.waker()) => {}
            Some((_, w)) => *w = cx.waker().clone(),
            None => self.waiting.push((key, cx.waker().clone())),
        }
        Poll::Pending
    }

    /// Shutdown: closes what nobody took.
    pub(crate) fn close_all(&mut self) {
        for (_, a) in self.fds.drain(..) {
            // SAFETY: the arrival owned the descriptor and nobody took it.
            unsafe { libc::close(a.fd) };
        }
        self.waiting.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::{AsRawFd, IntoRawFd};
    use std::sync::Arc;
    use std::time::Duration;

    use crate::driver::detect::build_ring;
    use crate::driver::uring::UringDriver;
    use crate::driver::Unpark;

    /// An io_uring driver of its own, or `None` (with a note) where io_uring
    /// is unavailable and not required.
    fn driver() -> Option<UringDriver> {
        match build_ring(8) {
            Ok((ring, _)) => {
                let unpark = Arc::new(Unpark::new().unwrap());
                Some(UringDriver::new(
                    ring,
                    unpark,
                    Arc::default(),
                    crate::driver::RecvConfig::default(),
                ))
            }
            Err(e) if std::env::var_os("RUNTIME_REQUIRE_URING").is_none() => {
                eprintln!("skipped: io_uring unavailable: {e}");
                None
            }
            Err(e) => panic!("io_uring required: {e}"),
        }
    }

    /// Parks `d` until `key` has an arrival (bounded: a hang fails).
    fn arrival(d: &mut UringDriver, key: u8) -> Arrival {
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..100 {
            d.park(Some(Duration::from_millis(50)));
            if let Poll::Ready(a) = d.poll_arrival(key, &mut cx) {
                return a;
            }
        }
        panic!("nothing arrived for key {key}");
    }

    #[test]
    fn a_descriptor_goes_from_ring_to_ring_and_comes_back_if_refused() {
        let (Some(mut a), Some(mut b)) = (driver(), driver()) else {
            return;
        };
        let Some(target) = b.unpark.ring_fd() else {
            eprintln!("skipped: this kernel lacks IORING_OP_MSG_RING");
            return;
        };
        let (x, y) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = x.into_raw_fd();
        a.send_fd(target, 7, 1, fd);
        a.park(Some(Duration::ZERO)); // submits the message
        let got = arrival(&mut b, 7);
        assert_eq!(got, Arrival { fd, counted_on: 1 });
        // The descriptor works on the receiving side.
        // SAFETY: the arrival owns the descriptor; it moves into the stream.
        let x = unsafe {
            <std::os::unix::net::UnixStream as std::os::fd::FromRawFd>::from_raw_fd(got.fd)
        };
        std::io::Write::write_all(&mut &x, b"hi").unwrap();
        let mut buf = [0u8; 2];
        std::io::Read::read_exact(&mut &y, &mut buf).unwrap();
        assert_eq!(&buf, b"hi");

        // A "ring" that is not one refuses the message: the descriptor comes
        // back to the sender, still counted on the intended worker.
        let fd = x.into_raw_fd();
        a.send_fd(y.as_raw_fd(), 9, 1, fd);
        assert_eq!(arrival(&mut a, 9), Arrival { fd, counted_on: 1 });
        // What nobody takes is closed at shutdown.
        a.send_fd(target, 7, 0, fd);
        a.park(Some(Duration::ZERO));
        b.park(Some(Duration::from_millis(50)));
        b.shutdown();
        a.shutdown();
        // Its last copy closed, the peer reads end of stream.
        y.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        assert_eq!(
            std::io::Read::read(&mut &y, &mut buf).unwrap(),
            0,
            "left open"
        );
    }

    #[test]
    fn messages_receipts_and_refusals() {
        let mut a = Arrivals::default();
        let mut cx = Context::from_waker(Waker::noop());
        assert!(a.poll(3, &mut cx).is_pending());
        assert!(
            a.complete(message(3, 1), 17).is_some(),
            "the receiver is woken"
        );
        assert!(a.complete(receipt(3, 1, 17), 0).is_none(), "delivered");
        assert_eq!(
            a.poll(3, &mut cx),
            Poll::Ready(Arrival {
                fd: 17,
                counted_on: 1
            })
        );
        // Refused by the kernel: back to the sender, still counted on worker 1.
        assert!(a.complete(receipt(4, 1, 23), -libc::EINVAL).is_none());
        assert!(a.poll(3, &mut cx).is_pending(), "another receiver's");
        assert_eq!(
            a.poll(4, &mut cx),
            Poll::Ready(Arrival {
                fd: 23,
                counted_on: 1
            })
        );
        for data in [message(255, 255), receipt(255, 255, i32::MAX)] {
            assert_eq!(data & MASK, TAG);
            for reserved in [u64::MAX, u64::MAX - 1, u64::MAX - 2] {
                assert_ne!(data, reserved);
                assert_ne!(reserved & MASK, TAG);
            }
        }
    }
}
