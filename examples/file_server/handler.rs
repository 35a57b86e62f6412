//! From a parsed request to a reply: check the method, resolve the path
//! beneath the root, open and stat, then a file, a redirect, a listing or an
//! error.

use std::io;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::SystemTime;

use runtime::fs::{File, Metadata};

use crate::config::Config;
use crate::open_cache::OpenCache;
use crate::request::{Method, Request};
use crate::response::{self, ResponseHeaders, Status};
use crate::{file_reply, listing, path};

/// What follows the head.
pub(crate) enum Body {
    /// Nothing (HEAD, 304, or a body already appended to the head).
    Empty,
    /// `len` bytes of `file` from `offset`, sent zero-copy.
    File {
        file: Rc<File>,
        offset: u64,
        len: u64,
    },
}

/// A response ready to send.
pub(crate) struct Reply {
    /// Status line and headers, possibly followed by a small body.
    pub(crate) head: Vec<u8>,
    /// A large body to send after the head.
    pub(crate) body: Body,
    /// Close the connection after this reply.
    pub(crate) close: bool,
    /// The status sent, for the access log.
    pub(crate) status: Status,
    /// Body bytes sent, for the access log.
    pub(crate) body_len: u64,
}

impl Reply {
    /// An error page (or a redirect, with `h.location`).
    pub(crate) fn error(status: Status, h: &ResponseHeaders<'_>, head_only: bool) -> Reply {
        let head = response::error_page(status, h, head_only);
        let body_len = if head_only {
            0
        } else {
            response::error_body(status).len() as u64
        };
        Reply {
            head,
            body: Body::Empty,
            close: h.close || status.closes_connection(),
            status,
            body_len,
        }
    }
}

/// Answers one request against the directory `dir`.
pub(crate) async fn respond(req: &Request, dir: &File, cfg: &Config, files: &OpenCache) -> Reply {
    let head_only = req.method == Method::Head;
    let mut h = ResponseHeaders::new(SystemTime::now());
    h.close = !req.keep_alive || req.has_body;
    match req.method {
        Method::Get | Method::Head => {}
        Method::NotAllowed => return Reply::error(Status::MethodNotAllowed, &h, head_only),
        Method::Unknown => return Reply::error(Status::NotImplemented, &h, head_only),
    }
    if req.has_body {
        return Reply::error(Status::PayloadTooLarge, &h, head_only);
    }
    let rel = match path::resolve(&req.target) {
        Ok(rel) => rel,
        Err(path::Status::BadRequest) => return Reply::error(Status::BadRequest, &h, head_only),
        Err(path::Status::Forbidden) => return Reply::error(Status::Forbidden, &h, head_only),
    };
    if !cfg.show_hidden && path::is_hidden(&rel) {
        return Reply::error(Status::NotFound, &h, head_only);
    }
    let (file, meta) = match files
        .open(dir, if rel.is_empty() { "." } else { &rel })
        .await
    {
        Ok(found) => found,
        Err(e) => return Reply::error(status_for(&e), &h, head_only),
    };
    let slash = path::has_trailing_slash(&req.target);
    if meta.is_dir() {
        if !rel.is_empty() && !slash {
            // Relative links in the listing (or index.html) need the slash.
            let mut location = listing::dir_url(&rel);
            if let Some(q) = path::query(&req.target) {
                location.push('?');
                location.push_str(q);
            }
            h.location = Some(&location);
            return Reply::error(Status::MovedPermanently, &h, head_only);
        }
        let index = if rel.is_empty() {
            "index.html".to_string()
        } else {
            format!("{rel}/index.html")
        };
        if let Ok((index_file, index_meta)) = files.open(dir, &index).await {
            if index_meta.is_file() {
                return file_reply::serve(req, dir, files, &index, index_file, index_meta, h).await;
            }
        }
        return match list(&file, &rel, cfg.show_hidden).await {
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
                    status: Status::Ok,
                    body_len: if head_only { 0 } else { page.len() as u64 },
                }
            }
            Err(_) => Reply::error(Status::InternalServerError, &h, head_only),
        };
    }
    if slash || !meta.is_file() {
        // `/file.txt/` names nothing; devices, sockets and FIFOs are not served.
        let status = if slash {
            Status::NotFound
        } else {
            Status::Forbidden
        };
        return Reply::error(status, &h, head_only);
    }
    file_reply::serve(req, dir, files, &rel, file, meta, h).await
}

/// Opens `rel` beneath `dir`; symlinks and `..` cannot leave it.
///
/// `O_NONBLOCK` so that opening a FIFO never waits for a writer. It stays set
/// on regular files: sendfile and splice ignore it on the file side, and so
/// does io_uring's read wherever the filesystem supports non-blocking reads
/// (it then still hands a page-cache miss to io-wq); `file_reply::read_body`
/// clears it where a read says otherwise. The metadata comes from the inode in
/// memory, on this thread (`IORING_OP_STATX` would be a trip to an io-wq thread).
pub(crate) async fn open(dir: &File, rel: &str) -> io::Result<(File, Metadata)> {
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open_beneath(dir, rel)
        .await?;
    let meta = file.cached_metadata()?;
    Ok((file, meta))
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

/// An HTML listing of the opened directory `dir` (read through its fd, so
/// what is listed is what was opened beneath the root); dotfiles only with
/// `show_hidden`.
async fn list(dir: &File, rel: &str, show_hidden: bool) -> io::Result<String> {
    let mut entries = Vec::new();
    let mut rd = runtime::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd())).await?;
    while let Some(entry) = rd.next_entry().await? {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !show_hidden && name.starts_with('.') {
            continue;
        }
        let (is_dir, size) = match entry.metadata().await {
            Ok(m) => (m.is_dir(), m.len()),
            Err(_) => (false, 0),
        };
        entries.push((name, is_dir, size));
    }
    Ok(listing::directory_listing(rel, &entries))
}
