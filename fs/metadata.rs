//! `Metadata` and `FileType`: what `statx(2)` says about a file.

use std::fmt;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, SystemTime};

/// Information about a file: size, type, permissions, times.
///
/// Returned by [`metadata`](super::metadata), [`symlink_metadata`](super::symlink_metadata),
/// [`File::metadata`](super::File::metadata) and [`DirEntry::metadata`](super::DirEntry::metadata).
/// On io_uring it comes from `IORING_OP_STATX`; on epoll from `statx(2)` on
/// the blocking pool.
///
/// ```
/// # runtime::block_on(async {
/// # let path = std::env::temp_dir().join(format!("rt-doc-meta-{}", std::process::id()));
/// runtime::fs::write(&path, b"hello".to_vec()).await?;
/// let meta = runtime::fs::metadata(&path).await?;
/// assert!(meta.is_file());
/// assert_eq!(meta.len(), 5);
/// assert!(meta.modified()? <= std::time::SystemTime::now());
/// # runtime::fs::remove_file(&path).await?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Copy)]
pub struct Metadata {
    /// The kernel's answer, as is.
    stx: libc::statx,
}

impl Metadata {
    pub(crate) fn new(stx: libc::statx) -> Self {
        Metadata { stx }
    }

    /// The file's type.
    pub fn file_type(&self) -> FileType {
        FileType::from_mode(u32::from(self.stx.stx_mode))
    }

    /// Whether this is a regular file.
    pub fn is_file(&self) -> bool {
        self.file_type().is_file()
    }

    /// Whether this is a directory.
    pub fn is_dir(&self) -> bool {
        self.file_type().is_dir()
    }

    /// Whether this is a symbolic link (only from [`symlink_metadata`](super::symlink_metadata),
    /// which does not follow links).
    pub fn is_symlink(&self) -> bool {
        self.file_type().is_symlink()
    }

    /// Size in bytes.
    #[allow(clippy::len_without_is_empty)] // as std::fs::Metadata
    pub fn len(&self) -> u64 {
        self.stx.stx_size
    }

    /// The permission bits, as `std::fs::Permissions`.
    pub fn permissions(&self) -> std::fs::Permissions {
        std::fs::Permissions::from_mode(self.mode())
    }

    /// The whole `st_mode`: type bits and permission bits (`0o100644` for a
    /// plain file).
    pub fn mode(&self) -> u32 {
        u32::from(self.stx.stx_mode)
    }

    /// Last modification time.
    ///
    /// # Errors
    ///
    /// `Unsupported` if the filesystem does not record it.
    pub fn modified(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_MTIME, self.stx.stx_mtime, "modification")
    }

    /// Last access time.
    ///
    /// # Errors
    ///
    /// `Unsupported` if the filesystem does not record it.
    pub fn accessed(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_ATIME, self.stx.stx_atime, "access")
    }

    /// Creation (birth) time.
    ///
    /// # Errors
    ///
    /// `Unsupported` if the filesystem does not record it (tmpfs before
    /// Linux 5.x, many network filesystems).
    pub fn created(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_BTIME, self.stx.stx_btime, "creation")
    }

    /// Time of the last status change (`ctime`).
    ///
    /// # Errors
    ///
    /// `Unsupported` if the filesystem does not record it.
    pub fn changed(&self) -> io::Result<SystemTime> {
        self.time(libc::STATX_CTIME, self.stx.stx_ctime, "status change")
    }

    /// Inode number.
    pub fn ino(&self) -> u64 {
        self.stx.stx_ino
    }

    /// ID of the device holding the file, as `st_dev`.
    pub fn dev(&self) -> u64 {
        libc::makedev(self.stx.stx_dev_major, self.stx.stx_dev_minor)
    }

    /// Number of hard links.
    pub fn nlink(&self) -> u64 {
        u64::from(self.stx.stx_nlink)
    }

    /// Owner's user ID.
    pub fn uid(&self) -> u32 {
        self.stx.stx_uid
    }

    /// Owner's group ID.
    pub fn gid(&self) -> u32 {
        self.stx.stx_gid
    }

    /// The preferred I/O block size.
    pub fn blksize(&self) -> u64 {
        u64::from(self.stx.stx_blksize)
    }

    /// Number of 512-byte blocks allocated (less than `len / 512` for a sparse file).
    pub fn blocks(&self) -> u64 {
        self.stx.stx_blocks
    }

    fn time(&self, bit: u32, ts: libc::statx_timestamp, what: &str) -> io::Result<SystemTime> {
        if self.stx.stx_mask & bit == 0 {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("the filesystem does not record the {what} time"),
            ));
        }
        let nanos = Duration::from_nanos(u64::from(ts.tv_nsec));
        let time = if ts.tv_sec >= 0 {
            SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(ts.tv_sec as u64) + nanos)
        } else {
            SystemTime::UNIX_EPOCH
                .checked_sub(Duration::from_secs(ts.tv_sec.unsigned_abs()))
                .and_then(|t| t.checked_add(nanos))
        };
        time.ok_or_else(|| io::Error::other(format!("the {what} time is out of range")))
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metadata")
            .field("file_type", &self.file_type())
            .field("len", &self.len())
            .field("mode", &format_args!("{:#o}", self.mode()))
            .field("modified", &self.modified().ok())
            .finish_non_exhaustive()
    }
}

/// A file's type: regular file, directory, symlink, or a special file.
///
/// ```
/// # runtime::block_on(async {
/// let meta = runtime::fs::metadata("/").await?;
/// assert!(meta.file_type().is_dir());
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileType {
    /// The `S_IFMT` bits of `st_mode`.
    fmt: u32,
}

impl FileType {
    pub(crate) fn from_mode(mode: u32) -> Self {
        FileType {
            fmt: mode & libc::S_IFMT,
        }
    }

    pub(crate) fn from_std(ft: std::fs::FileType) -> Self {
        use std::os::unix::fs::FileTypeExt;
        let fmt = if ft.is_file() {
            libc::S_IFREG
        } else if ft.is_dir() {
            libc::S_IFDIR
        } else if ft.is_symlink() {
            libc::S_IFLNK
        } else if ft.is_fifo() {
            libc::S_IFIFO
        } else if ft.is_socket() {
            libc::S_IFSOCK
        } else if ft.is_block_device() {
            libc::S_IFBLK
        } else if ft.is_char_device() {
            libc::S_IFCHR
        } else {
            0
        };
        FileType { fmt }
    }

    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.fmt == libc::S_IFREG
    }

    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.fmt == libc::S_IFDIR
    }

    /// A symbolic link.
    pub fn is_symlink(&self) -> bool {
        self.fmt == libc::S_IFLNK
    }

    /// A named pipe.
    pub fn is_fifo(&self) -> bool {
        self.fmt == libc::S_IFIFO
    }

    /// A Unix domain socket.
    pub fn is_socket(&self) -> bool {
        self.fmt == libc::S_IFSOCK
    }

    /// A block device.
    pub fn is_block_device(&self) -> bool {
        self.fmt == libc::S_IFBLK
    }

    /// A character device.
    pub fn is_char_device(&self) -> bool {
        self.fmt == libc::S_IFCHR
    }
}

impl fmt::Debug for FileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.fmt {
            libc::S_IFREG => "file",
            libc::S_IFDIR => "dir",
            libc::S_IFLNK => "symlink",
            libc::S_IFIFO => "fifo",
            libc::S_IFSOCK => "socket",
            libc::S_IFBLK => "block device",
            libc::S_IFCHR => "char device",
            _ => "unknown",
        };
        f.write_str(name)
    }
}
