//! `ServeDir`: a directory as a tower service, for an axum `Router`
//! (`nest_service`, `fallback_service`), on runtime's `fs`: paths resolved
//! and opened beneath the root (`openat2(RESOLVE_BENEATH)`), strong ETags and
//! RFC 9110 conditional requests, single byte ranges, precompressed `.br` /
//! `.gz` siblings, `index.html` for directories.

use std::borrow::Cow;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Method, Request, Response, StatusCode};

use super::body::FileBody;
use super::conditional::{self, Outcome, Preconditions, Validators};
use super::encoding::{self, Coding};
use super::range::{parse_range, RangeOutcome};
use super::{date, mime, path};
use crate::fs::{File, Metadata};

/// Files up to this size are read whole before the response starts (one
/// read); larger ones are streamed.
const READ_WHOLE: u64 = 64 * 1024;

/// Serves the files under a directory: what tower-http's `ServeDir` does,
/// on runtime's `fs` (tower-http's uses `tokio::fs` and panics on a runtime
/// worker). `GET` and `HEAD` only; dotfiles are hidden (404) unless
/// [`show_hidden`](ServeDir::show_hidden); no request reaches outside the
/// directory, whether by `..`, an encoded `..` or a symlink.
///
/// ```no_run
/// # #[cfg(feature = "hyper")]
/// # fn f() -> std::io::Result<()> {
/// use axum::{routing::get, Router};
/// use runtime::http::ServeDir;
///
/// let app: Router = Router::new()
///     .route("/api", get(|| async { "api" }))
///     .nest_service("/static", ServeDir::new("public")?.precompressed(true));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ServeDir {
    /// Shared by the clones each worker and connection gets.
    inner: Arc<Inner>,
}

/// See [`ServeDir`].
#[derive(Debug)]
struct Inner {
    /// The root directory, opened once; every path is opened beneath it.
    root: File,
    /// Look for `.br` / `.gz` siblings the client accepts.
    precompressed: bool,
    /// Serve dotfiles and dot-directories.
    show_hidden: bool,
}

impl ServeDir {
    /// Serves the directory `root`, which is opened now (a blocking open
    /// of one directory, at set-up).
    ///
    /// # Errors
    ///
    /// When `root` cannot be opened as a directory.
    pub fn new(root: impl AsRef<Path>) -> io::Result<Self> {
        let dir = std::fs::File::open(root.as_ref())?;
        if !dir.metadata()?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "ServeDir needs a directory",
            ));
        }
        Ok(ServeDir {
            inner: Arc::new(Inner {
                root: File::from_std(dir),
                precompressed: false,
                show_hidden: false,
            }),
        })
    }

    /// Serves `name.br` or `name.gz` instead of `name` when it exists and
    /// the client accepts that coding (`Content-Encoding`, `Vary`).
    pub fn precompressed(mut self, on: bool) -> Self {
        self.inner_mut().precompressed = on;
        self
    }

    /// Serves dotfiles too.
    pub fn show_hidden(mut self, on: bool) -> Self {
        self.inner_mut().show_hidden = on;
        self
    }

    /// The settings, before the service is cloned.
    fn inner_mut(&mut self) -> &mut Inner {
        match Arc::get_mut(&mut self.inner) {
            Some(inner) => inner,
            None => unreachable!("settings are made on the only ServeDir"),
        }
    }
}

/// The future of a [`ServeDir`] response (`Send`, as axum requires).
pub type ServeDirFuture =
    Pin<Box<dyn Future<Output = Result<Response<FileBody>, Infallible>> + Send>>;

impl<B> tower_service::Service<Request<B>> for ServeDir {
    type Response = Response<FileBody>;
    type Error = Infallible;
    type Future = ServeDirFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> ServeDirFuture {
        let inner = self.inner.clone();
        let (parts, _body) = req.into_parts();
        Box::pin(
            async move { Ok(respond(&inner, &parts.method, &parts.uri, &parts.headers).await) },
        )
    }
}

