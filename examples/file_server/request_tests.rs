//! Unit tests of `request.rs`: framing, limits, keep-alive rules and hostile bytes.

use super::*;

fn complete(buf: &[u8]) -> (Request, usize) {
    match parse_request(buf) {
        Parsed::Complete { request, consumed } => (request, consumed),
        other => panic!("{other:?} for {:?}", String::from_utf8_lossy(buf)),
    }
}

fn error(buf: &[u8]) -> Status {
    match parse_request(buf) {
        Parsed::Error(s) => s,
        other => panic!("{other:?} for {:?}", String::from_utf8_lossy(buf)),
    }
}

#[test]
fn simple_get() {
    let buf = b"GET /a%20b.txt?x=1 HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\n\
                If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\n";
    let (req, n) = complete(buf);
    assert_eq!(n, buf.len());
    assert_eq!(
        req,
        Request {
            method: Method::Get,
            method_name: "GET".into(),
            target: "/a%20b.txt?x=1".into(),
            version: 1,
            keep_alive: true,
            range: Some("bytes=0-1".into()),
            if_modified_since: Some("Sun, 06 Nov 1994 08:49:37 GMT".into()),
            if_unmodified_since: None,
            if_match: None,
            if_none_match: None,
            if_range: None,
            accept_encoding: None,
            has_body: false,
        }
    );
}

#[test]
fn methods() {
    let m = |s: &str| {
        complete(format!("{s} / HTTP/1.1\r\nHost: h\r\n\r\n").as_bytes())
            .0
            .method
    };
    assert_eq!(m("GET"), Method::Get);
    assert_eq!(m("HEAD"), Method::Head);
    assert_eq!(m("POST"), Method::NotAllowed);
    assert_eq!(m("OPTIONS"), Method::NotAllowed);
    assert_eq!(m("DELETE"), Method::NotAllowed);
    assert_eq!(m("get"), Method::Unknown);
    assert_eq!(m("BREW"), Method::Unknown);
}

#[test]
fn pipelined_requests_split_at_consumed() {
    let buf = b"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nHEAD /2 HTTP/1.1\r\nHost: h\r\n\r\nGET /3 HT";
    let (a, n) = complete(buf);
    assert_eq!(a.target, "/1");
    let (b, m) = complete(&buf[n..]);
    assert_eq!((b.method, b.target.as_str()), (Method::Head, "/2"));
    assert_eq!(parse_request(&buf[n + m..]), Parsed::Partial);
}

#[test]
fn every_prefix_is_partial() {
    let buf = b"GET /x HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    for i in 0..buf.len() {
        assert_eq!(parse_request(&buf[..i]), Parsed::Partial, "prefix {i}");
    }
    assert!(!complete(buf).0.keep_alive);
}

#[test]
fn keep_alive_rules() {
    let ka = |v: &str, conn: &str| {
        complete(format!("GET / HTTP/1.{v}\r\nHost: h\r\n{conn}\r\n").as_bytes())
            .0
            .keep_alive
    };
    assert!(ka("1", ""));
    assert!(!ka("1", "Connection: close\r\n"));
    assert!(!ka("1", "Connection: Upgrade, CLOSE \r\n"));
    assert!(!ka("1", "Connection: keep-alive\r\nConnection: close\r\n"));
    assert!(!ka("0", ""));
    assert!(ka("0", "Connection: Keep-Alive\r\n"));
    assert!(!ka("0", "Connection: keep-alive, close\r\n"));
    assert!(!ka("0", "Connection: keep-alive-ish\r\n"));
    assert!(complete(b"GET / HTTP/1.0\r\n\r\n").0.version == 0);
}

#[test]
fn bodies() {
    let body = |h: &str| {
        complete(format!("GET / HTTP/1.1\r\nHost: h\r\n{h}\r\n").as_bytes())
            .0
            .has_body
    };
    assert!(!body("Content-Length: 0\r\n"));
    assert!(!body("Content-Length: 0\r\nContent-Length: 0\r\n"));
    assert!(body("Content-Length: 5\r\n"));
    assert!(body("Content-Length: 18446744073709551615\r\n"));
    assert!(body("Transfer-Encoding: chunked\r\n"));
    assert!(body("Transfer-Encoding: Chunked\r\n"));
}

#[test]
fn unknown_transfer_coding_is_501() {
    for te in ["gzip, chunked", "gzip", "chunked, identity", "x"] {
        let buf = format!("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: {te}\r\n\r\n");
        assert_eq!(error(buf.as_bytes()), Status::NotImplemented, "{te}");
    }
}

#[test]
fn other_versions_are_505() {
    for v in ["HTTP/2.0", "HTTP/3", "HTTP/2"] {
        let buf = format!("GET / {v}\r\nHost: h\r\n\r\n");
        assert_eq!(
            error(buf.as_bytes()),
            Status::HttpVersionNotSupported,
            "{v}"
        );
    }
}

