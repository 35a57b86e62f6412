//! Status codes, response heads and the small HTML error pages, written straight into a `Vec<u8>`.

use std::io::Write;
use std::time::SystemTime;

use crate::date::{self, HttpDate};

/// The only statuses this server ever sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Ok,
    PartialContent,
    MovedPermanently,
    NotModified,
    BadRequest,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    PreconditionFailed,
    PayloadTooLarge,
    UriTooLong,
    RangeNotSatisfiable,
    HeaderFieldsTooLarge,
    InternalServerError,
    NotImplemented,
    HttpVersionNotSupported,
}

impl Status {
    /// The three-digit code of the status line.
    pub(crate) fn code(self) -> u16 {
        match self {
            Status::Ok => 200,
            Status::PartialContent => 206,
            Status::MovedPermanently => 301,
            Status::NotModified => 304,
            Status::BadRequest => 400,
            Status::Forbidden => 403,
            Status::NotFound => 404,
            Status::MethodNotAllowed => 405,
            Status::PreconditionFailed => 412,
            Status::PayloadTooLarge => 413,
            Status::UriTooLong => 414,
            Status::RangeNotSatisfiable => 416,
            Status::HeaderFieldsTooLarge => 431,
            Status::InternalServerError => 500,
            Status::NotImplemented => 501,
            Status::HttpVersionNotSupported => 505,
        }
    }

    /// The reason phrase of the status line.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::PartialContent => "Partial Content",
            Status::MovedPermanently => "Moved Permanently",
            Status::NotModified => "Not Modified",
            Status::BadRequest => "Bad Request",
            Status::Forbidden => "Forbidden",
            Status::NotFound => "Not Found",
            Status::MethodNotAllowed => "Method Not Allowed",
            Status::PreconditionFailed => "Precondition Failed",
            Status::PayloadTooLarge => "Payload Too Large",
            Status::UriTooLong => "URI Too Long",
            Status::RangeNotSatisfiable => "Range Not Satisfiable",
            Status::HeaderFieldsTooLarge => "Request Header Fields Too Large",
            Status::InternalServerError => "Internal Server Error",
            Status::NotImplemented => "Not Implemented",
            Status::HttpVersionNotSupported => "HTTP Version Not Supported",
        }
    }

    /// After these the request stream can no longer be framed (bad or oversized head, unread
    /// body), so the connection must close; `write_head` then always says `Connection: close`.
    pub(crate) fn closes_connection(self) -> bool {
        matches!(
            self,
            Status::BadRequest
                | Status::PayloadTooLarge
                | Status::UriTooLong
                | Status::HeaderFieldsTooLarge
                | Status::InternalServerError
                | Status::NotImplemented
                | Status::HttpVersionNotSupported
        )
    }
}

/// The value of `Content-Range`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentRange {
    /// For 206: `bytes start-end/len`, `end` inclusive.
    Bytes { start: u64, end: u64, len: u64 },
    /// For 416: `bytes */len`.
    Unsatisfied { len: u64 },
}

/// Everything in a head besides the status; `Server` and `Accept-Ranges` values are fixed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResponseHeaders<'a> {
    /// Sent as `Date`; passed in so heads stay pure and testable.
    pub(crate) now: SystemTime,
    /// Body length (for HEAD: what GET would send); not written on 304, which has no body.
    pub(crate) content_length: u64,
    /// Not written on 304.
    pub(crate) content_type: Option<&'a str>,
    /// The file's mtime; a time after `now` is sent as `now` (RFC 9110 §8.8.2.1).
    pub(crate) last_modified: Option<SystemTime>,
    /// For 206 and 416 only.
    pub(crate) content_range: Option<ContentRange>,
    /// Advertise `Accept-Ranges: bytes` (files only, not listings or errors).
    pub(crate) accept_ranges: bool,
    /// The representation's strong validator, quotes included; sent on 200, 206, 304 and 412.
    pub(crate) etag: Option<&'a str>,
    /// `Content-Encoding` of a precompressed sibling (`br`, `gzip`).
    pub(crate) content_encoding: Option<&'static str>,
    /// `Vary: Accept-Encoding`: a precompressed sibling was considered for this response.
    pub(crate) vary_encoding: bool,
    /// `Location`, for 301.
    pub(crate) location: Option<&'a str>,
    /// `Connection: close` instead of `Connection: keep-alive` (the latter keeps HTTP/1.0
    /// keep-alive clients open and is harmless for HTTP/1.1).
    pub(crate) close: bool,
}

