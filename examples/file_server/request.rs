//! One request head, parsed with httparse out of the connection's read buffer.
//!
//! Bounded: only the first `MAX_HEAD` bytes are ever looked at, and at most `MAX_HEADERS`
//! headers; past either limit the answer is 431, or 414 when the request line alone does not
//! fit. A version other than HTTP/1.x is 505, a transfer coding other than `chunked` 501, and
//! anything else httparse or we reject (a bad `Host` among them) 400. The caller keeps reading
//! while it gets `Partial`, and after `Complete` drops `consumed` bytes and parses again, which
//! is how pipelined requests are served in order.

use crate::response::Status;

/// Largest request line plus headers, blank line included.
pub(crate) const MAX_HEAD: usize = 8 * 1024;
/// Most header fields in one request.
pub(crate) const MAX_HEADERS: usize = 64;

/// The methods we serve, and what the others get.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Head,
    /// A method RFC 9110 defines that a static server does not allow: 405 with `Allow`.
    NotAllowed,
    /// A method we do not know at all: 501 (RFC 9110 §9.1).
    Unknown,
}

/// The parts of a request head a static file server acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    pub(crate) method: Method,
    /// The method as sent, for the access log.
    pub(crate) method_name: String,
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
    /// The `If-Unmodified-Since` value; `None` if absent, repeated or not UTF-8.
    pub(crate) if_unmodified_since: Option<String>,
    /// `If-Match`, repeated fields joined with `,` (it is a list); `None` if absent or not UTF-8.
    pub(crate) if_match: Option<String>,
    /// `If-None-Match`, joined like `if_match`.
    pub(crate) if_none_match: Option<String>,
    /// The `If-Range` value; `None` if absent, repeated or not UTF-8.
    pub(crate) if_range: Option<String>,
    /// `Accept-Encoding`, joined like `if_match`.
    pub(crate) accept_encoding: Option<String>,
    /// A body follows (`Content-Length` > 0 or any `Transfer-Encoding`). We never read bodies,
    /// so the caller answers 413 and closes: the stream cannot be framed past it.
    pub(crate) has_body: bool,
}

impl Request {
    /// The fields `conditional::evaluate` looks at.
    pub(crate) fn preconditions(&self) -> crate::conditional::Preconditions<'_> {
        crate::conditional::Preconditions {
            if_match: self.if_match.as_deref(),
            if_unmodified_since: self.if_unmodified_since.as_deref(),
            if_none_match: self.if_none_match.as_deref(),
            if_modified_since: self.if_modified_since.as_deref(),
            range: self.range.as_deref(),
            if_range: self.if_range.as_deref(),
        }
    }
}

/// The result of looking at the buffered bytes of a connection.
// Returned once per request and matched at once: boxing the big variant would
// only add an allocation.
#[allow(clippy::large_enum_variant)]
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
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => Parsed::Error(too_large(window)),
        Ok(httparse::Status::Partial) => Parsed::Partial,
        Err(httparse::Error::TooManyHeaders) => Parsed::Error(Status::HeaderFieldsTooLarge),
        Err(httparse::Error::Version) => Parsed::Error(version_error(window)),
        Err(_) => Parsed::Error(Status::BadRequest),
    }
}

/// httparse refused the version: 505 for another HTTP version (`HTTP/2.0`,
/// `HTTP/3`), 400 for something that is not HTTP at all.
fn version_error(window: &[u8]) -> Status {
    let line = window.split(|&b| b == b'\n').next().unwrap_or_default();
    if line.windows(6).any(|w| w == b" HTTP/") {
        Status::HttpVersionNotSupported
    } else {
        Status::BadRequest
    }
}

