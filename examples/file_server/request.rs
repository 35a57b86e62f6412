//! One request head, parsed with httparse out of the connection's read buffer.
//!
//! Bounded: only the first `MAX_HEAD` bytes are ever looked at, and at most `MAX_HEADERS`
//! headers; past either limit the answer is 431. Anything httparse or we reject is 400. The
//! caller keeps reading while it gets `Partial`, and after `Complete` drops `consumed` bytes
//! and parses again, which is how pipelined requests are served in order.

use crate::response::Status;

/// Largest request line plus headers, blank line included.
pub(crate) const MAX_HEAD: usize = 8 * 1024;
/// Most header fields in one request.
pub(crate) const MAX_HEADERS: usize = 64;

/// The methods we serve; everything else gets 405.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
    Other,
}

/// The parts of a request head a static file server acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) method: Method,
    /// The raw request target, still percent-encoded; `path::resolve` maps it to a file.
    pub(crate) target: String,
    /// HTTP/1.x minor version: 0 or 1.
    pub(crate) version: u8,
    /// Whether the client lets the connection stay open after this response: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`.
    pub(crate) keep_alive: bool,
    /// The `Range` value; `None` if absent, repeated or not UTF-8.
    pub(crate) range: Option<String>,
    /// The `If-Modified-Since` value; `None` if absent, repeated or not UTF-8.
    pub(crate) if_modified_since: Option<String>,
    /// A body follows (`Content-Length` > 0 or any `Transfer-Encoding`). We never read bodies,
    /// so the caller answers 413 and closes: the stream cannot be framed past it.
    pub(crate) has_body: bool,
}

/// The result of looking at the buffered bytes of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Parsed {
    /// A full head; the next request (if pipelined) starts at `buf[consumed..]`.
    Complete { request: Request, consumed: usize },
    /// Need more bytes; the buffer is still under `MAX_HEAD`.
    Partial,
    /// Answer with this status (400 or 431) and close.
    Error(Status),
}

/// Parses the request head at the start of `buf`. Never panics, whatever `buf` holds.
pub(crate) fn parse_request(buf: &[u8]) -> Parsed {
    let window = &buf[..buf.len().min(MAX_HEAD)];
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(window) {
        Ok(httparse::Status::Complete(consumed)) => match build(&req) {
            Ok(request) => Parsed::Complete { request, consumed },
            Err(status) => Parsed::Error(status),
        },
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => {
            Parsed::Error(Status::HeaderFieldsTooLarge)
        }
        Ok(httparse::Status::Partial) => Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => Parsed::Error(Status::HeaderFieldsTooLarge),
        Err(_) => Parsed::Error(Status::BadRequest),
    }
}

/// Checks the framing headers and copies out what we need.
fn build(req: &httparse::Request<'_, '_>) -> Result<Request, Status> {
    let (Some(method), Some(target), Some(version)) = (req.method, req.path, req.version) else {
        return Err(Status::BadRequest); // httparse fills all three on Complete; be safe anyway
    };
    let method = match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        _ => Method::Other,
    };
    let (mut close, mut keep_alive, mut chunked_or_te) = (false, false, false);
    let mut hosts = 0;
    let mut content_length: Option<u64> = None;
    let (mut range, mut ims) = (Field::Absent, Field::Absent);
    for h in req.headers.iter() {
        let value = trim_ows(h.value);
        let name = h.name;
        if name.eq_ignore_ascii_case("connection") {
            for token in value.split(|&b| b == b',').map(trim_ows) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("content-length") {
            let n = parse_length(value).ok_or(Status::BadRequest)?;
            // Differing lengths are a request-smuggling signal (RFC 9112 §6.3).
            if content_length.is_some_and(|old| old != n) {
                return Err(Status::BadRequest);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked_or_te = true;
        } else if name.eq_ignore_ascii_case("range") {
            range.see(value);
        } else if name.eq_ignore_ascii_case("if-modified-since") {
            ims.see(value);
        }
    }
    // Both framings at once is the classic smuggling vector; RFC 9112 §6.3 allows a 400.
    // HTTP/1.1 needs exactly one Host (RFC 9112 §3.2); HTTP/1.0 at most one.
    if (chunked_or_te && content_length.is_some()) || hosts > 1 || (version == 1 && hosts == 0) {
        return Err(Status::BadRequest);
    }
    Ok(Request {
        method,
        target: target.to_string(),
        version,
        keep_alive: !close && (version == 1 || keep_alive),
        range: range.into_value(),
        if_modified_since: ims.into_value(),
        has_body: chunked_or_te || content_length.is_some_and(|n| n > 0),
    })
}

/// A header we use only when it appears exactly once.
enum Field {
    Absent,
    Once(Option<String>),
    Repeated,
}

impl Field {
    fn see(&mut self, value: &[u8]) {
        *self = match self {
            Field::Absent => Field::Once(std::str::from_utf8(value).ok().map(str::to_string)),
            _ => Field::Repeated,
        };
    }

    fn into_value(self) -> Option<String> {
        match self {
            Field::Once(v) => v,
            _ => None,
        }
    }
}

/// `1*DIGIT` that fits in a u64.
fn parse_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, &b| {
        n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    })
}

/// Strips optional whitespace (spaces and tabs) from both ends.
fn trim_ows(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
