//! `io_uring_enter(2)` through the ring's slot in this thread's
//! registered-ring table (`IORING_REGISTER_RING_FDS`), as the runtime's
//! driver does (`runtime/driver/ring_enter.rs`), so the ceiling spares the
//! kernel the per-call descriptor lookup too; the ring's descriptor where
//! the kernel refuses.

use std::io;
use std::os::fd::AsRawFd;

use io_uring::IoUring;

/// How `io_uring_enter` names the ring.
pub(crate) struct Enter {
    /// The registered slot, or the ring's descriptor.
    target: i32,
    /// `IORING_ENTER_REGISTERED_RING` (1 << 4) if `target` is a slot.
    flags: u32,
}

/// The kernel's `struct io_uring_rsrc_update`.
#[repr(C)]
struct RsrcUpdate {
    offset: u32,
    resv: u32,
    data: u64,
}

impl Enter {
    /// Registers `ring` in this thread's table if the kernel lets it; the
    /// slot lives as long as the thread (this program's whole run).
    pub(crate) fn new(ring: &IoUring) -> Enter {
        let fd = ring.as_raw_fd();
        let mut update = RsrcUpdate {
            offset: u32::MAX,
            resv: 0,
            data: fd as u64,
        };
        // SAFETY: one writable `io_uring_rsrc_update`, as the count says;
        // 20 is IORING_REGISTER_RING_FDS.
        let n = unsafe {
            libc::syscall(
                libc::SYS_io_uring_register,
                fd,
                20u32,
                &mut update as *mut RsrcUpdate,
                1u32,
            )
        };
        match n {
            1 => Enter {
                target: update.offset as i32,
                flags: 1 << 4,
            },
            _ => Enter {
                target: fd,
                flags: 0,
            },
        }
    }

    /// Submits what `ring` has queued and waits for `want` completions
    /// (`IORING_ENTER_GETEVENTS`).
    pub(crate) fn submit_and_wait(&self, ring: &mut IoUring, want: u32) -> io::Result<usize> {
        let to_submit = ring.submission().len() as u32;
        // SAFETY: no argument (null, size 0); `target` names this ring.
        let n = unsafe {
            libc::syscall(
                libc::SYS_io_uring_enter,
                self.target,
                to_submit,
                want,
                1u32 | self.flags,
                std::ptr::null::<libc::c_void>(),
                0usize,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    }
}
