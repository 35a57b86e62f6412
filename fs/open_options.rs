//! `OpenOptions`: how to open a file (access mode, creation, flags).

use std::io;
use std::path::Path;

use super::error::with_path;
use super::File;
use crate::op::Op;
use crate::sys::SharedFd;

/// Options for opening a file, as [`std::fs::OpenOptions`].
///
/// Set what you need, then [`open`](OpenOptions::open) a path, or
/// [`open_beneath`](OpenOptions::open_beneath) a path that must stay inside a
/// directory.
///
/// ```
/// use runtime::fs::OpenOptions;
///
/// # runtime::block_on(async {
/// # let path = std::env::temp_dir().join(format!("rt-doc-opts-{}", std::process::id()));
/// let file = OpenOptions::new()
///     .write(true)
///     .create_new(true)
///     .mode(0o600)
///     .open(&path)
///     .await?;
/// let (n, _) = file.write_at(b"log line\n".to_vec(), 0).await;
/// assert_eq!(n?, 9);
/// file.close().await?;
/// # runtime::fs::remove_file(&path).await?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// Open for reading.
    read: bool,
    /// Open for writing.
    write: bool,
    /// Every write goes to the end of the file (`O_APPEND`); implies `write`.
    append: bool,
    /// Truncate an existing file to 0 bytes (`O_TRUNC`).
    truncate: bool,
    /// Create the file if missing (`O_CREAT`).
    create: bool,
    /// Create the file, failing if it exists (`O_CREAT | O_EXCL`).
    create_new: bool,
    /// Permission bits of a created file, before the umask.
    mode: u32,
    /// Extra `O_*` flags (`O_DIRECT`, `O_NOATIME` …); the access mode bits are ignored.
    custom_flags: i32,
    /// Put the opened file in the worker's registered-file table.
    register: bool,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl OpenOptions {
    /// All options off, mode `0o666`.
    pub fn new() -> Self {
        OpenOptions {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            mode: 0o666,
            custom_flags: 0,
            register: false,
        }
    }

    /// Open for reading.
    pub fn read(&mut self, read: bool) -> &mut Self {
        self.read = read;
        self
    }

    /// Open for writing.
    pub fn write(&mut self, write: bool) -> &mut Self {
        self.write = write;
        self
    }

    /// Open in append mode (`O_APPEND`), which implies writing: every write
    /// lands at the end of the file, whatever position it names (Linux
    /// ignores the offset of `pwrite` on such files).
    pub fn append(&mut self, append: bool) -> &mut Self {
        self.append = append;
        self
    }

    /// Truncate an existing file to length 0. Needs `write`.
    pub fn truncate(&mut self, truncate: bool) -> &mut Self {
        self.truncate = truncate;
        self
    }

    /// Create the file if it does not exist. Needs `write` or `append`.
    pub fn create(&mut self, create: bool) -> &mut Self {
        self.create = create;
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists (a symlink
    /// included). Needs `write` or `append`; overrides `create` and `truncate`.
    pub fn create_new(&mut self, create_new: bool) -> &mut Self {
        self.create_new = create_new;
        self
    }

    /// Permission bits for a created file (default `0o666`, minus the umask).
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode;
        self
    }

    /// Extra `open(2)` flags, such as `libc::O_DIRECT` (use an
    /// [`AlignedBuf`](crate::buf::AlignedBuf) then), `libc::O_NOATIME` or
    /// `libc::O_DIRECTORY`. The access-mode bits are ignored; `O_CLOEXEC` is
    /// always set.
    pub fn custom_flags(&mut self, flags: i32) -> &mut Self {
        self.custom_flags = flags;
        self
    }

    /// Registers the opened file with the current worker's ring, as
    /// [`File::register`] right after the open: its reads and writes on this
    /// worker then name a registered slot (`types::Fixed`). A refusal (the
    /// epoll driver, a full or refused table) is never an error: the file
    /// opens with its plain descriptor, and [`File::is_registered`] says
    /// which it got.
    ///
    /// ```
    /// # runtime::block_on(async {
    /// # let path = std::env::temp_dir().join(format!("rt-doc-opts-reg-{}", std::process::id()));
    /// # runtime::fs::write(&path, b"hot file".to_vec()).await?;
    /// let file = runtime::fs::OpenOptions::new().read(true).register(true).open(&path).await?;
    /// let on_uring = runtime::driver_kind() == runtime::DriverKind::Uring;
    /// assert_eq!(file.is_registered(), on_uring);
    /// # runtime::fs::remove_file(&path).await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn register(&mut self, register: bool) -> &mut Self {
        self.register = register;
        self
    }

    /// `file`, registered if asked.
    fn finish(&self, mut file: File) -> File {
        if self.register {
            file.register();
        }
        file
    }

    /// Opens `path` with these options.
    ///
    /// # Errors
    ///
    /// The kernel's error with the path in its message (for example
    /// `open /x/y: No such file or directory (os error 2)`, kind `NotFound`);
    /// `InvalidInput` for a path with a NUL byte or contradictory options
    /// (nothing to open for, `truncate` without `write` …).
    ///
    /// # Drivers
    ///
    /// io_uring: `IORING_OP_OPENAT`. epoll: `openat2(2)` with `RESOLVE_CACHED`
    /// on the worker when every path component is in the kernel's lookup
    /// cache (and the open creates nothing), otherwise on the blocking pool.
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref();
        let flags = self.flags()?;
        let fd = Op::open_at(None, crate::sys::cstring(path)?, flags, self.mode)
            .await
            .map_err(|e| with_path("open", path, e))?;
        Ok(self.finish(File::from_fd(SharedFd::new_file(fd))))
    }

    /// Opens `path`, resolved inside the directory `dir`, refusing any path
    /// that would leave it: `..` above `dir`, an absolute path, and symlinks
    /// (at any step) whose target lies outside `dir` all fail, and so do
    /// "magic" links such as `/proc/self/fd/N`. Symlinks that stay inside
    /// `dir` work as usual.
    ///
    /// This is `openat2(2)` with `RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS`;
    /// the kernel checks every step of the lookup, so there is no window
    /// between a check and the open for a rename to slip through. A server
    /// opens its root once and serves every request path through this.
    ///
    /// ```
    /// use runtime::fs::{File, OpenOptions};
    ///
    /// # runtime::block_on(async {
    /// # let root = std::env::temp_dir().join(format!("rt-doc-beneath-{}", std::process::id()));
    /// # runtime::fs::create_dir_all(&root).await?;
    /// # runtime::fs::write(root.join("index.html"), b"hi".to_vec()).await?;
    /// let dir = File::open(&root).await?;
    /// let mut opts = OpenOptions::new();
    /// opts.read(true);
    /// let page = opts.open_beneath(&dir, "index.html").await?;
    /// assert_eq!(page.metadata().await?.len(), 2);
    /// assert!(opts.open_beneath(&dir, "../../etc/passwd").await.is_err());
    /// assert!(opts.open_beneath(&dir, "/etc/passwd").await.is_err());
    /// # runtime::fs::remove_file(root.join("index.html")).await?;
    /// # runtime::fs::remove_dir(&root).await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    ///
    /// # Errors
    ///
    /// An escape fails with `EXDEV` (kind `CrossesDevices`), a magic link
    /// with `ELOOP`; otherwise as [`open`](OpenOptions::open). Kernels before
    /// Linux 5.6 lack `openat2` (`ENOSYS`, kind `Unsupported`).
    ///
    /// # Drivers
    ///
    /// io_uring: `IORING_OP_OPENAT2`. epoll: the `openat2` syscall, on the
    /// worker with `RESOLVE_CACHED` when the path is cached, otherwise on the
    /// blocking pool.
    pub async fn open_beneath(&self, dir: &File, path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref();
        let flags = self.flags()?;
        let resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
        let fd = Op::open_at2(
            Some(dir.shared_fd()),
            crate::sys::cstring(path)?,
            flags,
            self.mode,
            resolve,
        )
        .await
        .map_err(|e| with_path("open beneath a directory", path, e))?;
        Ok(self.finish(File::from_fd(SharedFd::new_file(fd))))
    }

    /// The `open(2)` flags these options stand for (`O_CLOEXEC` is added by the op).
    fn flags(&self) -> io::Result<i32> {
        let access = match (self.read, self.write, self.append) {
            (true, false, false) => libc::O_RDONLY,
            (false, true, false) => libc::O_WRONLY,
            (true, true, false) => libc::O_RDWR,
            (false, _, true) => libc::O_WRONLY | libc::O_APPEND,
            (true, _, true) => libc::O_RDWR | libc::O_APPEND,
            (false, false, false) => {
                return Err(invalid(
                    "OpenOptions: neither read, write nor append is set",
                ))
            }
        };
        let writes = self.write || self.append;
        if !writes && (self.truncate || self.create || self.create_new) {
            return Err(invalid(
                "OpenOptions: truncate, create and create_new need write or append",
            ));
        }
        if self.append && self.truncate && !self.create_new {
            return Err(invalid(
                "OpenOptions: append and truncate contradict each other",
            ));
        }
        let creation = match (self.create, self.truncate, self.create_new) {
            (_, _, true) => libc::O_CREAT | libc::O_EXCL,
            (false, false, false) => 0,
            (true, false, false) => libc::O_CREAT,
            (false, true, false) => libc::O_TRUNC,
            (true, true, false) => libc::O_CREAT | libc::O_TRUNC,
        };
        Ok(access | creation | (self.custom_flags & !libc::O_ACCMODE))
    }
}

/// `InvalidInput` with a fixed message.
fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_follow_std() {
        let mut o = OpenOptions::new();
        assert!(o.flags().is_err());
        o.read(true);
        assert_eq!(o.flags().unwrap(), libc::O_RDONLY);
        o.write(true).create(true).truncate(true);
        assert_eq!(
            o.flags().unwrap(),
            libc::O_RDWR | libc::O_CREAT | libc::O_TRUNC
        );
        o.create_new(true)
            .custom_flags(libc::O_DIRECT | libc::O_WRONLY);
        assert_eq!(
            o.flags().unwrap(),
            libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_DIRECT
        );
        let mut a = OpenOptions::new();
        a.append(true);
        assert_eq!(a.flags().unwrap(), libc::O_WRONLY | libc::O_APPEND);
        a.truncate(true);
        assert!(a.flags().is_err());
        let mut r = OpenOptions::new();
        r.read(true).create(true);
        assert_eq!(r.flags().unwrap_err().kind(), io::ErrorKind::InvalidInput);
    }
}
