//! `ReadDir`: a directory's entries as a `Stream`, read in batches on the blocking pool.
//!
//! Neither io_uring nor epoll can list a directory asynchronously
//! (`getdents64` has no io_uring opcode), so `std::fs::ReadDir` runs on the
//! blocking pool, [`BATCH`] entries per trip, while the worker stays free.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_core::Stream;

use super::error::with_path;
use super::{FileType, Metadata};
use crate::JoinHandle;

/// Entries read per trip to the blocking pool.
const BATCH: usize = 64;

/// One trip's result: the iterator back, and what it yielded.
struct Batch {
    /// The iterator, to continue from; `None` once exhausted.
    dir: Option<std::fs::ReadDir>,
    /// The entries (or errors) read.
    entries: VecDeque<io::Result<DirEntry>>,
}

/// The entries of a directory, from [`read_dir`](super::read_dir).
///
/// A [`Stream`] of `io::Result<DirEntry>`; [`next_entry`](ReadDir::next_entry)
/// is the same without a stream combinator crate. Entries come in directory
/// order, without `.` and `..`.
///
/// ```
/// # runtime::block_on(async {
/// # let dir = std::env::temp_dir().join(format!("rt-doc-readdir-{}", std::process::id()));
/// # runtime::fs::create_dir_all(&dir).await?;
/// # runtime::fs::write(dir.join("a.txt"), b"a".to_vec()).await?;
/// let mut entries = runtime::fs::read_dir(&dir).await?;
/// while let Some(entry) = entries.next_entry().await? {
///     println!("{} ({:?})", entry.file_name().to_string_lossy(), entry.file_type()?);
/// }
/// # runtime::fs::remove_file(dir.join("a.txt")).await?;
/// # runtime::fs::remove_dir(&dir).await?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct ReadDir {
    /// The directory, for error messages.
    path: Arc<Path>,
    /// Entries read ahead, handed out first.
    ready: VecDeque<io::Result<DirEntry>>,
    /// The iterator while no trip is under way; `None` when exhausted or travelling.
    dir: Option<std::fs::ReadDir>,
    /// The trip under way on the blocking pool.
    pending: Option<JoinHandle<Batch>>,
}

impl ReadDir {
    pub(crate) fn new(path: Arc<Path>, dir: std::fs::ReadDir) -> Self {
        ReadDir {
            path,
            ready: VecDeque::new(),
            dir: Some(dir),
            pending: None,
        }
    }

    /// The next entry, or `None` at the end.
    ///
    /// # Errors
    ///
    /// The kernel's error while reading the directory, with its path.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        poll_fn(|cx| self.poll_next_entry(cx)).await.transpose()
    }

    /// Polls for the next entry; `Ready(None)` at the end.
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<Option<io::Result<DirEntry>>> {
        loop {
            if let Some(entry) = self.ready.pop_front() {
                return Poll::Ready(Some(entry));
            }
            if let Some(pending) = &mut self.pending {
                let res = match Pin::new(pending).poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(res) => res,
                };
                self.pending = None;
                match res {
                    Ok(batch) => {
                        self.ready = batch.entries;
                        self.dir = batch.dir;
                        continue;
                    }
                    Err(e) => return Poll::Ready(Some(Err(io::Error::from(e)))),
                }
            }
            let Some(mut dir) = self.dir.take() else {
                return Poll::Ready(None);
            };
            if crate::context::current().is_none() {
                return Poll::Ready(Some(Err(crate::context::no_runtime())));
            }
            let path = self.path.clone();
            self.pending = Some(crate::spawn_blocking(move || {
                let mut entries = VecDeque::with_capacity(BATCH);
                while entries.len() < BATCH {
                    match dir.next() {
                        Some(Ok(e)) => entries.push_back(Ok(DirEntry::from_std(&e))),
                        Some(Err(e)) => entries.push_back(Err(with_path("read_dir", &path, e))),
                        None => return Batch { dir: None, entries },
                    }
                }
                Batch {
                    dir: Some(dir),
                    entries,
                }
            }));
        }
    }
}

impl Stream for ReadDir {
    type Item = io::Result<DirEntry>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_entry(cx)
    }
}

impl fmt::Debug for ReadDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadDir")
            .field("path", &self.path)
            .field("ready", &self.ready.len())
            .finish_non_exhaustive()
    }
}

/// An entry of a directory, from [`ReadDir`].
#[derive(Debug)]
pub struct DirEntry {
    /// The directory's path joined with the entry's name.
    path: PathBuf,
    /// The entry's name.
    name: OsString,
    /// Its type, read with the entry (from `d_type`, or an `lstat` on the pool).
    file_type: Result<FileType, (io::ErrorKind, Option<i32>)>,
    /// Its inode number.
    ino: u64,
}

impl DirEntry {
    fn from_std(e: &std::fs::DirEntry) -> DirEntry {
        use std::os::unix::fs::DirEntryExt;
        DirEntry {
            path: e.path(),
            name: e.file_name(),
            file_type: e
                .file_type()
                .map(FileType::from_std)
                .map_err(|err| (err.kind(), err.raw_os_error())),
            ino: e.ino(),
        }
    }

    /// The full path: the directory given to `read_dir` joined with the name.
    pub fn path(&self) -> PathBuf {
        self.path.clone()
    }

    /// The entry's name, without its directory.
    pub fn file_name(&self) -> OsString {
        self.name.clone()
    }

    /// The entry's type, without following a symlink.
    ///
    /// # Errors
    ///
    /// If the type had to be looked up (`d_type` unknown) and the lookup
    /// failed, for example because the entry was removed since.
    pub fn file_type(&self) -> io::Result<FileType> {
        self.file_type.map_err(|(kind, errno)| match errno {
            Some(code) => with_path("file_type", &self.path, io::Error::from_raw_os_error(code)),
            None => io::Error::new(kind, format!("file_type {}", self.path.display())),
        })
    }

    /// The entry's inode number.
    pub fn ino(&self) -> u64 {
        self.ino
    }

    /// The entry's metadata, without following a symlink (as
    /// [`symlink_metadata`](super::symlink_metadata) of [`path`](DirEntry::path)).
    ///
    /// # Errors
    ///
    /// As [`symlink_metadata`](super::symlink_metadata).
    pub async fn metadata(&self) -> io::Result<Metadata> {
        super::symlink_metadata(&self.path).await
    }
}
