//! Files and paths: [`File`], [`OpenOptions`], [`Metadata`], and path
//! functions (`read`, `write`, `metadata`, `rename` …), on the op lifecycle.
//!
//! On io_uring the kernel itself opens, reads, writes, syncs, stats,
//! allocates, links, renames and removes: a slow disk never blocks a worker.
//! On epoll, where a regular file is always "ready", opens of cached paths
//! (`openat2` with `RESOLVE_CACHED`) and reads of page-cache data
//! (`RWF_NOWAIT`) run on the worker, and everything that could wait for the
//! disk runs on the blocking pool. A few calls have no io_uring opcode and
//! use the blocking pool on both drivers: [`read_dir`], [`copy`],
//! [`canonicalize`], [`read_link`] and [`File::set_len`].
//!
//! # Errors
//!
//! Every failure is an `io::Error` whose [`kind`](io::Error::kind) is the
//! kernel's. Path functions put the operation and path in the message, as in
//! `open /srv/x: No such file or directory (os error 2)`; since `io::Error`
//! keeps a message only by wrapping, the errno is then the wrapped error's,
//! which [`raw_os_error`] returns (`std::error::Error::source` gives the OS
//! error itself). A path containing a NUL byte is an `InvalidInput` error.
//!
//! ```
//! use runtime::fs;
//!
//! # runtime::block_on(async {
//! # let dir = std::env::temp_dir().join(format!("rt-doc-fs-{}", std::process::id()));
//! fs::create_dir_all(dir.join("sub")).await?;
//! fs::write(dir.join("sub/hello.txt"), "hello").await?;
//! assert_eq!(fs::read_to_string(dir.join("sub/hello.txt")).await?, "hello");
//!
//! let err = fs::read(dir.join("missing")).await.unwrap_err();
//! assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
//! assert!(err.to_string().contains("missing"));
//! # fs::remove_file(dir.join("sub/hello.txt")).await?;
//! # fs::remove_dir(dir.join("sub")).await?;
//! # fs::remove_dir(&dir).await?;
//! # Ok::<(), std::io::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Cancel safety
//!
//! The path functions (`read`, `write`, `metadata`, `rename`, `remove_file`,
//! `create_dir` …) and `OpenOptions::open` hand one operation to the kernel
//! or the blocking pool. Dropped before it completes, that operation may
//! still happen: a dropped `rename` or `remove_file` may have renamed or
//! removed, a dropped `write` may have written part of the file, and a file a
//! dropped open returned is closed, never leaked. Reads change nothing, so a
//! dropped read is simply lost and can be issued again.
#![forbid(unsafe_code)]

mod error;
mod file;
mod metadata;
mod open_options;
mod positional;
mod read_dir;
mod read_many;
mod running;

pub use error::raw_os_error;
pub use file::File;
pub use metadata::{FileType, Metadata};
pub use open_options::OpenOptions;
pub use read_dir::{DirEntry, ReadDir};
pub use read_many::ReadMany;

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::buf::IoBuf;
use crate::op::Op;
use error::{with_path, with_paths};

/// Reads a whole file into a `Vec`.
///
/// Sized from the file's metadata, then read until end of file, so files
/// whose size is unknown up front (`/proc`) work too.
///
/// # Errors
///
/// The kernel's error, with the path in the message.
///
/// ```
/// # runtime::block_on(async {
/// let data = runtime::fs::read("/proc/self/stat").await?;
/// assert!(!data.is_empty());
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let path = path.as_ref();
    let file = File::open(path).await?;
    let res = read_all(&file).await;
    let closed = file.close().await;
    let data = res.map_err(|e| with_path("read", path, e))?;
    closed.map_err(|e| with_path("close", path, e))?;
    Ok(data)
}

