//! How a worker enters its ring: `io_uring_enter(2)` through the ring's
//! slot in the calling thread's registered-ring table
//! (`IORING_REGISTER_RING_FDS`, Linux 5.18) when the kernel grants one.
//!
//! Entering by slot spares the kernel the descriptor lookup of every call,
//! which in a process with more than one thread (worker threads, the
//! blocking pool, the kernel's own io-wq workers) also takes and drops a
//! reference on the ring's file: 2–6% of a page-cache read at queue depth 1
//! here (benches/results/history.md). Where the table is full or the kernel
//! is older, the ring's descriptor is used, as before.
//!
//! The table belongs to the thread that registered: a `RingEnter` is made,
//! used and dropped on its worker's thread (a worker never moves: the
//! runtime's workers are `!Send`).

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use io_uring::IoUring;

/// `IORING_ENTER_GETEVENTS`: reap (and run deferred task work) as well as submit.
const ENTER_GETEVENTS: u32 = 1 << 0;
/// `IORING_ENTER_EXT_ARG`: the argument is an `io_uring_getevents_arg`.
const ENTER_EXT_ARG: u32 = 1 << 3;
/// `IORING_ENTER_REGISTERED_RING`: the fd argument is a registered-ring slot.
const ENTER_REGISTERED_RING: u32 = 1 << 4;
/// `IORING_REGISTER_RING_FDS` / `IORING_UNREGISTER_RING_FDS`.
const REGISTER_RING_FDS: libc::c_uint = 20;
const UNREGISTER_RING_FDS: libc::c_uint = 21;

/// The kernel's `struct io_uring_rsrc_update`.
#[repr(C)]
struct RsrcUpdate {
    offset: u32,
    resv: u32,
    data: u64,
}

/// The kernel's `struct __kernel_timespec`.
#[repr(C)]
struct KernelTimespec {
    sec: i64,
    nsec: i64,
}

/// The kernel's `struct io_uring_getevents_arg`.
#[repr(C)]
struct GeteventsArg {
    sigmask: u64,
    sigmask_sz: u32,
    min_wait_usec: u32,
    ts: u64,
}

/// A ring's way in: its registered slot, or its descriptor.
#[derive(Debug)]
pub(crate) struct RingEnter {
    /// The ring's descriptor (to unregister through).
    ring_fd: RawFd,
    /// What `io_uring_enter` is given: the slot if registered, else `ring_fd`.
    target: RawFd,
    /// `ENTER_REGISTERED_RING` if `target` is a slot, else 0.
    flags: u32,
}

