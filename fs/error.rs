//! Errors that name the path they are about, keeping the OS error's kind and errno.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

/// An OS error from a path operation, with the operation and path(s).
///
/// Wrapped in an `io::Error` of the same [`kind`](io::Error::kind); the OS
/// error (with its `raw_os_error()`) is the wrapper's
/// [`source`](std::error::Error::source).
#[derive(Debug)]
struct PathError {
    /// The operation, as in `open` or `rename`.
    op: &'static str,
    /// The path the operation was given.
    path: PathBuf,
    /// The second path of a two-path operation (rename, link, copy).
    to: Option<PathBuf>,
    /// What the kernel said.
    err: io::Error,
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op, self.path.display())?;
        if let Some(to) = &self.to {
            write!(f, " -> {}", to.display())?;
        }
        write!(f, ": {}", self.err)
    }
}

impl std::error::Error for PathError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.err)
    }
}

/// `err`, as "`op` `path`: `err`" with the same kind. Errors that already
/// name their input (a NUL byte in the path) pass through unchanged.
pub(crate) fn with_path(op: &'static str, path: &Path, err: io::Error) -> io::Error {
    wrap(op, path, None, err)
}

/// Like [`with_path`], for operations on two paths: "`op` `from` -> `to`: `err`".
pub(crate) fn with_paths(op: &'static str, from: &Path, to: &Path, err: io::Error) -> io::Error {
    wrap(op, from, Some(to), err)
}

fn wrap(op: &'static str, path: &Path, to: Option<&Path>, err: io::Error) -> io::Error {
    if err.raw_os_error().is_none() {
        return err; // our own message, which says what is wrong already
    }
    io::Error::new(
        err.kind(),
        PathError {
            op,
            path: path.to_path_buf(),
            to: to.map(Path::to_path_buf),
            err,
        },
    )
}

/// The errno behind an error from this module: the error's own
/// `raw_os_error()`, or that of the OS error it wraps.
///
/// Path functions add the path to their errors' messages, which `io::Error`
/// can only do by wrapping the OS error; this digs it out again.
///
/// ```
/// # runtime::block_on(async {
/// let err = runtime::fs::metadata("/no/such/file").await.unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
/// assert_eq!(runtime::fs::raw_os_error(&err), Some(libc::ENOENT));
/// assert!(err.to_string().contains("/no/such/file"));
/// # });
/// ```
pub fn raw_os_error(err: &io::Error) -> Option<i32> {
    err.raw_os_error().or_else(|| {
        let inner = std::error::Error::source(err)?;
        inner.downcast_ref::<io::Error>()?.raw_os_error()
    })
}