#[test]
fn hosts() {
    for ok in [
        "h",
        "example.com:8080",
        "127.0.0.1",
        "[::1]:80",
        "",
        "a-b.c_d~",
    ] {
        let buf = format!("GET / HTTP/1.1\r\nHost: {ok}\r\n\r\n");
        complete(buf.as_bytes());
    }
    for bad in ["a b/c", "a/b", "h:x", "[::1", "[zz]", "h:80:80", "a@b"] {
        let buf = format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n");
        assert_eq!(error(buf.as_bytes()), Status::BadRequest, "{bad}");
    }
}

#[test]
fn list_headers_are_joined() {
    let (req, _) = complete(
        b"GET / HTTP/1.1\r\nHost: h\r\nIf-None-Match: \"a\"\r\nIf-None-Match: \"b\"\r\n\
          Accept-Encoding: gzip\r\nIf-Match: *\r\nIf-Range: \"c\"\r\n\
          If-Unmodified-Since: x\r\n\r\n",
    );
    assert_eq!(req.if_none_match.as_deref(), Some("\"a\",\"b\""));
    assert_eq!(req.accept_encoding.as_deref(), Some("gzip"));
    assert_eq!(req.if_match.as_deref(), Some("*"));
    assert_eq!(req.if_range.as_deref(), Some("\"c\""));
    assert_eq!(req.if_unmodified_since.as_deref(), Some("x"));
}

#[test]
fn bad_framing_is_400() {
    for h in [
        "Content-Length: -1\r\n",
        "Content-Length: 1x\r\n",
        "Content-Length: \r\n",
        "Content-Length: +5\r\n",
        "Content-Length: 5, 5\r\n",
        "Content-Length: 18446744073709551616\r\n",
        "Content-Length: 1\r\nContent-Length: 2\r\n",
        "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n",
        "Host: other\r\n",
    ] {
        let buf = format!("GET / HTTP/1.1\r\nHost: h\r\n{h}\r\n");
        assert_eq!(error(buf.as_bytes()), Status::BadRequest, "{h:?}");
    }
    assert_eq!(error(b"GET / HTTP/1.1\r\n\r\n"), Status::BadRequest);
}

#[test]
fn repeated_or_binary_fields_are_ignored() {
    let (req, _) =
        complete(b"GET / HTTP/1.1\r\nHost: h\r\nRange: bytes=0-1\r\nRange: bytes=2-3\r\n\r\n");
    assert_eq!(req.range, None);
    let (req, _) = complete(b"GET / HTTP/1.1\r\nHost: h\r\nIf-Modified-Since: \xff\xfe\r\n\r\n");
    assert_eq!(req.if_modified_since, None);
    let (req, _) = complete(b"GET / HTTP/1.1\r\nhOsT: h\r\nrange:\t bytes=5- \t\r\n\r\n");
    assert_eq!(req.range.as_deref(), Some("bytes=5-"));
}

#[test]
fn malformed_is_400() {
    for buf in [
        &b"GET / FTP/1.1\r\n\r\n"[..],
        b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /\xff HTTP/1.1\r\nHost: h\r\n\r\n",
        b"GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n",
        b"G\0T / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: a\0b\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    ] {
        assert_eq!(
            error(buf),
            Status::BadRequest,
            "{:?}",
            String::from_utf8_lossy(buf)
        );
    }
}

#[test]
fn limits_are_431() {
    let mut many = String::from("GET / HTTP/1.1\r\nHost: h\r\n");
    for i in 0..MAX_HEADERS {
        many.push_str(&format!("X-{i}: v\r\n"));
    }
    many.push_str("\r\n");
    assert_eq!(error(many.as_bytes()), Status::HeaderFieldsTooLarge);

    let mut fits = String::from("GET / HTTP/1.1\r\nHost: h\r\nX: ");
    fits.push_str(&"a".repeat(MAX_HEAD - fits.len() - 4));
    fits.push_str("\r\n\r\n");
    assert_eq!(fits.len(), MAX_HEAD);
    assert_eq!(complete(fits.as_bytes()).1, MAX_HEAD);

    let mut big = fits.clone().into_bytes();
    big.insert(30, b'a');
    assert_eq!(error(&big), Status::HeaderFieldsTooLarge);
    assert_eq!(error(&vec![b'a'; MAX_HEAD]), Status::UriTooLong);
    let long_line = format!("GET /{} HTTP/1.1\r\n", "x".repeat(MAX_HEAD));
    assert_eq!(error(long_line.as_bytes()), Status::UriTooLong);
}

#[test]
fn hostile_bytes_never_panic() {
    // A fixed-seed xorshift keeps the run deterministic without a rand crate.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let seed = b"GET /a HTTP/1.1\r\nHost: h\r\nRange: bytes=1-2\r\nContent-Length: 3\r\n\r\n";
    for _ in 0..20_000 {
        let mut buf = seed.to_vec();
        for _ in 0..next() % 6 {
            let i = next() as usize % buf.len();
            match next() % 3 {
                0 => buf[i] = next() as u8,
                1 => buf.insert(i, next() as u8),
                _ => drop(buf.remove(i)),
            }
        }
        let _ = parse_request(&buf);
        let random: Vec<u8> = (0..next() % 64).map(|_| next() as u8).collect();
        let _ = parse_request(&random);
    }
}
