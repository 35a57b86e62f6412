//! The `Ring` wrapper: io_uring setup with the best flags the kernel takes,
//! the one `push` through which every entry reaches the submission queue
//! (so that a single SAFETY note covers them all), and the wait for
//! completions.

use std::io;

use io_uring::{squeue, IoUring};

/// Submission-queue entries, the runtime's default (the completion queue has
/// twice as many).
pub(crate) const ENTRIES: u32 = 1024;

/// The ring. `push` is the one place where entries reach it.
pub(crate) struct Ring {
    /// Submission and completion queues.
    pub(crate) uring: IoUring,
}

impl Ring {
    /// Sets up the ring with the best flags the kernel takes, as the runtime
    /// does (`runtime/driver/detect.rs`). Also returns a description of the
    /// flags that were used.
    pub(crate) fn new() -> io::Result<(Ring, &'static str)> {
        type Flags = fn(&mut io_uring::Builder);
        let attempts: [(&str, Flags); 3] = [
            ("SINGLE_ISSUER | DEFER_TASKRUN", |b| {
                b.setup_single_issuer().setup_defer_taskrun();
            }),
            ("COOP_TASKRUN", |b| {
                b.setup_coop_taskrun();
            }),
            ("no extra flags", |_| {}),
        ];
        let mut last = io::Error::from_raw_os_error(libc::EINVAL);
        for (desc, apply) in attempts {
            let mut builder = IoUring::builder();
            builder.setup_clamp().setup_cqsize(2 * ENTRIES);
            apply(&mut builder);
            match builder.build(ENTRIES) {
                Ok(uring) => return Ok((Ring { uring }, desc)),
                // EINVAL: an older kernel without that flag, so try fewer.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Queues `entry`. If the submission queue is full, it is handed to the
    /// kernel first. Whatever `entry` points into must stay put until its
    /// completion is reaped (see the SAFETY note).
    pub(crate) fn push(&mut self, entry: squeue::Entry) -> io::Result<()> {
        loop {
            // Entries point only at a oneshot connection's boxed buffer (its
            // slot is emptied after the op's completion), the provided-buffer
            // mappings (unmapped after the ring: `Server`'s field order) or
            // the static ACCEPT_PAUSE.
            // SAFETY: so what an entry points at outlives its operation.
            if unsafe { self.uring.submission().push(&entry) }.is_ok() {
                return Ok(());
            }
            match self.uring.submit() {
                Err(e) if e.raw_os_error() != Some(libc::EINTR) => return Err(e),
                _ => {}
            }
        }
    }

    /// Submits what is queued and waits for at least one completion.
    pub(crate) fn submit_and_wait(&mut self) -> io::Result<()> {
        match self.uring.submit_and_wait(1) {
            // EINTR: a signal. EBUSY: reap the completions first, which the
            // caller's loop does next.
            Err(e) if !matches!(e.raw_os_error(), Some(libc::EINTR | libc::EBUSY)) => Err(e),
            _ => Ok(()),
        }
    }
}