/// An empty response with `status`.
fn status(status: StatusCode) -> Response<FileBody> {
    let mut res = Response::new(FileBody::default());
    *res.status_mut() = status;
    res
}

/// The status for a failed open or stat.
fn status_for(e: &io::Error) -> StatusCode {
    // Path errors carry the path in their message: the errno is inside.
    match crate::fs::raw_os_error(e) {
        Some(libc::ENOENT | libc::ENOTDIR | libc::ENAMETOOLONG) => StatusCode::NOT_FOUND,
        Some(libc::EXDEV | libc::ELOOP | libc::EACCES | libc::EPERM) => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A header's value as text, if it is there and is text; a list field
/// given more than once counts as absent here (rare; the file server joins).
fn text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Opens `rel` beneath the root and stats it, as the file server does:
/// `O_NONBLOCK` so that opening a FIFO never waits for a writer (reads of
/// regular files ignore it), and the metadata from the inode in memory, on
/// this thread (a statx op would be a trip to a kernel worker on io_uring,
/// to the blocking pool on epoll).
async fn open(root: &File, rel: &str) -> io::Result<(File, Metadata)> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open_beneath(root, if rel.is_empty() { "." } else { rel })
        .await?;
    let meta = file.cached_metadata()?;
    Ok((file, meta))
}

/// The response to one request.
async fn respond(
    inner: &Inner,
    method: &Method,
    uri: &http::Uri,
    h: &HeaderMap,
) -> Response<FileBody> {
    let head_only = method == Method::HEAD;
    if method != Method::GET && !head_only {
        let mut res = status(StatusCode::METHOD_NOT_ALLOWED);
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return res;
    }
    let target = uri.path_and_query().map_or("/", |p| p.as_str());
    let mut rel = match path::resolve(target) {
        Ok(rel) => rel,
        Err(path::Status::BadRequest) => return status(StatusCode::BAD_REQUEST),
        Err(path::Status::Forbidden) => return status(StatusCode::FORBIDDEN),
    };
    if !inner.show_hidden && path::is_hidden(&rel) {
        return status(StatusCode::NOT_FOUND);
    }
    let (mut file, mut meta) = match open(&inner.root, &rel).await {
        Ok(found) => found,
        Err(e) => return status(status_for(&e)),
    };
    if meta.is_dir() {
        if !rel.is_empty() && !path::has_trailing_slash(target) {
            // Relative links in index.html need the slash. The Location is
            // relative (the last segment and a slash), so it stays right
            // when a router strips a prefix before the service sees the path.
            let last = uri.path().rsplit('/').next().unwrap_or_default();
            let mut location = format!("{last}/");
            if let Some(q) = uri.query() {
                location.push('?');
                location.push_str(q);
            }
            let mut res = status(StatusCode::MOVED_PERMANENTLY);
            if let Ok(v) = HeaderValue::from_str(&location) {
                res.headers_mut().insert(header::LOCATION, v);
            }
            return res;
        }
        rel = if rel.is_empty() {
            "index.html".into()
        } else {
            format!("{rel}/index.html")
        };
        (file, meta) = match open(&inner.root, &rel).await {
            Ok(found) => found,
            Err(e) => return status(status_for(&e)),
        };
    } else if path::has_trailing_slash(target) {
        return status(StatusCode::NOT_FOUND);
    }
    if !meta.is_file() {
        return status(StatusCode::NOT_FOUND);
    }
    let content_type = mime::content_type(&rel);
    let mut coding = None;
    if inner.precompressed {
        if let Some((f, m, c)) = precompressed(inner, h, &rel).await {
            (file, meta, coding) = (f, m, Some(c));
        }
    }
    let etag = conditional::etag(&meta, coding.map(Coding::token));
    let now = SystemTime::now();
    let validators = Validators {
        etag: &etag,
        last_modified: meta.modified().ok(),
        now,
    };
    let pre = Preconditions {
        if_match: text(h, header::IF_MATCH),
        if_unmodified_since: text(h, header::IF_UNMODIFIED_SINCE),
        if_none_match: text(h, header::IF_NONE_MATCH),
        if_modified_since: text(h, header::IF_MODIFIED_SINCE),
        range: text(h, header::RANGE),
        if_range: text(h, header::IF_RANGE),
    };
    let mut res = Response::new(FileBody::default());
    let out = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
        out.insert(header::ETAG, v);
    }
    if let Some(lm) = validators.last_modified {
        if let Ok(v) = HeaderValue::from_str(&date::HttpDate(lm).to_string()) {
            out.insert(header::LAST_MODIFIED, v);
        }
    }
    if inner.precompressed {
        out.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    let honour_range = match conditional::evaluate(&pre, &validators) {
        Outcome::Proceed { honour_range } => honour_range,
        Outcome::NotModified => {
            *res.status_mut() = StatusCode::NOT_MODIFIED;
            return res;
        }
        Outcome::PreconditionFailed => return status(StatusCode::PRECONDITION_FAILED),
    };
    let content_type = match content_type {
        Cow::Borrowed(t) => Ok(HeaderValue::from_static(t)),
        Cow::Owned(t) => HeaderValue::try_from(t),
    };
    if let Ok(v) = content_type {
        out.insert(header::CONTENT_TYPE, v);
    }
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(c) = coding {
        out.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_static(c.token()),
        );
    }
    let len = meta.len();
    let (start, count) = match pre
        .range
        .filter(|_| honour_range)
        .map(|r| parse_range(r, len))
    {
        None | Some(RangeOutcome::Full) => (0, len),
        Some(RangeOutcome::Partial {
            start,
            end_inclusive,
        }) => {
            *res.status_mut() = StatusCode::PARTIAL_CONTENT;
            let range = format!("bytes {start}-{end_inclusive}/{len}");
            if let Ok(v) = HeaderValue::from_str(&range) {
                res.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            (start, end_inclusive - start + 1)
        }
        Some(RangeOutcome::Unsatisfiable) => {
            let mut res = status(StatusCode::RANGE_NOT_SATISFIABLE);
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                res.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return res;
        }
    };
    res.headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    if head_only || count == 0 {
        return res;
    }
    if count > READ_WHOLE {
        *res.body_mut() = FileBody::stream(file, start, start + count);
        return res;
    }
    let (read, buf) = file
        .read_exact_at(Vec::with_capacity(count as usize), start)
        .await;
    match read {
        Ok(()) => {
            *res.body_mut() = FileBody::full(Bytes::from(buf));
            res
        }
        Err(_) => status(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// A read of a regular file opened `O_NONBLOCK` can fail with `EAGAIN` on a
/// page-cache miss where the kernel cannot read without blocking (io_uring
/// on a filesystem without non-blocking reads, older kernels): the flag is
/// then cleared, and the read tried again (as the file server does).
pub(crate) fn clear_nonblocking(file: &File) -> io::Result<()> {
    let fd = std::os::fd::AsRawFd::as_raw_fd(file);
    // SAFETY: F_GETFL/F_SETFL on a descriptor `file` keeps open; no pointers.
    let done = unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        flags >= 0 && libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) >= 0
    };
    if done {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// The best precompressed sibling of `rel` the request accepts, if one
/// exists as a regular file.
async fn precompressed(
    inner: &Inner,
    h: &HeaderMap,
    rel: &str,
) -> Option<(File, Metadata, Coding)> {
    for coding in encoding::accepted(text(h, header::ACCEPT_ENCODING)?) {
        let name = format!("{rel}{}", coding.suffix());
        if let Ok((file, meta)) = open(&inner.root, &name).await {
            if meta.is_file() {
                return Some((file, meta, coding));
            }
        }
    }
    None
}
