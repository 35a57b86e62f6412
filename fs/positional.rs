//! The futures of [`File`]'s positional reads and writes (`ReadAt`,
//! `WriteAt`), which pick registered (`READ_FIXED`, `types::Fixed`) or
//! plain ops for the worker they run on, and [`File::register`], which
//! makes a file's ops name its slot in the ring's table.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::File;
use crate::buf::{BufResult, IoBuf, IoBufMut};
use crate::op::{Fixed, FixedFile, Op, Read, ReadFixed, Write, WriteFixed};
use crate::sys::SharedFd;

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
    /// operation in flight names it any more, by the worker that registered
    /// it: at once on that worker, and in its next turn (it is woken for
    /// it) from another thread. Until then the kernel keeps the file open;
    /// [`close`](File::close) waits for it.
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
            self.fixed = FixedFile::register(&self.fd).ok();
        }
        self.fixed.is_some()
    }

    /// Whether [`register`](File::register) put the file in a ring's table.
    pub fn is_registered(&self) -> bool {
        self.fixed.is_some()
    }
}

/// Defines the future of one positional transfer: a plain op when neither
/// the file nor the buffer is registered anywhere (the common case costs
/// what it always did), otherwise an op that names whichever of them the
/// submitting ring has registered (`Fixed::bind`). A hand-written enum, not
/// an `async` block, so the future stays the size of its op.
macro_rules! positional {
    ($(#[$doc:meta])* $name:ident<B: $bound:ident>, $plain:ident: $plain_ty:ident, $fixed:ident: $fixed_ty:ident) => {
        $(#[$doc])*
        pub(super) enum $name<B: $bound> {
            /// A plain op.
            Plain(Op<$plain_ty<B>>),
            /// An op that may name registered slots.
            Fixed(Op<$fixed_ty<B>>),
            /// Refused before any op (a bad offset); `None` once returned.
            Failed(Option<(io::Error, B)>),
        }

        impl<B: $bound> $name<B> {
            /// The transfer of `buf` at `pos` on `fd`, registered as `file` says.
            #[inline]
            pub(super) fn new(
                fd: &SharedFd,
                file: Option<&FixedFile>,
                buf: B,
                pos: io::Result<u64>,
            ) -> Self {
                match pos {
                    Err(e) => Self::Failed(Some((e, buf))),
                    Ok(pos) => match Fixed::of(fd, file, &buf) {
                        None => Self::Plain(Op::$plain(fd, buf, pos)),
                        Some(fixed) => Self::Fixed(Op::$fixed(fixed, buf, pos)),
                    },
                }
            }
        }

        impl<B: $bound> Future for $name<B> {
            type Output = BufResult<usize, B>;

            #[inline]
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
                // Every field is `Unpin` (`IoBuf: Unpin`, `Op: Unpin`).
                match self.get_mut() {
                    Self::Plain(op) => Pin::new(op).poll(cx),
                    Self::Fixed(op) => Pin::new(op).poll(cx),
                    Self::Failed(failed) => match failed.take() {
                        Some((e, buf)) => Poll::Ready((Err(e), buf)),
                        None => Poll::Pending, // polled after it returned
                    },
                }
            }
        }
    };
}

positional!(
    /// The future of [`File::read_at`] (and each read of `read_exact_at`).
    ReadAt<B: IoBufMut>, read_at: Read, read_fixed_at: ReadFixed
);

positional!(
    /// The future of [`File::write_at`] (and each write of `write_all_at`).
    WriteAt<B: IoBuf>, write_at: Write, write_fixed_at: WriteFixed
);
