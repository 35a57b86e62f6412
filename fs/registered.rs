//! Registered files: [`File::register`], and the read and write every
//! positional method of [`File`] goes through, which pick registered
//! (`READ_FIXED`, `types::Fixed`) or plain ops for this worker's ring.

use super::File;
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::op::{fixed_for, FixedFile, Op, SharedFd};

impl File {
    /// Puts the file in the current worker's registered-file table
    /// (`IORING_REGISTER_FILES_UPDATE` into a sparse table), so its reads and
    /// writes on this worker name the slot (`types::Fixed`) and skip the
    /// kernel's per-op descriptor lookup. Returns whether it is registered now.
    ///
    /// A refusal is never an error: the file keeps working with its plain
    /// descriptor, and [`runtime::metrics()`](crate::metrics) says why
    /// (`registration_note`). On the epoll driver, outside a runtime, and on
    /// a worker other than the one that registered it, the file uses its
    /// plain descriptor.
    ///
    /// The slot is emptied when the file is closed or dropped, once no
    /// operation in flight names it any more; dropped on another thread, the
    /// slot is emptied at the owning worker's next registration.
    ///
    /// ```
    /// # runtime::block_on(async {
    /// # let path = std::env::temp_dir().join(format!("rt-doc-register-{}", std::process::id()));
    /// # runtime::fs::write(&path, b"registered".to_vec()).await?;
    /// let mut file = runtime::fs::File::open(&path).await?;
    /// let registered = file.register();
    /// assert_eq!(registered, file.is_registered());
    /// let (n, buf) = file.read_at(Vec::with_capacity(16), 0).await;
    /// assert_eq!(&buf[..n?], b"registered");
    /// # runtime::fs::remove_file(&path).await?;
    /// # Ok::<(), std::io::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn register(&mut self) -> bool {
        if self.fixed.is_none() {
            self.fixed = FixedFile::register(self.fd.raw()).ok();
        }
        self.fixed.is_some()
    }

    /// Whether [`register`](File::register) put the file in a ring's table.
    pub fn is_registered(&self) -> bool {
        self.fixed.is_some()
    }
}

/// A read at `pos` on the current worker, through whatever of `file` and
/// `buf` is registered with its ring.
pub(super) async fn read_at<B: IoBufMut>(
    fd: SharedFd,
    file: Option<FixedFile>,
    buf: B,
    pos: u64,
) -> BufResult<usize, B> {
    match fixed_for(file, &buf) {
        Some(fixed) => Op::read_fixed_at(fd, fixed, buf, pos).await,
        None => Op::read_at(&fd, buf, pos).await,
    }
}

/// A write at `pos` on the current worker, through whatever of `file` and
/// `buf` is registered with its ring.
pub(super) async fn write_at<B: IoBuf>(
    fd: SharedFd,
    file: Option<FixedFile>,
    buf: B,
    pos: u64,
) -> BufResult<usize, B> {
    match fixed_for(file, &buf) {
        Some(fixed) => Op::write_fixed_at(fd, fixed, buf, pos).await,
        None => Op::write_at(&fd, buf, pos).await,
    }
}
