//! From a parsed request to a reply: resolve the path beneath the root, open,
//! stat, and pick the status, headers and body.

use std::io;
use std::os::fd::AsRawFd;
use std::time::SystemTime;

use runtime::buf::IoBuf;
use runtime::fs::{File, Metadata};

use crate::range::{parse_range, RangeOutcome};
use crate::request::{Method, Request};
use crate::response::{self, ContentRange, ResponseHeaders, Status};
use crate::{date, listing, mime, path};

/// Bodies up to this size are read into the reply and sent with the head in
/// one `send`; copying a few KiB costs less than a second send plus the
/// residency check and `sendfile` of the zero-copy path. Larger bodies go
/// zero-copy from the page cache to the socket.
const INLINE_BODY: u64 = 16 * 1024;

/// What follows the head.
pub(crate) enum Body {
    /// Nothing (HEAD, 304, or a body already appended to the head).
    Empty,
    /// `len` bytes of `file` from `offset`, sent zero-copy.
    File { file: File, offset: u64, len: u64 },
}

/// A response ready to send.
pub(crate) struct Reply {
    /// Status line and headers, possibly followed by a small body.
    pub(crate) head: Vec<u8>,
    /// A large body to send after the head.
    pub(crate) body: Body,
    /// Close the connection after this reply.
    pub(crate) close: bool,
}

impl Reply {
    fn error(status: Status, h: &ResponseHeaders<'_>, head_only: bool) -> Reply {
        Reply {
            head: response::error_page(status, h, head_only),
            body: Body::Empty,
            close: h.close || status.closes_connection(),
        }
    }
}

/// Answers one request against the directory `dir`.
pub(crate) async fn respond(req: &Request, dir: &File) -> Reply {
    let head_only = req.method == Method::Head;
    let mut h = ResponseHeaders::new(SystemTime::now());
    h.close = !req.keep_alive || req.has_body;
    if req.has_body {
        return Reply::error(Status::PayloadTooLarge, &h, head_only);
    }
    if req.method == Method::Other {
        return Reply::error(Status::MethodNotAllowed, &h, head_only);
    }
    let rel = match path::resolve(&req.target) {
        Ok(rel) => rel,
        Err(status) => return Reply::error(status, &h, head_only),
    };
    let (file, meta) = match open(dir, if rel.is_empty() { "." } else { &rel }).await {
        Ok(found) => found,
        Err(e) => return Reply::error(status_for(&e), &h, head_only),
    };
    if meta.is_dir() {
        let index = if rel.is_empty() {
            "index.html".to_string()
        } else {
            format!("{rel}/index.html")
        };
        if let Ok((index_file, index_meta)) = open(dir, &index).await {
            if index_meta.is_file() {
                return serve_file(req, index_file, &index_meta, "index.html", h).await;
            }
        }
        return match list(&file, &rel).await {
            Ok(page) => {
                h.content_length = page.len() as u64;
                h.content_type = Some(response::HTML);
                let mut head = response::head(Status::Ok, &h);
                if !head_only {
                    head.extend_from_slice(page.as_bytes());
                }
                Reply {
                    head,
                    body: Body::Empty,
                    close: h.close,
                }
            }
            Err(_) => Reply::error(Status::InternalServerError, &h, head_only),
        };
    }
    if !meta.is_file() {
        // Devices, sockets and FIFOs are not files to serve.
        return Reply::error(Status::Forbidden, &h, head_only);
    }
    serve_file(req, file, &meta, &rel, h).await
}

/// Opens `rel` beneath `dir`; symlinks and `..` cannot leave it.
///
/// `O_NONBLOCK` so that opening a FIFO never waits for a writer. It stays set
/// on regular files: sendfile and splice ignore it on the file side, and so
/// does io_uring's read wherever the filesystem supports non-blocking reads
/// (it then still hands a page-cache miss to io-wq); [`read_body`] clears it
/// where a read says otherwise. The metadata comes from the inode in memory,
/// on this thread (`IORING_OP_STATX` would be a trip to an io-wq thread).
async fn open(dir: &File, rel: &str) -> io::Result<(File, Metadata)> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open_beneath(dir, rel)
        .await?;
    let meta = file.cached_metadata()?;
    Ok((file, meta))
}