impl<'a> ResponseHeaders<'a> {
    /// An empty-bodied, keep-alive head with only `Date` set.
    pub(crate) fn new(now: SystemTime) -> Self {
        ResponseHeaders {
            now,
            content_length: 0,
            content_type: None,
            last_modified: None,
            content_range: None,
            accept_ranges: false,
            etag: None,
            content_encoding: None,
            vary_encoding: false,
            location: None,
            close: false,
        }
    }
}

/// `Content-Type` of error pages and directory listings.
pub(crate) const HTML: &str = "text/html; charset=utf-8";

const SERVER: &str = "runtime-file-server";

/// Appends the status line and headers, ending with the blank line.
pub(crate) fn write_head(out: &mut Vec<u8>, status: Status, h: &ResponseHeaders<'_>) {
    // Writes into a Vec cannot fail, so the io::Result is dropped throughout.
    let _ = write!(
        out,
        "HTTP/1.1 {} {}\r\nServer: {SERVER}\r\nDate: ",
        status.code(),
        status.reason(),
    );
    date::append_http_date(out, h.now);
    out.extend_from_slice(b"\r\n");
    if status != Status::NotModified {
        let _ = write!(out, "Content-Length: {}\r\n", h.content_length);
        if let Some(ct) = h.content_type {
            let _ = write!(out, "Content-Type: {ct}\r\n");
        }
        if let Some(ce) = h.content_encoding {
            let _ = write!(out, "Content-Encoding: {ce}\r\n");
        }
    }
    if let Some(etag) = h.etag {
        let _ = write!(out, "ETag: {etag}\r\n");
    }
    if h.vary_encoding {
        out.extend_from_slice(b"Vary: Accept-Encoding\r\n");
    }
    if let Some(location) = h.location {
        let _ = write!(out, "Location: {location}\r\n");
    }
    if let Some(lm) = h.last_modified {
        let _ = write!(out, "Last-Modified: {}\r\n", HttpDate(lm.min(h.now)));
    }
    if h.accept_ranges {
        out.extend_from_slice(b"Accept-Ranges: bytes\r\n");
    }
    match h.content_range {
        Some(ContentRange::Bytes { start, end, len }) => {
            let _ = write!(out, "Content-Range: bytes {start}-{end}/{len}\r\n");
        }
        Some(ContentRange::Unsatisfied { len }) => {
            let _ = write!(out, "Content-Range: bytes */{len}\r\n");
        }
        None => {}
    }
    if status == Status::MethodNotAllowed {
        out.extend_from_slice(b"Allow: GET, HEAD\r\n");
    }
    if h.close || status.closes_connection() {
        out.extend_from_slice(b"Connection: close\r\n\r\n");
    } else {
        out.extend_from_slice(b"Connection: keep-alive\r\n\r\n");
    }
}

/// The head alone, in a fresh buffer.
pub(crate) fn head(status: Status, h: &ResponseHeaders<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_head(&mut out, status, h);
    out
}

/// The tiny HTML body sent with an error status.
pub(crate) fn error_body(status: Status) -> String {
    format!(
        "<!DOCTYPE html>\n<html><head><title>{0} {1}</title></head>\
         <body><h1>{0} {1}</h1></body></html>\n",
        status.code(),
        status.reason()
    )
}

