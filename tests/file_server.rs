//! The file server example driven by a real client over loopback, on both
//! drivers (each `#[runtime::test]` half starts the server on its own
//! driver): byte-exact bodies (small and ≥ 100 MiB), ranges, HEAD, 304,
//! traversal attempts, oversized and malformed requests, pipelining and slow
//! clients.

use std::io::{BufReader, Read, Write};

#[path = "support/file_server.rs"]
mod server;
mod support;

use server::{connect, get, read_response, start};

#[runtime::test]
async fn small_files_ranges_head_and_304() {
    let s = &start("basic", &[]);
    let r = get(s, "/hello.txt", "");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"hello, world\n");
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    let lm = r.header("last-modified").unwrap().to_string();

    assert_eq!(
        get(s, "/hello.txt", &format!("If-Modified-Since: {lm}\r\n")).status,
        304
    );
    let r = get(s, "/hello.txt", "Range: bytes=0-4\r\n");
    assert_eq!((r.status, r.body.as_slice()), (206, &b"hello"[..]));
    assert_eq!(r.header("content-range"), Some("bytes 0-4/13"));
    assert_eq!(get(s, "/hello.txt", "Range: bytes=7-\r\n").body, b"world\n");
    assert_eq!(get(s, "/hello.txt", "Range: bytes=-6\r\n").body, b"world\n");
    let r = get(s, "/hello.txt", "Range: bytes=100-\r\n");
    assert_eq!(
        (r.status, r.header("content-range")),
        (416, Some("bytes */13"))
    );

    let c = connect(s);
    write!(&c, "HEAD /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let r = read_response(&mut BufReader::new(&c), true);
    assert_eq!((r.status, r.header("content-length")), (200, Some("13")));

    let r = get(s, "/sub/", "");
    assert_eq!(r.status, 200);
    assert!(String::from_utf8_lossy(&r.body).contains("a.html"));
    assert_eq!(get(s, "/missing", "").status, 404);
}

#[runtime::test]
async fn a_large_file_arrives_byte_exact() {
    let s = &start("large", &[]);
    // 100 MiB + a bit, with a pattern that catches shifted or repeated chunks.
    let len = 100 * 1024 * 1024 + 12_345;
    let data: Vec<u8> = (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1])
        .collect();
    std::fs::write(s.root.join("large.bin"), &data).unwrap();
    let r = get(s, "/large.bin", "");
    assert_eq!(r.status, 200);
    assert!(r.body == data, "large body differs");
    let r = get(s, "/large.bin", "Range: bytes=50000000-50999999\r\n");
    assert!(r.body[..] == data[50_000_000..51_000_000]);
}

#[runtime::test]
async fn traversal_attempts_never_leave_the_root() {
    let s = &start("traversal", &[]);
    for target in [
        "/../secret",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/%2E%2E%2Fetc%2Fpasswd",
        "/sub%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/hello.txt%00.png",
        "/sub/..%5c..%5cetc/passwd",
        "/sub\\..\\..\\etc\\passwd",
        "/%00",
        "//etc/passwd",
        "/sub/escape",
        "http://t/../etc/passwd",
    ] {
        let r = get(s, target, "");
        assert!(
            matches!(r.status, 400 | 403 | 404),
            "{target}: {}",
            r.status
        );
        assert!(
            !String::from_utf8_lossy(&r.body).contains("root:"),
            "{target} leaked"
        );
    }
    // Decoding comes before the checks: an encoded `..` is refused as one, an encoded NUL as
    // malformed.
    assert_eq!(get(s, "/%2e%2E/%2e%2e/etc/passwd", "").status, 403);
    assert_eq!(get(s, "/sub%2F..%2Fsecret", "").status, 403);
    assert_eq!(get(s, "/hello.txt%00", "").status, 400);
    assert_eq!(get(s, "/%zz", "").status, 400);
}

#[runtime::test]
async fn bad_requests_get_small_errors_not_crashes() {
    let s = &start("bad", &[]);
    let huge = "X-Filler: ".to_string() + &"a".repeat(9000) + "\r\n";
    assert_eq!(get(s, "/hello.txt", &huge).status, 431);
    let c = connect(s);
    (&c).write_all(b"\x00\x01garbage\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut BufReader::new(&c), false).status, 400);
    let c = connect(s);
    write!(&c, "DELETE /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
    let r = read_response(&mut BufReader::new(&c), false);
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
    let c = connect(s);
    write!(
        &c,
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
    )
    .unwrap();
    let r = read_response(&mut BufReader::new(&c), false);
    assert_eq!((r.status, r.header("allow")), (405, Some("GET, HEAD")));
    // Still serving.
    assert_eq!(get(s, "/hello.txt", "").status, 200);
}

#[runtime::test]
async fn keep_alive_and_pipelining() {
    let s = &start("pipeline", &[]);
    let c = connect(s);
    let mut r = BufReader::new(&c);
    write!(
        &c,
        "GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\nGET /sub/a.html HTTP/1.1\r\nHost: t\r\n\r\n"
    )
    .unwrap();
    assert_eq!(read_response(&mut r, false).body, b"hello, world\n");
    assert_eq!(read_response(&mut r, false).body, b"<p>a</p>");
    write!(
        &c,
        "GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let resp = read_response(&mut r, false);
    assert_eq!(resp.header("connection"), Some("close"));
    let mut rest = Vec::new();
    assert_eq!(
        r.read_to_end(&mut rest).unwrap(),
        0,
        "closed after Connection: close"
    );
}

#[runtime::test]
async fn a_slow_client_is_disconnected() {
    let s = &start("slow", &[]);
    let c = connect(s);
    (&c).write_all(b"GET /hello.txt HTTP/1.1\r\nHost:").unwrap();
    // The server's head timeout is 300 ms here; the read timeout is a safety net.
    let mut buf = [0u8; 16];
    let n = (&c).read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the server should close a connection stuck mid-head");
    assert_eq!(get(s, "/hello.txt", "").status, 200);
}