/// Reads `file` from offset 0 to its end.
async fn read_all(file: &File) -> io::Result<Vec<u8>> {
    let size = file.metadata().await?.len();
    let mut buf = Vec::new();
    // A size that does not fit in memory is an error, not an abort.
    buf.try_reserve_exact(usize::try_from(size).unwrap_or(usize::MAX))
        .map_err(|_| io::Error::new(io::ErrorKind::OutOfMemory, "file too large for memory"))?;
    loop {
        if buf.len() == buf.capacity() {
            // Full at the expected size: a small read tells the end of the
            // file apart from a file that grew (or reports no size).
            let (res, probe) = file.read_at(Vec::with_capacity(64), buf.len() as u64).await;
            match res {
                Ok(0) => return Ok(buf),
                Ok(_) => buf.extend_from_slice(&probe),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            buf.reserve(buf.len().max(8192));
        }
        let len = buf.len();
        let (res, slice) = file.read_at(buf.slice(len..), len as u64).await;
        buf = slice.into_inner();
        match res {
            Ok(0) => return Ok(buf),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Reads a whole file into a `String`.
///
/// # Errors
///
/// As [`read`]; `InvalidData` if the file is not UTF-8.
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let path = path.as_ref();
    let data = read(path).await?;
    String::from_utf8(data).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("read_to_string {}: not UTF-8: {e}", path.display()),
        )
    })
}

/// Writes `contents` to a file, creating it or replacing its contents.
///
/// `contents` is an owned buffer (`Vec<u8>`, `String`, `&'static str` …),
/// handed to the kernel without a copy.
///
/// # Errors
///
/// The kernel's error, with the path in the message.
pub async fn write(path: impl AsRef<Path>, contents: impl IoBuf) -> io::Result<()> {
    let path = path.as_ref();
    let file = File::create(path).await?;
    let (res, _) = file.write_all_at(contents, 0).await;
    let closed = file.close().await;
    res.map_err(|e| with_path("write", path, e))?;
    closed.map_err(|e| with_path("close", path, e))
}

/// The metadata of `path`, following symlinks.
///
/// # Errors
///
/// The kernel's error, with the path in the message.
///
/// # Drivers
///
/// io_uring: `IORING_OP_STATX`. epoll: `statx(2)` on the blocking pool.
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref();
    Op::statx_path(crate::sys::cstring(path)?, true)
        .await
        .map(Metadata::new)
        .map_err(|e| with_path("metadata", path, e))
}

/// The metadata of `path` itself: a symlink is described, not followed.
///
/// # Errors
///
/// The kernel's error, with the path in the message.
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<Metadata> {
    let path = path.as_ref();
    Op::statx_path(crate::sys::cstring(path)?, false)
        .await
        .map(Metadata::new)
        .map_err(|e| with_path("symlink_metadata", path, e))
}

/// Whether `path` exists (following symlinks): `Ok(false)` only when it
/// does not, an error when that cannot be known (permission denied …).
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    match metadata(path).await {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes a file or symlink (`unlinkat(2)`).
///
/// # Errors
///
/// The kernel's error, with the path in the message (`EISDIR` for a directory).
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    Op::remove_file(crate::sys::cstring(path)?)
        .await
        .map_err(|e| with_path("remove_file", path, e))
}

/// Removes an empty directory.
///
/// # Errors
///
/// The kernel's error, with the path in the message (`ENOTEMPTY` if it has entries).
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    Op::remove_dir(crate::sys::cstring(path)?)
        .await
        .map_err(|e| with_path("remove_dir", path, e))
}

/// Renames `from` to `to`, replacing `to` if it exists (atomically, within
/// one filesystem).
///
/// # Errors
///
/// The kernel's error, with both paths in the message (`EXDEV` across filesystems).
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref(), to.as_ref());
    Op::rename(crate::sys::cstring(from)?, crate::sys::cstring(to)?)
        .await
        .map_err(|e| with_paths("rename", from, to, e))
}

/// Creates a directory (mode `0o777` minus the umask).
///
/// # Errors
///
/// The kernel's error, with the path in the message: `AlreadyExists` if
/// anything exists there, `NotFound` if the parent is missing.
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    Op::create_dir(crate::sys::cstring(path)?, 0o777)
        .await
        .map_err(|e| with_path("create_dir", path, e))
}

/// Creates a directory and any missing parents; an existing directory is fine.
///
/// # Errors
///
/// The kernel's error, with the path that failed in the message;
/// `AlreadyExists` if something other than a directory is in the way.
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    if path.as_os_str().is_empty() {
        return Ok(());
    }
    // Walk up until a mkdir works (or finds a directory), then back down.
    let mut missing: Vec<&Path> = Vec::new();
    let mut cur = path;
    loop {
        match mkdir_or_dir(cur).await {
            Ok(()) => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => match cur.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => {
                    missing.push(cur);
                    cur = parent;
                }
                _ => return Err(with_path("create_dir_all", cur, e)),
            },
            Err(e) => return Err(with_path("create_dir_all", cur, e)),
        }
    }
    while let Some(dir) = missing.pop() {
        mkdir_or_dir(dir)
            .await
            .map_err(|e| with_path("create_dir_all", dir, e))?;
    }
    Ok(())
}

