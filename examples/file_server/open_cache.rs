//! A per-worker table of open regular files, so a hot file costs no
//! syscall at all on most requests instead of `openat2` + `statx` + `close`.
//!
//! An entry found unchanged is trusted, without looking, for the table's
//! period (`--revalidate-ms`, one second by default, like nginx's
//! `open_file_cache_valid`): the first request after that takes a `statx` of
//! its path (beneath the root), and the entry stays only while that still
//! finds the same device, inode, size and modification time as the open
//! descriptor. So a file rewritten in place or replaced by a rename is
//! reopened within about a period, never served stale after that. The
//! `statx` only compares: what is sent always comes from a descriptor opened
//! with `openat2(RESOLVE_BENEATH)`, so a symlink swapped in cannot leak
//! anything. The clock is [`clock::coarse_now`], read from the vDSO. Only
//! regular files are kept; the table is emptied when it fills.
//!
//! A descriptor keeps its file's blocks on disk after the file is deleted or
//! replaced, so [`OpenCache::sweep`], which each worker runs every
//! `SWEEP_EVERY`, drops the entries whose file has no name left (a link
//! count of 0, one `statx` of the descriptor each): their space comes back
//! within that period, whether or not the path is asked for again, and a
//! deleted file is a 404 within it too. An entry
//! also knows which precompressed siblings exist (looked for again after
//! `SIBLING_RECHECK`), so a request that accepts gzip or Brotli costs no
//! failing open when there is none, and an identity response still says
//! `Vary: Accept-Encoding` when there is one. Small
//! files also keep their bytes, read once: they were read after the metadata
//! the entry is checked against was taken, so a later write (which moves the
//! modification time) retires them with the entry.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, UNIX_EPOCH};

use runtime::fs::{File, Metadata};

use crate::clock;
use crate::encoding::Coding;
use crate::handler;

/// Open files by path relative to the root.
#[derive(Debug)]
pub(crate) struct OpenCache {
    /// The entries; each holds a descriptor open.
    map: RefCell<HashMap<String, Entry>>,
    /// How long an entry found unchanged is trusted without a `statx`.
    period: Duration,
    /// What the table did so far, for `--stats` and the tests.
    stats: Cell<Stats>,
}

/// One open file.
#[derive(Debug, Clone)]
struct Entry {
    /// The descriptor, shared with responses in flight.
    file: Rc<File>,
    /// Its metadata when opened: what `unchanged` compares with.
    meta: Metadata,
    /// When (on [`clock::coarse_now`]) the path was last found to be this
    /// file: opened, or checked by `unchanged`.
    checked: Duration,
    /// The whole content, once read, for files small enough to send inline.
    body: Option<Rc<[u8]>>,
    /// The precompressed siblings found, and when they were looked for.
    siblings: Option<(Duration, Siblings)>,
}

/// One worker's open-file table counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stats {
    /// Lookups answered from an entry within its period: no syscall.
    pub(crate) hits: u64,
    /// Lookups that took a `statx` of the path, the entry's period being over.
    pub(crate) rechecks: u64,
    /// Opens: not in the table, changed, or not a regular file.
    pub(crate) opens: u64,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} hits, {} rechecks (statx), {} opens",
            self.hits, self.rechecks, self.opens
        )
    }
}

/// Which precompressed siblings of a file exist as regular files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Siblings {
    /// `name.br`.
    br: bool,
    /// `name.gz`.
    gz: bool,
}

impl Siblings {
    /// Whether the sibling for `coding` exists.
    pub(crate) fn has(self, coding: Coding) -> bool {
        match coding {
            Coding::Brotli => self.br,
            Coding::Gzip => self.gz,
        }
    }

    /// Whether any does (then every response for the file varies by `Accept-Encoding`).
    pub(crate) fn any(self) -> bool {
        self.br || self.gz
    }
}

/// Most entries (descriptors) one worker keeps.
const CAPACITY: usize = 256;

/// How long a look for siblings is trusted: one created later is served
/// within this time.
const SIBLING_RECHECK: Duration = Duration::from_secs(2);

/// How often a worker looks for entries whose file was deleted or replaced.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_millis(500);

impl OpenCache {
    /// An empty table whose entries are trusted for `period` after each check.
    pub(crate) fn new(period: Duration) -> OpenCache {
        OpenCache {
            map: RefCell::default(),
            period,
            stats: Cell::default(),
        }
    }

    /// `rel` beneath `dir`: from the table if it was found unchanged within
    /// the period, or is found unchanged now; else opened.
    pub(crate) async fn open(&self, dir: &File, rel: &str) -> io::Result<(Rc<File>, Metadata)> {
        let now = clock::coarse_now();
        if let Some(found) = self.cached(dir, rel, now) {
            return Ok(found);
        }
        let (file, meta) = handler::open(dir, rel).await?;
        self.count(|s| s.opens += 1);
        let file = Rc::new(file);
        if meta.is_file() {
            let mut map = self.map.borrow_mut();
            if map.len() >= CAPACITY {
                map.clear();
            }
            let entry = Entry {
                file: file.clone(),
                meta,
                // With no clock the entry is checked on every request.
                checked: now.unwrap_or_default(),
                body: None,
                siblings: None,
            };
            map.insert(rel.to_string(), entry);
        }
        Ok((file, meta))
    }

