//! Driver choice: explicit > `RUNTIME_DRIVER` > automatic, and why.
//!
//! The automatic choice builds the ring the worker will really use (same
//! size, same flags) and probes the opcodes the runtime needs. Any failure
//! (ENOSYS on an old kernel, EPERM from seccomp or `kernel.io_uring_disabled`,
//! ENOMEM from the locked-memory limit, a missing opcode or feature) selects
//! epoll and records the reason; it never crashes.

use std::io;

use io_uring::{opcode, IoUring, Probe};

use crate::DriverKind;

/// Every io_uring opcode the runtime submits; one missing means epoll.
///
/// Each entry names the opcode an op or the driver builds (`opcode::X` in
/// `op/` and `driver/`); the multishot and "2" variants share their base's
/// code (`AcceptMulti` is ACCEPT, `RecvMulti` RECV, `RecvMsgMulti` RECVMSG,
/// `AsyncCancel2` ASYNC_CANCEL). NOP is the round trip below. MSG_RING is
/// not here: it is optional, probed on its own by [`msg_ring_supported`].
const USED_OPCODES: &[(u8, &str)] = &[
    (opcode::Nop::CODE, "NOP"),
    (opcode::Read::CODE, "READ"),
    (opcode::Write::CODE, "WRITE"),
    (opcode::ReadFixed::CODE, "READ_FIXED"),
    (opcode::WriteFixed::CODE, "WRITE_FIXED"),
    (opcode::Readv::CODE, "READV"),
    (opcode::Writev::CODE, "WRITEV"),
    (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
    (opcode::LinkTimeout::CODE, "LINK_TIMEOUT"),
    (opcode::Accept::CODE, "ACCEPT"),
    (opcode::Connect::CODE, "CONNECT"),
    (opcode::Send::CODE, "SEND"),
    (opcode::Recv::CODE, "RECV"),
    (opcode::SendMsg::CODE, "SENDMSG"),
    (opcode::RecvMsg::CODE, "RECVMSG"),
    (opcode::Shutdown::CODE, "SHUTDOWN"),
    (opcode::PollAdd::CODE, "POLL_ADD"),
    (opcode::OpenAt::CODE, "OPENAT"),
    (opcode::OpenAt2::CODE, "OPENAT2"),
    (opcode::Close::CODE, "CLOSE"),
    (opcode::Fsync::CODE, "FSYNC"),
    (opcode::Statx::CODE, "STATX"),
    (opcode::Fallocate::CODE, "FALLOCATE"),
    (opcode::UnlinkAt::CODE, "UNLINKAT"),
    (opcode::RenameAt::CODE, "RENAMEAT"),
    (opcode::MkDirAt::CODE, "MKDIRAT"),
    (opcode::SymlinkAt::CODE, "SYMLINKAT"),
    (opcode::LinkAt::CODE, "LINKAT"),
    (opcode::Splice::CODE, "SPLICE"),
];

/// The outcome of driver selection for one worker.
pub(crate) struct Choice {
    /// The ring to use, or `None` for epoll.
    pub(crate) ring: Option<IoUring>,
    /// The driver chosen.
    pub(crate) kind: DriverKind,
    /// Why (and why not the other), for `driver_info()`.
    pub(crate) reason: String,
}

impl std::fmt::Debug for Choice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Choice")
            .field("kind", &self.kind)
            .field("reason", &self.reason)
            .finish()
    }
}

/// Chooses a driver for a worker about to start on this thread.
///
/// `requested` is the Builder's choice; `Auto` defers to `RUNTIME_DRIVER`.
pub(crate) fn choose(requested: DriverKind, entries: u32) -> io::Result<Choice> {
    let (kind, source) = match requested {
        DriverKind::Auto => match std::env::var("RUNTIME_DRIVER") {
            Ok(v) => (parse_env(&v)?, "RUNTIME_DRIVER"),
            Err(_) => (DriverKind::Auto, "automatic"),
        },
        k => (k, "Builder::driver"),
    };
    match kind {
        DriverKind::Epoll => Ok(Choice {
            ring: None,
            kind: DriverKind::Epoll,
            reason: format!("epoll requested ({source}); io_uring not tried"),
        }),
        DriverKind::Uring => match build_ring(entries) {
            Ok((ring, flags)) => Ok(Choice {
                ring: Some(ring),
                kind: DriverKind::Uring,
                reason: format!("io_uring requested ({source}); ring set up with {flags}"),
            }),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("io_uring driver requested ({source}) but unavailable: {e}"),
            )),
        },
        DriverKind::Auto => match build_ring(entries) {
            Ok((ring, flags)) => Ok(Choice {
                ring: Some(ring),
                kind: DriverKind::Uring,
                reason: format!("io_uring available (ring set up with {flags}); epoll not needed"),
            }),
            Err(e) => Ok(Choice {
                ring: None,
                kind: DriverKind::Epoll,
                reason: format!("epoll chosen because io_uring is unavailable: {e}"),
            }),
        },
    }
}

