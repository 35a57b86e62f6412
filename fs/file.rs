//! `File`: an open file, read and written at explicit offsets with owned buffers.

use std::fmt;
use std::future::Future;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::path::Path;

use super::positional::{ReadAt, WriteAt};
use super::{blocking, Metadata, OpenOptions};
use crate::buf::{BufResult, IoBuf, IoBufMut, Slice};
use crate::op::{self, FixedFile, Op};
use crate::sys::SharedFd;

/// An open file.
///
/// All I/O is positional (`read_at`, `write_at` …): there is no file cursor
/// to share between operations in flight, so any number of them may run at
/// once on one `File`. Buffers are owned, and come back with the result (see
/// [`crate::buf`]).
///
/// The futures of the I/O methods hold their own reference to the
/// descriptor, not a borrow of the `File`: the `File` may be dropped while
/// they run, and the descriptor stays open until the last of them completes.
///
/// # Closing
///
/// Dropping a `File` closes it (synchronously, once no operation uses it).
/// [`close`](File::close) closes it through the driver instead and reports
/// the kernel's error, which matters for filesystems that report write
/// errors at close (NFS).
///
/// # Drivers
///
/// io_uring: every operation here except [`set_len`](File::set_len) is
/// performed by the kernel (`IORING_OP_READ`, `_WRITE`, `_FSYNC`, `_STATX`,
/// `_FALLOCATE`, `_CLOSE` …) and never blocks the worker. epoll: a regular
/// file is always "ready", so reads first try `preadv2(RWF_NOWAIT)` on the
/// worker (data in the page cache) and go to the blocking pool only for what
/// would wait for the disk; the other syscalls run on the blocking pool.
///
/// ```
/// use runtime::fs::File;
///
/// # runtime::block_on(async {
/// # let path = std::env::temp_dir().join(format!("rt-doc-file-{}", std::process::id()));
/// let file = File::create(&path).await?;
/// let (res, _) = file.write_all_at(b"hello, world".to_vec(), 0).await;
/// res?;
/// file.sync_all().await?;
/// file.close().await?;
///
/// let file = File::open(&path).await?;
/// let (res, buf) = file.read_at(Vec::with_capacity(5), 7).await;
/// assert_eq!(res?, 5);
/// assert_eq!(buf, b"world");
/// # runtime::fs::remove_file(&path).await?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub struct File {
    /// The descriptor, shared with the operations in flight on it.
    pub(super) fd: SharedFd,
    /// Its slot in a ring's registered-file table, after [`File::register`].
    pub(super) fixed: Option<FixedFile>,
}

impl File {
    pub(crate) fn from_fd(fd: SharedFd) -> File {
        File { fd, fixed: None }
    }

    /// The shared descriptor, for operations elsewhere in the crate (send_file).
    pub(crate) fn shared_fd(&self) -> &SharedFd {
        &self.fd
    }

    /// Opens a file read-only.
    ///
    /// A directory can be opened this way too, to serve as the `dir` of
    /// [`open_beneath`](File::open_beneath).
    ///
    /// # Errors
    ///
    /// As [`OpenOptions::open`]: the path is in the message, the kind and
    /// errno are the kernel's (see [`raw_os_error`](super::raw_os_error)).
    ///
    /// # Cancel safety
    ///
    /// Dropped before it completes, the open may still happen in the kernel; the descriptor
    /// it returns is then closed, so nothing leaks.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens a file write-only, creating it or truncating it to 0 bytes.
    ///
    /// # Errors
    ///
    /// As [`OpenOptions::open`].
    ///
    /// # Cancel safety
    ///
    /// Dropped before it completes, the open may still happen in the kernel; the descriptor
    /// it returns is then closed, so nothing leaks.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// New [`OpenOptions`], all off.
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    /// Opens `path` read-only, resolved inside the directory `dir` and
    /// refusing to leave it (`..`, absolute paths, symlinks pointing
    /// outside). See [`OpenOptions::open_beneath`].
    ///
    /// # Cancel safety
    ///
    /// Dropped before it completes, the open may still happen in the kernel; the descriptor
    /// it returns is then closed, so nothing leaks.
    pub async fn open_beneath(dir: &File, path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open_beneath(dir, path).await
    }