/// Creates `dir`, or succeeds if a directory is there already (another task
/// may have won the race).
async fn mkdir_or_dir(dir: &Path) -> io::Result<()> {
    match Op::create_dir(crate::sys::cstring(dir)?, 0o777).await {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            match Op::statx_path(crate::sys::cstring(dir)?, true).await {
                Ok(stx) if Metadata::new(stx).is_dir() => Ok(()),
                _ => Err(e),
            }
        }
        res => res,
    }
}

/// Creates `link`, a new name for the file at `original` (`linkat(2)`; a
/// symlink at `original` is linked itself, not followed).
///
/// # Errors
///
/// The kernel's error, with both paths in the message.
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    Op::hard_link(crate::sys::cstring(original)?, crate::sys::cstring(link)?)
        .await
        .map_err(|e| with_paths("hard_link", original, link, e))
}

/// Creates `link`, a symbolic link pointing to `original`. `original` is
/// stored as given: a relative target is relative to the link's directory.
///
/// # Errors
///
/// The kernel's error, with both paths in the message.
pub async fn symlink(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    Op::symlink(crate::sys::cstring(original)?, crate::sys::cstring(link)?)
        .await
        .map_err(|e| with_paths("symlink", original, link, e))
}

/// Copies the contents and permission bits of `from` to `to` (created or
/// truncated), returning the bytes copied.
///
/// # Drivers
///
/// `std::fs::copy` on the blocking pool on both drivers: it copies inside
/// the kernel (`copy_file_range`, reflinks where the filesystem has them),
/// which beats any read/write loop through user memory.
///
/// # Errors
///
/// The kernel's error, with both paths in the message.
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (from.as_ref().to_path_buf(), to.as_ref().to_path_buf());
    crate::sys::cstring(&from)?;
    crate::sys::cstring(&to)?;
    let (f, t) = (from.clone(), to.clone());
    blocking(move || std::fs::copy(f, t))
        .await?
        .map_err(|e| with_paths("copy", &from, &to, e))
}

/// The entries of a directory, as a [`Stream`](futures_core::Stream).
///
/// # Errors
///
/// The kernel's error opening the directory, with the path in the message;
/// errors while reading come as items of the stream.
///
/// # Drivers
///
/// The blocking pool on both drivers (no io_uring opcode lists a directory).
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path: Arc<Path> = Arc::from(path.as_ref());
    crate::sys::cstring(&path)?;
    let p = path.clone();
    let dir = blocking(move || std::fs::read_dir(&p))
        .await?
        .map_err(|e| with_path("read_dir", &path, e))?;
    Ok(ReadDir::new(path, dir))
}

/// The absolute path of `path`, with symlinks, `.` and `..` resolved.
///
/// # Errors
///
/// The kernel's error, with the path in the message.
///
/// # Drivers
///
/// `std::fs::canonicalize` on the blocking pool on both drivers.
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_path_buf();
    crate::sys::cstring(&path)?;
    let p = path.clone();
    blocking(move || std::fs::canonicalize(p))
        .await?
        .map_err(|e| with_path("canonicalize", &path, e))
}

/// What the symbolic link at `path` points to.
///
/// # Errors
///
/// The kernel's error, with the path in the message (`EINVAL` if it is not a symlink).
///
/// # Drivers
///
/// `readlink(2)` on the blocking pool on both drivers.
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_path_buf();
    crate::sys::cstring(&path)?;
    let p = path.clone();
    blocking(move || std::fs::read_link(p))
        .await?
        .map_err(|e| with_path("read_link", &path, e))
}

/// Runs `f` on the blocking pool; an error instead of a panic outside a runtime.
pub(crate) async fn blocking<T, F>(f: F) -> io::Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if crate::context::current().is_none() {
        return Err(crate::context::no_runtime());
    }
    crate::spawn_blocking(f).await.map_err(io::Error::from)
}