/// Parses `RUNTIME_DRIVER`.
fn parse_env(v: &str) -> io::Result<DriverKind> {
    match v.trim().to_ascii_lowercase().as_str() {
        "uring" | "io_uring" | "io-uring" => Ok(DriverKind::Uring),
        "epoll" => Ok(DriverKind::Epoll),
        "auto" | "" => Ok(DriverKind::Auto),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("RUNTIME_DRIVER={other:?}: expected uring, epoll or auto"),
        )),
    }
}

/// Applies one set of setup flags to a ring builder.
type SetupFlags = fn(&mut io_uring::Builder);

/// Builds and probes a ring of `entries` entries with the best flags the
/// kernel accepts; returns it with a description of those flags.
pub(crate) fn build_ring(entries: u32) -> io::Result<(IoUring, &'static str)> {
    let cq = entries.saturating_mul(2);
    let attempts: [(&str, SetupFlags); 3] = [
        ("SINGLE_ISSUER | DEFER_TASKRUN", |b| {
            b.setup_single_issuer().setup_defer_taskrun();
        }),
        ("COOP_TASKRUN", |b| {
            b.setup_coop_taskrun();
        }),
        ("no extra flags", |_| {}),
    ];
    let mut last = None;
    for (desc, apply) in attempts {
        let mut builder = IoUring::builder();
        builder.setup_clamp().setup_cqsize(cq);
        apply(&mut builder);
        match builder.build(entries) {
            Ok(mut ring) => {
                check(&ring)?;
                round_trip(&mut ring)?;
                return Ok((ring, desc));
            }
            // EINVAL: an older kernel that lacks a flag; try fewer flags.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => last = Some(e),
            Err(e) => return Err(explain(e)),
        }
    }
    Err(explain(last.unwrap_or_else(|| {
        io::Error::from_raw_os_error(libc::EINVAL)
    })))
}

/// Checks the features and opcodes the runtime relies on.
fn check(ring: &IoUring) -> io::Result<()> {
    let params = ring.params();
    if !params.is_feature_nodrop() {
        return Err(unsupported(
            "the kernel lacks IORING_FEAT_NODROP (Linux 5.5+)",
        ));
    }
    if !params.is_feature_ext_arg() {
        return Err(unsupported(
            "the kernel lacks IORING_FEAT_EXT_ARG (Linux 5.11+)",
        ));
    }
    let mut probe = Probe::new();
    ring.submitter()
        .register_probe(&mut probe)
        .map_err(|e| unsupported(&format!("IORING_REGISTER_PROBE failed: {e}")))?;
    for (code, name) in USED_OPCODES {
        if !probe.is_supported(*code) {
            return Err(unsupported(&format!("the kernel lacks IORING_OP_{name}")));
        }
    }
    check_buf_rings(ring)
}

/// Multishot receives and accepts (Linux 5.19) came with provided-buffer
/// rings: registering a one-entry ring tells whether the kernel has them,
/// where no probe bit would.
fn check_buf_rings(ring: &IoUring) -> io::Result<()> {
    let page = 4096;
    // SAFETY: an anonymous mapping at an address the kernel picks touches
    // no existing memory.
    let mem = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if mem == libc::MAP_FAILED {
        return Err(io::Error::last_os_error());
    }
    /// A group id no worker uses (they use 0).
    const PROBE_GROUP: u16 = 0xfffe;
    // SAFETY: `mem` maps a page-aligned page, room for the one entry, and
    // is unmapped only after the ring is unregistered below.
    let res = unsafe {
        ring.submitter()
            .register_buf_ring_with_flags(mem as u64, 1, PROBE_GROUP, 0)
    };
    let res = res.and_then(|()| ring.submitter().unregister_buf_ring(PROBE_GROUP));
    // SAFETY: the mapping made above, no longer registered with the kernel.
    unsafe { libc::munmap(mem, page) };
    res.map_err(|e| {
        unsupported(&format!(
            "the kernel lacks provided-buffer rings (Linux 5.19+), which multishot receives and accepts need: {e}"
        ))
    })
}

