//! A regular file's reply: pick the representation (a precompressed sibling
//! or the file), evaluate the preconditions, then 200, 206, 304, 412 or 416,
//! with the body inline or zero-copy.

use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use runtime::buf::IoBuf;
use runtime::fs::{File, Metadata};

use crate::conditional::{self, Outcome, Validators};
use crate::encoding::{self, Coding};
use crate::handler::{Body, Reply};
use crate::mime;
use crate::open_cache::{OpenCache, Siblings};
use crate::range::{parse_range, RangeOutcome};
use crate::request::{Method, Request};
use crate::response::{self, ContentRange, ResponseHeaders, Status};

/// Bodies up to this size are read into the reply and sent with the head in
/// one `send`; copying a few KiB costs less than a second send plus the
/// residency check and `sendfile` of the zero-copy path. Larger bodies go
/// zero-copy from the page cache to the socket.
const INLINE_BODY: u64 = 16 * 1024;

/// Serves the file `rel` (opened as `file`), or its precompressed sibling.
pub(crate) async fn serve(
    req: &Request,
    dir: &File,
    files: &OpenCache,
    rel: &str,
    file: Rc<File>,
    meta: Metadata,
    mut h: ResponseHeaders<'_>,
) -> Reply {
    let head_only = req.method == Method::Head;
    // The Content-Type is the original's, whichever representation is sent.
    let content_type = mime::content_type(rel);
    h.content_type = Some(&content_type);
    let siblings = files.siblings(dir, rel);
    let sibling = precompressed(req, dir, files, rel, siblings).await;
    let (file, meta, coding, repr) = match sibling {
        Some((f, m, c, name)) => (f, m, Some(c), name),
        None => (file, meta, None, rel.to_string()),
    };
    h.content_encoding = coding.map(Coding::token);
    h.vary_encoding = coding.is_some() || siblings.is_some_and(Siblings::any);
    let len = meta.len();
    let etag = conditional::etag(&meta, coding.map(Coding::token));
    h.etag = Some(&etag);
    h.last_modified = meta.modified().ok();
    h.accept_ranges = true;
    let validators = Validators {
        etag: &etag,
        last_modified: h.last_modified,
        now: h.now,
    };
    let honour_range = match conditional::evaluate(&req.preconditions(), &validators) {
        Outcome::Proceed { honour_range } => honour_range,
        Outcome::NotModified => {
            return empty(
                response::head(Status::NotModified, &h),
                &h,
                Status::NotModified,
            )
        }
        Outcome::PreconditionFailed => {
            return Reply::error(Status::PreconditionFailed, &h, head_only)
        }
    };
    let range = match req.range.as_deref() {
        Some(r) if honour_range => parse_range(r, len),
        _ => RangeOutcome::Full,
    };
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
        return empty(head, &h, status);
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
            status,
            body_len: count,
        };
    }
    let reply = |head| Reply {
        head,
        body: Body::Empty,
        close: h.close,
        status,
        body_len: count,
    };
    // `count` fits in memory: at most INLINE_BODY.
    let (start, end) = (offset as usize, (offset + count) as usize);
    if let Some(bytes) = files.body(&repr, &meta) {
        let mut head = head;
        head.extend_from_slice(&bytes[start..end]);
        return reply(head);
    }
    let at = head.len();
    let (res, head) = read_body(&file, head, offset, count as usize).await;
    match res {
        Ok(()) => {
            if count == len {
                // The whole (small) file: keep it for the next requests.
                files.set_body(&repr, &meta, &head[at..]);
            }
            reply(head)
        }
        // The file shrank under us: nothing was sent yet, so say so.
        Err(_) => Reply::error(Status::InternalServerError, &h, head_only),
    }
}

/// A reply that is only its head.
fn empty(head: Vec<u8>, h: &ResponseHeaders<'_>, status: Status) -> Reply {
    Reply {
        head,
        body: Body::Empty,
        close: h.close,
        status,
        body_len: 0,
    }
}

/// The best precompressed sibling of `rel` the request accepts, if one exists
/// as a regular file, with its path. Looked for only when the client accepts
/// a coding and `siblings` (the open-file table's knowledge) does not rule it out.
async fn precompressed(
    req: &Request,
    dir: &File,
    files: &OpenCache,
    rel: &str,
    siblings: Option<Siblings>,
) -> Option<(Rc<File>, Metadata, Coding, String)> {
    let accepted = encoding::accepted(req.accept_encoding.as_deref()?);
    for coding in accepted {
        if siblings.is_some_and(|s| !s.has(coding)) {
            continue; // known not to exist: no failing open
        }
        let name = format!("{rel}{}", coding.suffix());
        if let Ok((file, meta)) = files.open(dir, &name).await {
            if meta.is_file() {
                return Some((file, meta, coding, name));
            }
        }
    }
    None
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