    /// Reads into `buf` from offset `pos`, up to `buf.bytes_total()` bytes
    /// (a `Vec`'s capacity), and returns the count with the buffer, whose
    /// length grows by what was read. `Ok(0)` means end of file (or an empty
    /// buffer).
    ///
    /// Works with `O_DIRECT` files when `buf` is an
    /// [`AlignedBuf`](crate::buf::AlignedBuf) or a
    /// [`FixedBuf`](crate::buf::FixedBuf) and `pos` is block-aligned.
    ///
    /// On io_uring, a registered [`FixedBuf`](crate::buf::FixedBuf) makes
    /// this an `IORING_OP_READ_FIXED`, and a [registered](File::register)
    /// file is named by its slot (`types::Fixed`); epoll reads them as any other.
    ///
    /// # Errors
    ///
    /// The kernel's error; `InvalidInput` if `pos` exceeds `i64::MAX`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe in effect: a positional read changes nothing, so a dropped one is simply
    /// lost (the kernel may still fill the buffer, which the driver keeps until then) and
    /// can be issued again.
    pub fn read_at<B: IoBufMut>(
        &self,
        buf: B,
        pos: u64,
    ) -> impl Future<Output = BufResult<usize, B>> + 'static {
        ReadAt::new(&self.fd, self.fixed.as_ref(), buf, check_pos(pos))
    }

    /// Writes `buf`'s initialised bytes (a `Vec`'s `len()`) at offset `pos`
    /// and returns how many were written, which may be fewer (use
    /// [`write_all_at`](File::write_all_at) to write them all).
    ///
    /// In append mode the data goes to the end of the file whatever `pos` is.
    /// A registered [`FixedBuf`](crate::buf::FixedBuf) or file is used as
    /// in [`read_at`](File::read_at) (`IORING_OP_WRITE_FIXED`).
    ///
    /// # Errors
    ///
    /// The kernel's error; `InvalidInput` if `pos` exceeds `i64::MAX`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropped before it completes, the write may still happen (in the
    /// kernel or on the blocking pool), in whole or in part. Await it to learn the outcome.
    pub fn write_at<B: IoBuf>(
        &self,
        buf: B,
        pos: u64,
    ) -> impl Future<Output = BufResult<usize, B>> + 'static {
        WriteAt::new(&self.fd, self.fixed.as_ref(), buf, check_pos(pos))
    }

    /// Fills `buf` entirely (`bytes_total()` bytes: a `Vec`'s capacity) from
    /// offset `pos`, reading as many times as needed.
    ///
    /// # Errors
    ///
    /// `UnexpectedEof` if the file ends first (the buffer then holds what was
    /// read); otherwise the kernel's error. Interrupted reads are retried.
    ///
    /// ```
    /// # runtime::block_on(async {
    /// # let path = std::env::temp_dir().join(format!("rt-doc-exact-{}", std::process::id()));
    /// runtime::fs::write(&path, b"0123456789".to_vec()).await?;
    /// let file = runtime::fs::File::open(&path).await?;
    /// let (res, buf) = file.read_exact_at(vec![0u8; 4], 6).await;
    /// res?;
    /// assert_eq!(buf, b"6789");
    /// let (res, _) = file.read_exact_at(vec![0u8; 4], 8).await;
    /// assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::UnexpectedEof);
    /// # runtime::fs::remove_file(&path).await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Dropped part-way, the bytes read so far are lost with the buffer (as with tokio's
    /// `read_exact`); the file is unchanged, so the call can be made again.
    pub fn read_exact_at<B: IoBufMut>(
        &self,
        buf: B,
        pos: u64,
    ) -> impl Future<Output = BufResult<(), B>> + 'static {
        let (fd, fixed) = (self.fd.clone(), self.fixed.clone());
        let total = buf.bytes_total();
        let read = move |slice, at| ReadAt::new(&fd, fixed.as_ref(), slice, Ok(at));
        all_at(buf, pos, total, read, || {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "end of file before the buffer was filled",
            )
        })
    }

    /// Writes all of `buf`'s initialised bytes at offset `pos`, writing as
    /// many times as needed.
    ///
    /// # Errors
    ///
    /// `WriteZero` if the kernel accepts no bytes; otherwise the kernel's
    /// error (part of the data may have been written). Interrupted writes
    /// are retried.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropped before it completes, the write may still happen (in the
    /// kernel or on the blocking pool), in whole or in part. Await it to learn the outcome.
    pub fn write_all_at<B: IoBuf>(
        &self,
        buf: B,
        pos: u64,
    ) -> impl Future<Output = BufResult<(), B>> + 'static {
        let (fd, fixed) = (self.fd.clone(), self.fixed.clone());
        let total = buf.bytes_init();
        let write = move |slice, at| WriteAt::new(&fd, fixed.as_ref(), slice, Ok(at));
        all_at(buf, pos, total, write, || {
            io::Error::new(io::ErrorKind::WriteZero, "the file took no bytes")
        })
    }

    /// Reads from offset `pos` into `bufs` in order (`preadv(2)`), filling
    /// each up to its `bytes_total()` before the next; returns the total.
    ///
    /// # Errors
    ///
    /// The kernel's error (`EINVAL` beyond 1024 buffers); `InvalidInput` if
    /// `pos` exceeds `i64::MAX`.
    ///
    /// ```
    /// # runtime::block_on(async {
    /// # let path = std::env::temp_dir().join(format!("rt-doc-readv-{}", std::process::id()));
    /// runtime::fs::write(&path, b"headerbody".to_vec()).await?;
    /// let file = runtime::fs::File::open(&path).await?;
    /// let bufs = vec![Vec::with_capacity(6), Vec::with_capacity(16)];
    /// let (n, bufs) = file.readv_at(bufs, 0).await;
    /// assert_eq!(n?, 10);
    /// assert_eq!((&bufs[0][..], &bufs[1][..]), (&b"header"[..], &b"body"[..]));
    /// # runtime::fs::remove_file(&path).await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Cancel safe in effect: a positional read changes nothing, so a dropped one is simply
    /// lost (the kernel may still fill the buffer, which the driver keeps until then) and
    /// can be issued again.
    pub fn readv_at<B: IoBufMut>(
        &self,
        bufs: Vec<B>,
        pos: u64,
    ) -> impl Future<Output = BufResult<usize, Vec<B>>> + 'static {
        at_pos(&self.fd, pos, bufs, Op::readv_at)
    }

    /// Writes the initialised bytes of `bufs`, in order, at offset `pos`
    /// (`pwritev(2)`); returns how many were written, which may be fewer.
    ///
    /// # Errors
    ///
    /// The kernel's error (`EINVAL` beyond 1024 buffers); `InvalidInput` if
    /// `pos` exceeds `i64::MAX`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropped before it completes, the write may still happen (in the
    /// kernel or on the blocking pool), in whole or in part. Await it to learn the outcome.
    pub fn writev_at<B: IoBuf>(
        &self,
        bufs: Vec<B>,
        pos: u64,
    ) -> impl Future<Output = BufResult<usize, Vec<B>>> + 'static {
        at_pos(&self.fd, pos, bufs, Op::writev_at)
    }

    /// Flushes the file's data and metadata to its storage (`fsync(2)`).
    ///
    /// Only writes that completed before this call are covered: the driver
    /// may run operations in flight in any order.
    ///
    /// # Cancel safety
    ///
    /// Dropped before it completes, the operation may still happen; calling it again is
    /// harmless.
    pub async fn sync_all(&self) -> io::Result<()> {
        Op::sync_all(&self.fd).await
    }

    /// Flushes the file's data, and only the metadata needed to read it back
    /// (`fdatasync(2)`): cheaper than [`sync_all`](File::sync_all).
    ///
    /// # Cancel safety
    ///
    /// Dropped before it completes, the operation may still happen; calling it again is
    /// harmless.
    pub async fn sync_data(&self) -> io::Result<()> {
        Op::sync_data(&self.fd).await
    }

    /// The file's metadata (`statx(2)` on the descriptor).
    ///
    /// io_uring: `IORING_OP_STATX`, which the kernel always runs on one of
    /// its io-wq threads; epoll: the blocking pool. Either way a hand-off to
    /// another thread: see [`cached_metadata`](File::cached_metadata) for the
    /// cheap form.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it changes nothing.
    pub async fn metadata(&self) -> io::Result<Metadata> {
        Op::statx_fd(&self.fd).await.map(Metadata::new)
    }

    /// The file's metadata as the kernel has it in memory, read on the
    /// calling thread with no hand-off: `statx(2)` on the descriptor with
    /// `AT_STATX_DONT_SYNC`.
    ///
    /// For an open file on a local filesystem this reads the in-memory inode
    /// and does not wait, so it is fine to call from async code. On a network
    /// filesystem (NFS, SMB, FUSE …) `AT_STATX_DONT_SYNC` skips the
    /// revalidation with the server that [`metadata`](File::metadata) may
    /// do, so what comes back may be stale: another client's recent change
    /// may not show yet. A file server answering from an open descriptor
    /// (size, type, modification time) wants this one; a program checking
    /// whether another machine changed the file wants `metadata`.
    ///
    /// ```
    /// # runtime::block_on(async {
    /// let file = runtime::fs::File::open("Cargo.toml").await?;
    /// let meta = file.cached_metadata()?;
    /// assert!(meta.is_file());
    /// assert_eq!(meta.len(), file.metadata().await?.len());
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// The kernel's error (`ENOSYS` before Linux 4.11, which had no statx).
    pub fn cached_metadata(&self) -> io::Result<Metadata> {
        op::statx_fd_cached(&self.fd).map(Metadata::new)
    }

    /// Truncates or extends the file to `size` bytes (`ftruncate(2)`);
    /// extended bytes read as zeros.
    ///
    /// # Drivers
    ///
    /// Runs on the blocking pool on both drivers: `IORING_OP_FTRUNCATE`
    /// appeared only in Linux 6.9, and requiring it would send every older
    /// kernel to epoll for this one call.
    ///
    /// # Cancel safety
    ///
    /// Dropped before it completes, the operation may still happen; calling it again is
    /// harmless.
    pub async fn set_len(&self, size: u64) -> io::Result<()> {
        let fd = self.fd.clone();
        blocking(move || crate::sys::ftruncate(&fd, size)).await?
    }

    /// `fallocate(2)`: with `mode` 0, allocates `offset..offset + len` on
    /// disk (extending the file if needed), so later writes there cannot
    /// fail for lack of space. `libc::FALLOC_FL_KEEP_SIZE`,
    /// `FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE` and `FALLOC_FL_ZERO_RANGE`
    /// work as in the man page, where the filesystem supports them.
    ///
    /// # Errors
    ///
    /// The kernel's error: `EOPNOTSUPP` (kind `Unsupported`) for a mode the
    /// filesystem lacks, `EINVAL` for a zero `len`.
    ///
    /// # Cancel safety
    ///
    /// Dropped before it completes, the operation may still happen; calling it again is
    /// harmless.
    pub async fn fallocate(&self, offset: u64, len: u64, mode: i32) -> io::Result<()> {
        Op::fallocate(&self.fd, offset, len, mode).await
    }

    /// Closes the file and reports the kernel's error, if any.
    ///
    /// If operations are still in flight on it (futures dropped before they
    /// completed), they keep the descriptor open; it closes when the last
    /// one completes, and this returns `Ok(())` at once.
    ///
    /// A [registered](File::register) file is open in its ring's table too,
    /// whatever happens to the descriptor. With no operation in flight on
    /// it, this first waits until the worker that registered it has emptied
    /// that slot (the worker is woken for it), so that when this returns
    /// `Ok` the kernel has let the file go (its `flock`s, and the space of a
    /// deleted file). If that worker is not running (worker 0 of a runtime
    /// outside its `block_on`), the descriptor is closed and the error says
    /// the file stays open until that runtime runs or is dropped. With
    /// operations in flight, the slot is emptied after the last of them, as
    /// the descriptor is closed then.
    ///
    /// # Drivers
    ///
    /// io_uring: `IORING_OP_CLOSE`. epoll: `close(2)` on the blocking pool.
    ///
    /// # Cancel safety
    ///
    /// Dropped before it completes, the descriptor is closed anyway (by the kernel, or
    /// synchronously on drop), so it never leaks; only the close's own error is lost.
    pub async fn close(mut self) -> io::Result<()> {
        // The slot holds the descriptor too: it goes first. Ops in flight
        // hold it as well (they may not even have been polled yet: never
        // wait for them), and let it go when they complete.
        let emptied = match self.fixed.take() {
            Some(fixed) if fixed.is_sole_holder() => {
                let emptied = fixed.close();
                std::future::poll_fn(|cx| emptied.poll(cx)).await
            }
            _ => Ok(()),
        };
        let closed = match self.fd.try_unwrap() {
            Ok(fd) => Op::close(fd).await,
            Err(_in_use) => Ok(()),
        };
        closed?;
        emptied.map_err(|why| io::Error::other(format!("close of a registered file: {why}")))
    }

    /// Wraps a file opened with `std` (or received from elsewhere).
    ///
    /// ```
    /// # runtime::block_on(async {
    /// let file = runtime::fs::File::from_std(std::fs::File::open("/dev/null")?);
    /// let (n, _) = file.read_at(Vec::with_capacity(8), 0).await;
    /// assert_eq!(n?, 0);
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn from_std(file: std::fs::File) -> File {
        File::from_fd(SharedFd::new_file(OwnedFd::from(file)))
    }

    /// Gives the file back as a `std::fs::File`, or returns `self` if
    /// operations are still in flight on it.
    pub fn try_into_std(self) -> Result<std::fs::File, File> {
        let File { fd, fixed } = self;
        // Ops in flight on a registered file hold its slot (and through it
        // the descriptor); with none, the slot is let go first.
        if fixed.as_ref().is_some_and(|f| !f.is_sole_holder()) {
            return Err(File { fd, fixed });
        }
        drop(fixed);
        fd.try_unwrap()
            .map(std::fs::File::from)
            .map_err(|fd| File { fd, fixed: None })
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl fmt::Debug for File {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("File").field("fd", &self.fd.raw()).finish()
    }
}