/// Whether accepts take `IORING_ACCEPT_DONTWAIT` (Linux 6.10+), read from
/// the kernel's release once.
pub(crate) fn accept_dontwait_supported() -> bool {
    static SUPPORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SUPPORTED.get_or_init(|| kernel_release() >= (6, 10))
}

/// Whether the kernel takes `IORING_OP_MSG_RING` (Linux 5.18+): optional,
/// used to pass descriptors between workers (`hand_off.rs`).
pub(crate) fn msg_ring_supported(ring: &IoUring) -> bool {
    let mut probe = Probe::new();
    ring.submitter().register_probe(&mut probe).is_ok()
        && probe.is_supported(opcode::MsgRingData::CODE)
}

/// Whether the kernel takes `IORING_OP_SEND_ZC` (Linux 6.0+): optional,
/// used for large sends (`uring_zc.rs`); without it they copy.
pub(crate) fn send_zc_supported(ring: &IoUring) -> bool {
    let mut probe = Probe::new();
    ring.submitter().register_probe(&mut probe).is_ok() && probe.is_supported(opcode::SendZc::CODE)
}

/// Whether zero-copy sends take `IORING_SEND_ZC_REPORT_USAGE` (Linux 6.2+),
/// read from the kernel's release once.
pub(crate) fn send_zc_report_usage_supported() -> bool {
    static SUPPORTED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *SUPPORTED.get_or_init(|| kernel_release() >= (6, 2))
}

/// The running kernel's (major, minor) release; (0, 0) if unreadable.
fn kernel_release() -> (u32, u32) {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// A real submit-and-wait of a NOP: a seccomp profile may let
/// `io_uring_setup` through and still refuse `io_uring_enter`, and a ring that
/// cannot enter would leave the worker nothing to do but spin.
fn round_trip(ring: &mut IoUring) -> io::Result<()> {
    let nop = opcode::Nop::new().build().user_data(0);
    // SAFETY: a NOP entry carries no pointers.
    unsafe { ring.submission().push(&nop) }
        .map_err(|_| unsupported("a new ring's submission queue is full"))?;
    ring.submit_and_wait(1)
        .map_err(|e| unsupported(&format!("io_uring_enter failed: {e}")))?;
    match ring.completion().next() {
        Some(cqe) if cqe.result() >= 0 => Ok(()),
        Some(cqe) => Err(unsupported(&format!(
            "a NOP completed with {}",
            io::Error::from_raw_os_error(-cqe.result())
        ))),
        None => Err(unsupported(
            "a NOP submitted and waited for did not complete",
        )),
    }
}

fn unsupported(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::Unsupported, msg.to_string())
}

/// Adds the likely cause to an `io_uring_setup` error.
fn explain(e: io::Error) -> io::Error {
    let why = match e.raw_os_error() {
        Some(libc::ENOSYS) => "io_uring_setup: ENOSYS (kernel built without io_uring, or too old)".to_string(),
        Some(libc::EPERM) => {
            let sysctl = std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
                .map(|s| s.trim().to_string())
                .unwrap_or_default();
            match sysctl.as_str() {
                "2" => "io_uring_setup: EPERM (kernel.io_uring_disabled = 2)".to_string(),
                "1" => "io_uring_setup: EPERM (kernel.io_uring_disabled = 1 and not in io_uring_group)".to_string(),
                _ => "io_uring_setup: EPERM (blocked by a seccomp filter or container policy)".to_string(),
            }
        }
        Some(libc::ENOMEM) => "io_uring_setup: ENOMEM (locked-memory limit too low for the ring; lower `entries` or raise RLIMIT_MEMLOCK)".to_string(),
        _ => format!("io_uring_setup: {e}"),
    };
    let kind = match e.raw_os_error() {
        Some(libc::ENOSYS) => io::ErrorKind::Unsupported,
        Some(libc::EPERM) => io::ErrorKind::PermissionDenied,
        _ => e.kind(),
    };
    io::Error::new(kind, why)
}

#[cfg(test)]
#[path = "detect_tests.rs"]
mod tests;