/// A head that does not fit in `MAX_HEAD`: 414 if even the request line does not end in it
/// (the target is what is too long), else 431.
fn too_large(window: &[u8]) -> Status {
    if window.contains(&b'\n') {
        Status::HeaderFieldsTooLarge
    } else {
        Status::UriTooLong
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
        "POST" | "PUT" | "DELETE" | "CONNECT" | "OPTIONS" | "TRACE" | "PATCH" => Method::NotAllowed,
        _ => Method::Unknown,
    };
    let (mut close, mut keep_alive, mut chunked_or_te) = (false, false, false);
    let (mut hosts, mut bad_host, mut unknown_coding) = (0, false, false);
    let mut content_length: Option<u64> = None;
    let (mut range, mut ims, mut ius, mut if_range) =
        (Field::Absent, Field::Absent, Field::Absent, Field::Absent);
    let (mut if_match, mut if_none_match, mut accept_encoding) =
        (List(None), List(None), List(None));
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
            bad_host |= !valid_host(value);
        } else if name.eq_ignore_ascii_case("content-length") {
            let n = parse_length(value).ok_or(Status::BadRequest)?;
            // Differing lengths are a request-smuggling signal (RFC 9112 §6.3).
            if content_length.is_some_and(|old| old != n) {
                return Err(Status::BadRequest);
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked_or_te = true;
            // We can frame `chunked` (and then refuse the body); any other coding is 501.
            unknown_coding |= value
                .split(|&b| b == b',')
                .map(trim_ows)
                .any(|c| !c.eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("range") {
            range.see(value);
        } else if name.eq_ignore_ascii_case("if-modified-since") {
            ims.see(value);
        } else if name.eq_ignore_ascii_case("if-unmodified-since") {
            ius.see(value);
        } else if name.eq_ignore_ascii_case("if-range") {
            if_range.see(value);
        } else if name.eq_ignore_ascii_case("if-match") {
            if_match.add(value);
        } else if name.eq_ignore_ascii_case("if-none-match") {
            if_none_match.add(value);
        } else if name.eq_ignore_ascii_case("accept-encoding") {
            accept_encoding.add(value);
        }
    }
    // Both framings at once is the classic smuggling vector; RFC 9112 §6.3 allows a 400.
    // HTTP/1.1 needs exactly one Host (RFC 9112 §3.2); HTTP/1.0 at most one.
    if (chunked_or_te && content_length.is_some())
        || hosts > 1
        || bad_host
        || (version == 1 && hosts == 0)
    {
        return Err(Status::BadRequest);
    }
    if unknown_coding {
        return Err(Status::NotImplemented);
    }
    Ok(Request {
        method,
        method_name: req.method.unwrap_or_default().to_string(),
        target: target.to_string(),
        version,
        keep_alive: !close && (version == 1 || keep_alive),
        range: range.into_value(),
        if_modified_since: ims.into_value(),
        if_unmodified_since: ius.into_value(),
        if_match: if_match.0,
        if_none_match: if_none_match.0,
        if_range: if_range.into_value(),
        accept_encoding: accept_encoding.0,
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

/// A list-valued header (RFC 9110 §5.3): repeated fields are one list, joined with `,`. A
/// field line that is not UTF-8 is skipped.
struct List(Option<String>);

impl List {
    fn add(&mut self, value: &[u8]) {
        let Ok(v) = std::str::from_utf8(value) else {
            return;
        };
        match &mut self.0 {
            Some(all) => {
                all.push(',');
                all.push_str(v);
            }
            None => self.0 = Some(v.to_string()),
        }
    }
}

/// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2): an IP literal in brackets or a reg-name of
/// unreserved, sub-delim and `%` characters, then optional digits after a colon. Empty is
/// allowed (RFC 9112 §3.2, a target without authority).
fn valid_host(v: &[u8]) -> bool {
    let (host, port) = match v.strip_prefix(b"[") {
        Some(rest) => match rest.iter().position(|&b| b == b']') {
            Some(end) => {
                let lit = &rest[..end];
                if lit.is_empty()
                    || !lit
                        .iter()
                        .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
                {
                    return false;
                }
                (&b""[..], &rest[end + 1..])
            }
            None => return false,
        },
        None => match v.iter().position(|&b| b == b':') {
            Some(i) => (&v[..i], &v[i..]),
            None => (v, &b""[..]),
        },
    };
    let reg_name = host
        .iter()
        .all(|&b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(&b));
    let port_ok = match port {
        [] => true,
        [b':', digits @ ..] => digits.iter().all(u8::is_ascii_digit),
        _ => false,
    };
    reg_name && port_ok
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