    /// The entry for `rel` if it can be used at `now`: within its period, or
    /// found unchanged by a `statx` (which starts a new period). A changed
    /// file's entry is dropped.
    fn cached(&self, dir: &File, rel: &str, now: Option<Duration>) -> Option<(Rc<File>, Metadata)> {
        let mut map = self.map.borrow_mut();
        let e = map.get_mut(rel)?;
        let fresh = now.is_some_and(|now| now.saturating_sub(e.checked) < self.period);
        if fresh {
            self.count(|s| s.hits += 1);
            return Some((e.file.clone(), e.meta));
        }
        self.count(|s| s.rechecks += 1);
        if unchanged(dir, rel, &e.meta) {
            e.checked = now.unwrap_or_default();
            return Some((e.file.clone(), e.meta));
        }
        map.remove(rel);
        None
    }

    /// The counters so far.
    pub(crate) fn stats(&self) -> Stats {
        self.stats.get()
    }

    /// Updates the counters.
    fn count(&self, f: impl FnOnce(&mut Stats)) {
        let mut s = self.stats.get();
        f(&mut s);
        self.stats.set(s);
    }

    /// Drops the entries whose file has no name any more (deleted, or
    /// replaced by a rename): only their descriptor still holds its blocks.
    /// A response in flight keeps its own reference until it is sent.
    pub(crate) fn sweep(&self) {
        self.map.borrow_mut().retain(|_, e| still_linked(&e.file));
    }

    /// The precompressed siblings of `rel`, if it is in the table (which
    /// `open` just made sure of for a regular file).
    pub(crate) fn siblings(&self, dir: &File, rel: &str) -> Option<Siblings> {
        let mut map = self.map.borrow_mut();
        let e = map.get_mut(rel)?;
        let now = clock::coarse_now();
        match (e.siblings, now) {
            (Some((at, found)), Some(now)) if now.saturating_sub(at) < SIBLING_RECHECK => {
                Some(found)
            }
            _ => {
                let found = Siblings {
                    br: is_regular(dir, &format!("{rel}{}", Coding::Brotli.suffix())),
                    gz: is_regular(dir, &format!("{rel}{}", Coding::Gzip.suffix())),
                };
                e.siblings = Some((now.unwrap_or_default(), found));
                Some(found)
            }
        }
    }

    /// The bytes of `rel` kept by [`set_body`](Self::set_body), if the entry
    /// is still the file `meta` (as `open` just returned it) describes.
    pub(crate) fn body(&self, rel: &str, meta: &Metadata) -> Option<Rc<[u8]>> {
        let map = self.map.borrow();
        let e = map.get(rel)?;
        same(&e.meta, meta).then(|| e.body.clone()).flatten()
    }

    /// Keeps `bytes`, the whole content of `rel` read after `open` returned `meta`.
    pub(crate) fn set_body(&self, rel: &str, meta: &Metadata, bytes: &[u8]) {
        if let Some(e) = self.map.borrow_mut().get_mut(rel) {
            if same(&e.meta, meta) && bytes.len() as u64 == meta.len() {
                e.body = Some(bytes.into());
            }
        }
    }
}

/// Whether two metadata describe the same version of the same file.
fn same(a: &Metadata, b: &Metadata) -> bool {
    a.dev() == b.dev()
        && a.ino() == b.ino()
        && a.len() == b.len()
        && a.modified().ok() == b.modified().ok()
}

/// `statx(2)` of `rel` beneath `dir` (type, inode, size, mtime), from the
/// inode in memory; `None` if it fails. Only ever compared with what a
/// descriptor opened beneath the root says, never used to serve anything.
fn stat(dir: &File, rel: &str) -> Option<libc::statx> {
    let path = CString::new(rel).ok()?;
    // SAFETY: statx is plain integers, for which all-zero bytes are valid.
    let mut stx: libc::statx = unsafe { std::mem::zeroed() };
    let mask = libc::STATX_TYPE | libc::STATX_INO | libc::STATX_SIZE | libc::STATX_MTIME;
    // SAFETY: `path` is NUL-terminated, `stx` is a writable statx that outlives
    // the call, and `dir` keeps its descriptor open.
    let res = unsafe {
        libc::statx(
            dir.as_raw_fd(),
            path.as_ptr(),
            libc::AT_STATX_DONT_SYNC,
            mask,
            &mut stx,
        )
    };
    (res == 0).then_some(stx)
}

/// Whether the open `file` still has a name (a link count above 0); read
/// from the inode in memory, so it costs no wait. An error keeps the entry:
/// the request path checks it again before use anyway.
fn still_linked(file: &File) -> bool {
    file.cached_metadata().map_or(true, |m| m.nlink() > 0)
}

/// Whether `rel` beneath `dir` exists as a regular file.
fn is_regular(dir: &File, rel: &str) -> bool {
    stat(dir, rel).is_some_and(|stx| u32::from(stx.stx_mode) & libc::S_IFMT == libc::S_IFREG)
}

/// Whether `rel` beneath `dir` is still the file `meta` describes.
fn unchanged(dir: &File, rel: &str, meta: &Metadata) -> bool {
    let Some(stx) = stat(dir, rel) else {
        return false;
    };
    let dev = libc::makedev(stx.stx_dev_major, stx.stx_dev_minor);
    let mtime = UNIX_EPOCH
        + Duration::new(
            u64::try_from(stx.stx_mtime.tv_sec).unwrap_or(0),
            stx.stx_mtime.tv_nsec,
        );
    dev == meta.dev()
        && stx.stx_ino == meta.ino()
        && stx.stx_size == meta.len()
        && meta.modified().ok() == Some(mtime)
}