/// Reads `count` bytes of `file` from `offset` onto the end of `head`.
///
/// A read of a regular file opened `O_NONBLOCK` can fail with `EAGAIN` on a
/// page-cache miss where the kernel cannot read without blocking (io_uring
/// on a filesystem without non-blocking reads, older kernels): the flag is
/// cleared then, once, and the read tried again.
async fn read_body(
    file: &File,
    head: Vec<u8>,
    offset: u64,
    count: usize,
) -> (io::Result<()>, Vec<u8>) {
    let start = head.len();
    let mut head = head;
    head.reserve(count);
    let (res, slice) = file
        .read_exact_at(head.slice(start..start + count), offset)
        .await;
    let head = slice.into_inner();
    match res {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
            let fd = file.as_raw_fd();
            // SAFETY: F_GETFL/F_SETFL on a descriptor `file` keeps open; no pointers.
            unsafe {
                let flags = libc::fcntl(fd, libc::F_GETFL);
                if flags < 0 || libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) < 0 {
                    return (Err(io::Error::last_os_error()), head);
                }
            }
            let mut head = head;
            head.truncate(start);
            let (res, slice) = file
                .read_exact_at(head.slice(start..start + count), offset)
                .await;
            (res, slice.into_inner())
        }
        res => (res, head),
    }
}

/// The status for a failed open.
fn status_for(e: &io::Error) -> Status {
    match runtime::fs::raw_os_error(e) {
        Some(libc::ENOENT | libc::ENOTDIR | libc::ENAMETOOLONG) => Status::NotFound,
        // EXDEV/ELOOP: the path tried to leave the root (RESOLVE_BENEATH).
        Some(libc::EXDEV | libc::ELOOP | libc::EACCES | libc::EPERM) => Status::Forbidden,
        _ => Status::InternalServerError,
    }
}

/// A file: 200, 206, 304 or 416, with the body inline or zero-copy.
async fn serve_file(
    req: &Request,
    file: File,
    meta: &Metadata,
    name: &str,
    mut h: ResponseHeaders<'_>,
) -> Reply {
    let head_only = req.method == Method::Head;
    let len = meta.len();
    let mtime = meta.modified().ok();
    h.last_modified = mtime;
    h.accept_ranges = true;
    h.content_type = Some(mime::content_type(name));
    if let (Some(ims), Some(m)) = (req.if_modified_since.as_deref(), mtime) {
        if date::not_modified(m, ims) {
            return Reply {
                head: response::head(Status::NotModified, &h),
                body: Body::Empty,
                close: h.close,
            };
        }
    }
    let range = req
        .range
        .as_deref()
        .map_or(RangeOutcome::Full, |r| parse_range(r, len));
    let (status, offset, count) = match range {
        RangeOutcome::Full => (Status::Ok, 0, len),
        RangeOutcome::Partial {
            start,
            end_inclusive,
        } => {
            h.content_range = Some(ContentRange::Bytes {
                start,
                end: end_inclusive,
                len,
            });
            (Status::PartialContent, start, end_inclusive - start + 1)
        }
        RangeOutcome::Unsatisfiable => {
            h.content_range = Some(ContentRange::Unsatisfied { len });
            return Reply::error(Status::RangeNotSatisfiable, &h, head_only);
        }
    };
    h.content_length = count;
    let head = response::head(status, &h);
    if head_only || count == 0 {
        return Reply {
            head,
            body: Body::Empty,
            close: h.close,
        };
    }
    if count > INLINE_BODY {
        return Reply {
            head,
            body: Body::File {
                file,
                offset,
                len: count,
            },
            close: h.close,
        };
    }
    let (res, head) = read_body(&file, head, offset, count as usize).await;
    match res {
        Ok(()) => Reply {
            head,
            body: Body::Empty,
            close: h.close,
        },
        // The file shrank under us: nothing was sent yet, so say so.
        Err(_) => Reply::error(Status::InternalServerError, &h, head_only),
    }
}

/// An HTML listing of the opened directory `dir` (read through its fd, so
/// what is listed is what was opened beneath the root).
async fn list(dir: &File, rel: &str) -> io::Result<String> {
    let mut entries = Vec::new();
    let mut rd = runtime::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd())).await?;
    while let Some(entry) = rd.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        let (is_dir, size) = match entry.metadata().await {
            Ok(m) => (m.is_dir(), m.len()),
            Err(_) => (false, 0),
        };
        entries.push((name, is_dir, size));
    }
    Ok(listing::directory_listing(rel, &entries))
}
