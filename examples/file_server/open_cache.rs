//! A per-worker table of open regular files, so a hot file costs one
//! `statx(2)` per request instead of `openat2` + `statx` + `close`.
//!
//! An entry is used only while a `statx` of its path (beneath the root) still
//! finds the same device, inode, size and modification time as the open
//! descriptor: a file rewritten in place or replaced by a rename is reopened
//! on its next request, never served stale. The `statx` only compares: what
//! is sent always comes from a descriptor opened with
//! `openat2(RESOLVE_BENEATH)`, so a symlink swapped in cannot leak anything.
//! Only regular files are kept; the table is emptied when it fills.
//!
//! A descriptor keeps its file's blocks on disk after the file is deleted or
//! replaced, so [`OpenCache::sweep`], which each worker runs every
//! `SWEEP_EVERY`, drops the entries whose file has no name left (a link
//! count of 0, one `statx` of the descriptor each): their space comes back
//! within that period, whether or not the path is asked for again. An entry
//! also knows which precompressed siblings exist (looked for again after
//! `SIBLING_RECHECK`), so a request that accepts gzip or Brotli costs no
//! failing open when there is none, and an identity response still says
//! `Vary: Accept-Encoding` when there is one. Small
//! files also keep their bytes, read once: they were read after the metadata
//! the entry is checked against was taken, so a later write (which moves the
//! modification time) retires them with the entry.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::CString;
use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant, UNIX_EPOCH};

use runtime::fs::{File, Metadata};

use crate::encoding::Coding;
use crate::handler;

/// Open files by path relative to the root.
#[derive(Debug, Default)]
pub(crate) struct OpenCache {
    /// The entries; each holds a descriptor open.
    map: RefCell<HashMap<String, Entry>>,
}

/// One open file.
#[derive(Debug, Clone)]
struct Entry {
    /// The descriptor, shared with responses in flight.
    file: Rc<File>,
    /// Its metadata when opened: what `unchanged` compares with.
    meta: Metadata,
    /// The whole content, once read, for files small enough to send inline.
    body: Option<Rc<[u8]>>,
    /// The precompressed siblings found, and when they were looked for.
    siblings: Option<(Instant, Siblings)>,
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
    /// `rel` beneath `dir`, from the table if the file is unchanged, else opened.
    pub(crate) async fn open(&self, dir: &File, rel: &str) -> io::Result<(Rc<File>, Metadata)> {
        let cached = self.map.borrow().get(rel).map(|e| (e.file.clone(), e.meta));
        if let Some((file, meta)) = cached {
            if unchanged(dir, rel, &meta) {
                return Ok((file, meta));
            }
            self.map.borrow_mut().remove(rel);
        }
        let (file, meta) = handler::open(dir, rel).await?;
        let file = Rc::new(file);
        if meta.is_file() {
            let mut map = self.map.borrow_mut();
            if map.len() >= CAPACITY {
                map.clear();
            }
            let entry = Entry {
                file: file.clone(),
                meta,
                body: None,
                siblings: None,
            };
            map.insert(rel.to_string(), entry);
        }
        Ok((file, meta))
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
        let now = Instant::now();
        match e.siblings {
            Some((at, found)) if now.duration_since(at) < SIBLING_RECHECK => Some(found),
            _ => {
                let found = Siblings {
                    br: is_regular(dir, &format!("{rel}{}", Coding::Brotli.suffix())),
                    gz: is_regular(dir, &format!("{rel}{}", Coding::Gzip.suffix())),
                };
                e.siblings = Some((now, found));
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
