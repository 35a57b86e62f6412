//! `cachestat(2)` (Linux 6.5+): is a file range in the page cache? io_uring's
//! `send_file` asks before calling `sendfile` on the worker, which must not
//! wait for a disk.
//!
//! The syscall walks every page of the range (about 9 µs for 1 MiB here, as
//! much as a tenth of serving it), so a yes is remembered per thread for
//! [`MEMO_TTL`], keyed by the file's identity and version (device, inode,
//! size, change time): a server sending one hot file thousands of times a
//! second asks once per TTL. Pages a transfer reads are marked accessed, so a
//! file in use is the last the kernel evicts; the cost of being wrong is one
//! disk read on the worker, the same window a fresh answer leaves open between
//! the check and the `sendfile`, only wider.

use std::cell::RefCell;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::sys::SharedFd;

/// How long a "resident" answer is reused.
const MEMO_TTL: Duration = Duration::from_millis(10);

/// Answers remembered per thread (a few hot files).
const MEMO_MAX: usize = 8;

/// `cachestat(2)`'s number: 451 in the unified syscall table (x86-64, arm64,
/// riscv …; libc 0.2 names it for a few targets only). MIPS numbers differ.
#[cfg(not(any(target_arch = "mips", target_arch = "mips64")))]
const SYS_CACHESTAT: Option<libc::c_long> = Some(451);
#[cfg(any(target_arch = "mips", target_arch = "mips64"))]
const SYS_CACHESTAT: Option<libc::c_long> = None;

/// `struct cachestat_range` of `<linux/mman.h>` (not in libc).
#[repr(C)]
struct CachestatRange {
    off: u64,
    len: u64,
}

/// `struct cachestat` of `<linux/mman.h>`: page counts over the range.
#[repr(C)]
#[derive(Default)]
struct Cachestat {
    nr_cache: u64,
    nr_dirty: u64,
    nr_writeback: u64,
    nr_evicted: u64,
    nr_recently_evicted: u64,
}

/// Set once `cachestat` turned out to be missing (`ENOSYS`): every range is
/// then "not known resident", without asking again.
static NO_CACHESTAT: AtomicBool = AtomicBool::new(false);

/// A range found resident, and when.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Memo {
    /// `(dev major, dev minor, inode, size, ctime s, ctime ns)`: a write,
    /// truncate or replacement of the file changes one of them.
    file: (u32, u32, u64, u64, i64, u32),
    /// The range, `start..end`.
    start: u64,
    end: u64,
    /// When cachestat said so.
    at: Instant,
}

thread_local! {
    /// Recent "resident" answers on this thread, newest last.
    static MEMO: RefCell<Vec<Memo>> = const { RefCell::new(Vec::new()) };
}

/// Whether every page of `file[offset..offset + len]` is in the page cache
/// (`len > 0`); `stx` is the file's `statx`, if known, to reuse a recent
/// answer. `false` when unknown: no cachestat (before Linux 6.5), or refused
/// for this file (recent kernels, as for `mincore`, want write access to or
/// ownership of the file, or `CAP_SYS_ADMIN`), or a range past the end of
/// the file, whose pages do not exist. Refusals other than `ENOSYS` are asked
/// again next time: they are per file.
pub(crate) fn is_resident(
    file: &SharedFd,
    stx: Option<&libc::statx>,
    offset: u64,
    len: u64,
) -> bool {
    let key = stx.map(|s| {
        let ctime = (s.stx_ctime.tv_sec, s.stx_ctime.tv_nsec);
        (
            s.stx_dev_major,
            s.stx_dev_minor,
            s.stx_ino,
            s.stx_size,
            ctime.0,
            ctime.1,
        )
    });
    let now = Instant::now();
    if let Some(key) = key {
        if recall(key, offset, offset + len, now) {
            return true;
        }
    }
    let resident = ask(file, offset, len);
    if let (true, Some(key)) = (resident, key) {
        remember(Memo {
            file: key,
            start: offset,
            end: offset + len,
            at: now,
        });
    }
    resident
}

/// Whether a fresh enough answer covers `start..end` of `file`.
fn recall(file: (u32, u32, u64, u64, i64, u32), start: u64, end: u64, now: Instant) -> bool {
    MEMO.try_with(|m| {
        m.try_borrow().is_ok_and(|m| {
            m.iter().any(|e| {
                e.file == file
                    && e.start <= start
                    && end <= e.end
                    && now.saturating_duration_since(e.at) < MEMO_TTL
            })
        })
    })
    .unwrap_or(false)
}

/// Keeps `memo`, dropping stale answers and, if full, the oldest.
fn remember(memo: Memo) {
    let _ = MEMO.try_with(|m| {
        if let Ok(mut m) = m.try_borrow_mut() {
            m.retain(|e| memo.at.saturating_duration_since(e.at) < MEMO_TTL);
            if m.len() >= MEMO_MAX {
                m.remove(0);
            }
            m.push(memo);
        }
    });
}

/// The syscall itself.
fn ask(file: &SharedFd, offset: u64, len: u64) -> bool {
    let Some(nr) = SYS_CACHESTAT else {
        return false;
    };
    if len == 0 || NO_CACHESTAT.load(Ordering::Relaxed) {
        return false;
    }
    let page = page_size();
    let first = offset / page;
    let last = (offset + len - 1) / page;
    let range = CachestatRange { off: offset, len };
    let mut stat = Cachestat::default();
    // SAFETY: both pointers are to live locals of the kernel's layout; the
    // fd is kept open by the caller's reference; flags must be 0.
    let res = unsafe {
        libc::syscall(
            nr,
            file.raw(),
            &range as *const CachestatRange,
            &mut stat as *mut Cachestat,
            0u32,
        )
    };
    if res < 0 {
        if io::Error::last_os_error().raw_os_error() == Some(libc::ENOSYS) {
            NO_CACHESTAT.store(true, Ordering::Relaxed);
        }
        return false;
    }
    // Only pages inside the range count, also those of a folio straddling an end.
    stat.nr_cache > last - first
}

/// The page size, asked for once.
fn page_size() -> u64 {
    static PAGE: OnceLock<u64> = OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf takes no pointers.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        u64::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
    })
}