/// A whole error response: head plus body, or the head alone when `head_only` (HEAD requests).
/// `Content-Length`, `Content-Type` and `Last-Modified` from `h` are replaced by the page's own;
/// `now`, `close` and `content_range` (416 wants `Unsatisfied`) are kept.
pub(crate) fn error_page(status: Status, h: &ResponseHeaders<'_>, head_only: bool) -> Vec<u8> {
    let body = error_body(status);
    let h = ResponseHeaders {
        content_length: body.len() as u64,
        content_type: Some(HTML),
        last_modified: None,
        accept_ranges: false,
        content_encoding: None,
        ..*h
    };
    let mut out = head(status, &h);
    if !head_only {
        out.extend_from_slice(body.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(784_111_777)
    }

    fn text(v: Vec<u8>) -> String {
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn ok_head_has_all_file_headers() {
        let mut h = ResponseHeaders::new(now());
        h.content_length = 42;
        h.content_type = Some("text/plain; charset=utf-8");
        h.last_modified = Some(now());
        h.accept_ranges = true;
        assert_eq!(
            text(head(Status::Ok, &h)),
            "HTTP/1.1 200 OK\r\nServer: runtime-file-server\r\n\
             Date: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 42\r\n\
             Content-Type: text/plain; charset=utf-8\r\n\
             Last-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\nAccept-Ranges: bytes\r\n\
             Connection: keep-alive\r\n\r\n"
        );
    }

    #[test]
    fn last_modified_never_after_date() {
        let mut h = ResponseHeaders::new(now());
        h.last_modified = Some(now() + Duration::from_secs(86_400));
        let s = text(head(Status::Ok, &h));
        assert!(s.contains("\r\nLast-Modified: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
    }

    #[test]
    fn partial_content_range() {
        let mut h = ResponseHeaders::new(now());
        h.content_length = 10;
        h.content_range = Some(ContentRange::Bytes {
            start: 5,
            end: 14,
            len: 100,
        });
        h.close = true;
        let s = text(head(Status::PartialContent, &h));
        assert!(s.starts_with("HTTP/1.1 206 Partial Content\r\n"));
        assert!(s.contains("\r\nContent-Range: bytes 5-14/100\r\n"));
        assert!(s.ends_with("\r\nConnection: close\r\n\r\n"));
    }

    #[test]
    fn not_modified_has_no_length_or_type() {
        let mut h = ResponseHeaders::new(now());
        h.content_length = 10;
        h.content_type = Some(HTML);
        let s = text(head(Status::NotModified, &h));
        assert!(s.starts_with("HTTP/1.1 304 Not Modified\r\n"));
        assert!(!s.contains("Content-Length"));
        assert!(!s.contains("Content-Type"));
    }

    #[test]
    fn error_pages() {
        let h = ResponseHeaders::new(now());
        let s = text(error_page(Status::NotFound, &h, false));
        let (head, body) = s.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(head.contains(&format!("\r\nContent-Length: {}", body.len())));
        assert!(head.contains("\r\nContent-Type: text/html; charset=utf-8"));
        assert!(head.ends_with("Connection: keep-alive"));
        assert!(body.contains("404 Not Found"));

        let s = text(error_page(Status::MethodNotAllowed, &h, true));
        assert!(s.contains("\r\nAllow: GET, HEAD\r\n"));
        assert!(s.ends_with("\r\n\r\n"));

        for st in [
            Status::BadRequest,
            Status::PayloadTooLarge,
            Status::HeaderFieldsTooLarge,
        ] {
            assert!(text(error_page(st, &h, false)).contains("\r\nConnection: close\r\n"));
        }
    }

    #[test]
    fn unsatisfiable_range() {
        let mut h = ResponseHeaders::new(now());
        h.content_range = Some(ContentRange::Unsatisfied { len: 7 });
        let s = text(error_page(Status::RangeNotSatisfiable, &h, false));
        assert!(s.starts_with("HTTP/1.1 416 Range Not Satisfiable\r\n"));
        assert!(s.contains("\r\nContent-Range: bytes */7\r\n"));
    }

    #[test]
    fn codes_and_reasons() {
        let all = [
            (Status::Ok, 200),
            (Status::PartialContent, 206),
            (Status::NotModified, 304),
            (Status::BadRequest, 400),
            (Status::Forbidden, 403),
            (Status::NotFound, 404),
            (Status::MethodNotAllowed, 405),
            (Status::PreconditionFailed, 412),
            (Status::PayloadTooLarge, 413),
            (Status::UriTooLong, 414),
            (Status::RangeNotSatisfiable, 416),
            (Status::HeaderFieldsTooLarge, 431),
            (Status::InternalServerError, 500),
            (Status::NotImplemented, 501),
            (Status::HttpVersionNotSupported, 505),
            (Status::MovedPermanently, 301),
        ];
        for (s, code) in all {
            assert_eq!(s.code(), code);
            assert!(!s.reason().is_empty());
        }
    }
}