/// Starts `start(fd, buf, pos)` if `pos` is an offset the kernel can take;
/// otherwise resolves to the `InvalidInput` error, with `buf` back. The one
/// check behind the positional reads and writes.
fn at_pos<B, T, F, S>(
    fd: &SharedFd,
    pos: u64,
    buf: B,
    start: S,
) -> impl Future<Output = BufResult<T, B>> + 'static
where
    B: 'static,
    T: 'static,
    F: Future<Output = BufResult<T, B>> + 'static,
    S: FnOnce(&SharedFd, B, u64) -> F + 'static,
{
    let op = match check_pos(pos) {
        Ok(pos) => Ok(start(fd, buf, pos)),
        Err(e) => Err((e, buf)),
    };
    async move {
        match op {
            Ok(op) => op.await,
            Err((e, buf)) => (Err(e), buf),
        }
    }
}

/// Moves bytes `0..total` of `buf` from or to offset `pos` with one
/// positional transfer after another (`start(slice, offset)`) until all have
/// moved: the loop of `read_exact_at` and `write_all_at`. Interrupted
/// transfers are retried; one that moves nothing ends it with `none_moved()`.
async fn all_at<B, F>(
    mut buf: B,
    pos: u64,
    total: usize,
    mut start: impl FnMut(Slice<B>, u64) -> F,
    none_moved: fn() -> io::Error,
) -> BufResult<(), B>
where
    B: IoBuf,
    F: Future<Output = BufResult<usize, Slice<B>>>,
{
    let mut done = 0;
    while done < total {
        let at = match offset(pos, done) {
            Ok(at) => at,
            Err(e) => return (Err(e), buf),
        };
        let (res, slice) = start(buf.slice(done..total), at).await;
        buf = slice.into_inner();
        match res {
            Ok(0) => return (Err(none_moved()), buf),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return (Err(e), buf),
        }
    }
    (Ok(()), buf)
}

/// `pos`, if the kernel can take it as a file offset.
#[inline]
pub(super) fn check_pos(pos: u64) -> io::Result<u64> {
    if pos > i64::MAX as u64 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "file offset exceeds i64::MAX",
        ));
    }
    Ok(pos)
}

/// `pos + done`, if the kernel can take it as a file offset.
pub(super) fn offset(pos: u64, done: usize) -> io::Result<u64> {
    check_pos(pos.saturating_add(done as u64))
}