impl RingEnter {
    /// Registers `ring` in the calling thread's table if the kernel lets it.
    pub(crate) fn new(ring: &IoUring) -> RingEnter {
        let ring_fd = ring.as_raw_fd();
        let mut update = RsrcUpdate {
            offset: u32::MAX, // any free slot
            resv: 0,
            data: ring_fd as u64,
        };
        // SAFETY: `update` is a live, writable `io_uring_rsrc_update` for the
        // one entry asked for; the kernel writes the chosen slot into it.
        let n = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                ring_fd,
                REGISTER_RING_FDS,
                &mut update as *mut RsrcUpdate,
                1u32,
            )
        };
        match n {
            1 => RingEnter {
                ring_fd,
                target: update.offset as RawFd,
                flags: ENTER_REGISTERED_RING,
            },
            _ => RingEnter {
                ring_fd,
                target: ring_fd,
                flags: 0,
            },
        }
    }

    /// Whether calls go through a registered slot.
    pub(crate) fn is_registered(&self) -> bool {
        self.flags != 0
    }

    /// Submits `to_submit` entries and waits for `min_complete` completions
    /// (0: none), running the ring's deferred task work either way.
    #[inline]
    pub(crate) fn enter(&self, to_submit: u32, min_complete: u32) -> io::Result<usize> {
        // SAFETY: no argument is passed (null, size 0).
        unsafe { self.call(to_submit, min_complete, 0, std::ptr::null(), 0) }
    }

    /// As [`enter`](Self::enter), waiting at most `timeout` (`ETIME` then).
    pub(crate) fn enter_timeout(
        &self,
        to_submit: u32,
        min_complete: u32,
        timeout: Duration,
    ) -> io::Result<usize> {
        let ts = KernelTimespec {
            sec: timeout.as_secs().min(i64::MAX as u64) as i64,
            nsec: i64::from(timeout.subsec_nanos()),
        };
        let arg = GeteventsArg {
            sigmask: 0,
            sigmask_sz: 8, // _NSIG / 8; unused without a mask
            min_wait_usec: 0,
            ts: &ts as *const KernelTimespec as u64,
        };
        // SAFETY: `arg` and the timespec it points to live until the call
        // returns, and the size passed is `arg`'s.
        unsafe {
            self.call(
                to_submit,
                min_complete,
                ENTER_EXT_ARG,
                (&arg as *const GeteventsArg).cast(),
                std::mem::size_of::<GeteventsArg>(),
            )
        }
    }

    /// `io_uring_enter(2)` with `GETEVENTS` and `flags`.
    ///
    /// # Safety
    ///
    /// `arg` and `size` must be what `flags` tells the kernel to expect.
    #[inline]
    unsafe fn call(
        &self,
        to_submit: u32,
        min_complete: u32,
        flags: u32,
        arg: *const libc::c_void,
        size: usize,
    ) -> io::Result<usize> {
        // SAFETY: the caller vouches for `arg`; `target` is this ring's
        // slot in this thread's table (we are on the registering thread) or
        // its descriptor, which the driver keeps open.
        let n = unsafe {
            libc::syscall(
                libc::SYS_io_uring_enter,
                self.target,
                to_submit,
                min_complete,
                ENTER_GETEVENTS | self.flags | flags,
                arg,
                size,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
}

impl Drop for RingEnter {
    fn drop(&mut self) {
        if !self.is_registered() {
            return;
        }
        let update = RsrcUpdate {
            offset: self.target as u32,
            resv: 0,
            data: 0,
        };
        // SAFETY: `update` names the slot this thread registered; the ring
        // descriptor is still open (the driver drops this before its ring).
        // A failure leaves the slot taken until the thread exits: harmless.
        unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                self.ring_fd,
                UNREGISTER_RING_FDS,
                &update as *const RsrcUpdate,
                1u32,
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::RingEnter;
    use crate::driver::detect::build_ring;
    use std::time::Duration;

    /// Rings for the tests; `None` (the test is skipped) where io_uring is
    /// unavailable and not required.
    fn rings(n: usize) -> Option<Vec<io_uring::IoUring>> {
        let mut out = Vec::new();
        for _ in 0..n {
            match build_ring(8) {
                Ok((ring, _)) => out.push(ring),
                Err(e) if std::env::var("RUNTIME_REQUIRE_URING").as_deref() != Ok("1") => {
                    eprintln!("skipped: no io_uring here: {e}");
                    return None;
                }
                Err(e) => panic!("io_uring required: {e}"),
            }
        }
        Some(out)
    }

    #[test]
    fn a_dropped_registration_frees_its_slot() {
        let Some(rings) = rings(1) else { return };
        // The thread's table has 16 slots: without the unregister on drop,
        // the 17th of these would fall back.
        for _ in 0..40 {
            let enter = RingEnter::new(&rings[0]);
            assert!(enter.is_registered());
            assert_eq!(enter.enter(0, 0).unwrap(), 0);
        }
    }

    #[test]
    fn a_full_table_falls_back_to_the_descriptor_and_still_enters() {
        let Some(rings) = rings(20) else { return };
        let enters: Vec<RingEnter> = rings.iter().map(RingEnter::new).collect();
        assert!(enters[0].is_registered());
        let plain = enters.iter().find(|e| !e.is_registered());
        let plain = plain.expect("the table (16 slots) filled before 20 rings");
        // Nothing in flight: each waits out its timeout and says so.
        for e in [&enters[0], plain] {
            let err = e.enter_timeout(0, 1, Duration::from_millis(5)).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::ETIME), "{err}");
        }
    }
}
