//! The file server's HTTP semantics on both drivers: ETags and conditional
//! requests (RFC 9110 §13.2.2 order), a resumed download across a change,
//! status codes, hidden dotfiles, precompressed siblings, the access log.
//! (The open-file table's freshness: tests/file_server_cache.rs.)

use std::io::{BufReader, Read, Write};
use std::time::{Duration, SystemTime};

#[path = "support/file_server.rs"]
mod server;
mod support;

use server::{connect, get, raw, read_head, start};

#[runtime::test]
async fn etag_and_conditional_requests() {
    // Every request looks at the file, so a change shows at once.
    let s = &start("cond", &["--revalidate-ms", "0"]);
    let r = get(s, "/hello.txt", "");
    let etag = r.header("etag").unwrap().to_string();
    let lm = r.header("last-modified").unwrap().to_string();
    assert!(etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"));
    let status = |extra: String| get(s, "/hello.txt", &extra).status;

    let r = get(s, "/hello.txt", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!((r.status, r.header("etag")), (304, Some(etag.as_str())));
    assert!(r.body.is_empty());
    // §13.2.2: If-None-Match is evaluated instead of If-Modified-Since.
    assert_eq!(
        status(format!(
            "If-None-Match: \"other\"\r\nIf-Modified-Since: {lm}\r\n"
        )),
        200
    );
    assert_eq!(status(format!("If-Modified-Since: {lm}\r\n")), 304);
    // If-Match and If-Unmodified-Since fail with 412, before any 304.
    assert_eq!(status("If-Match: \"other\"\r\n".into()), 412);
    assert_eq!(status(format!("If-Match: \"other\", {etag}\r\n")), 200);
    assert_eq!(status("If-Match: *\r\n".into()), 200);
    assert_eq!(status(format!("If-Match: W/{etag}\r\n")), 412);
    let old = "Sat, 01 Jan 2000 00:00:00 GMT";
    assert_eq!(status(format!("If-Unmodified-Since: {old}\r\n")), 412);
    assert_eq!(status(format!("If-Unmodified-Since: {lm}\r\n")), 200);
    // If-Match present: If-Unmodified-Since is not evaluated.
    assert_eq!(
        status(format!(
            "If-Match: {etag}\r\nIf-Unmodified-Since: {old}\r\n"
        )),
        200
    );
    assert_eq!(
        status(format!("If-Match: \"x\"\r\nIf-None-Match: {etag}\r\n")),
        412
    );
    // A change of the file changes the ETag.
    std::fs::write(s.root.join("hello.txt"), b"hello, world!\n").unwrap();
    let r = get(s, "/hello.txt", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(r.status, 200);
    assert_ne!(r.header("etag"), Some(etag.as_str()));
}

#[runtime::test]
async fn a_resumed_download_across_a_change_gets_the_whole_new_file() {
    let s = &start("resume", &["--revalidate-ms", "0"]);
    let old: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    let path = s.root.join("data.bin");
    std::fs::write(&path, &old).unwrap();
    let first = get(s, "/data.bin", "Range: bytes=0-49999\r\n");
    assert_eq!(first.status, 206);
    let etag = first.header("etag").unwrap().to_string();
    let lm = first.header("last-modified").unwrap().to_string();
    // Unchanged: the resume gets the rest.
    let r = get(
        s,
        "/data.bin",
        &format!("Range: bytes=50000-\r\nIf-Range: {etag}\r\n"),
    );
    assert_eq!((r.status, &r.body[..]), (206, &old[50_000..]));

    // Replaced (a new inode, as a deploy by rename does), then rewritten in place.
    let new: Vec<u8> = (0..120_000u32).map(|i| (i * 7) as u8).collect();
    let tmp = s.root.join("data.tmp");
    std::fs::write(&tmp, &new).unwrap();
    std::fs::rename(&tmp, &path).unwrap();
    let r = get(
        s,
        "/data.bin",
        &format!("Range: bytes=50000-\r\nIf-Range: {etag}\r\n"),
    );
    assert_eq!(r.status, 200);
    assert!(r.body == new, "the whole new file");
    assert_eq!(r.header("content-range"), None);

    // A date validator: the file's new mtime differs from the one the client has.
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(3600))
        .unwrap();
    let r = get(
        s,
        "/data.bin",
        &format!("Range: bytes=50000-\r\nIf-Range: {lm}\r\n"),
    );
    assert_eq!(r.status, 200);
    assert!(r.body == new);
}

#[runtime::test]
async fn status_codes_follow_rfc_9110() {
    let s = &start("status", &[]);
    let c = connect(s);
    write!(
        &c,
        "POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
    )
    .unwrap();
    let mut r = BufReader::new(&c);
    let resp = read_head(&mut r);
    assert_eq!(
        (resp.status, resp.header("allow")),
        (405, Some("GET, HEAD"))
    );
    assert_eq!(resp.header("connection"), Some("close"));
    let post = "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
    assert_eq!(raw(s, post).status, 501);
    assert_eq!(raw(s, "BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n").status, 501);
    assert_eq!(raw(s, "GET / HTTP/2.0\r\nHost: t\r\n\r\n").status, 505);
    assert_eq!(raw(s, "GET / HTTP/3\r\nHost: t\r\n\r\n").status, 505);
    assert_eq!(raw(s, "GET / HTTP/1.1\r\nHost: a b/c\r\n\r\n").status, 400);
    let long = format!("/{}", "a".repeat(9000));
    assert_eq!(get(s, &long, "").status, 414);
    assert_eq!(get(s, "/hello.txt/", "").status, 404);
    let r = get(s, "/sub", "");
    assert_eq!((r.status, r.header("location")), (301, Some("/sub/")));
    let r = get(s, "/sub?sort=name", "");
    assert_eq!(
        (r.status, r.header("location")),
        (301, Some("/sub/?sort=name"))
    );
    assert_eq!(get(s, "/sub/", "").status, 200);
    assert_eq!(get(s, "/sub/a.html", "").status, 200);
}

#[runtime::test]
async fn dotfiles_are_hidden_by_default() {
    let s = &start("hidden", &[]);
    assert_eq!(get(s, "/.git/HEAD", "").status, 404);
    assert_eq!(get(s, "/.git/", "").status, 404);
    assert_eq!(get(s, "/.env", "").status, 404);
    assert_eq!(get(s, "/%2eenv", "").status, 404);
    let listing = String::from_utf8(get(s, "/", "").body).unwrap();
    assert!(listing.contains("hello.txt"));
    assert!(
        !listing.contains(".git") && !listing.contains(".env"),
        "{listing}"
    );

    let s = &start("shown", &["--show-hidden"]);
    let r = get(s, "/.git/HEAD", "");
    assert_eq!(
        (r.status, &r.body[..]),
        (200, &b"ref: refs/heads/main\n"[..])
    );
    let listing = String::from_utf8(get(s, "/", "").body).unwrap();
    assert!(
        listing.contains(".git/") && listing.contains(".env"),
        "{listing}"
    );
}

#[runtime::test]
async fn precompressed_siblings_only_when_accepted() {
    let s = &start("precompressed", &[]);
    std::fs::write(s.root.join("app.js"), b"console.log('identity');\n").unwrap();
    std::fs::write(s.root.join("app.js.gz"), b"GZIP-BYTES-0123456789").unwrap();
    std::fs::write(s.root.join("app.js.br"), b"BROTLI-BYTES").unwrap();
    std::fs::write(s.root.join("style.css"), b"body{}\n").unwrap();
    std::fs::write(s.root.join("style.css.gz"), b"GZ-CSS").unwrap();

    let plain = get(s, "/app.js", "");
    assert_eq!(plain.body, b"console.log('identity');\n");
    assert_eq!(plain.header("content-encoding"), None);
    // The identity response varies too, since siblings exist; a file without any does not.
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
    let r = get(s, "/hello.txt", "Accept-Encoding: gzip, br\r\n");
    assert_eq!(
        (r.status, r.header("vary"), r.header("content-encoding")),
        (200, None, None)
    );
    let gz = get(s, "/app.js", "Accept-Encoding: gzip\r\n");
    assert_eq!(gz.body, b"GZIP-BYTES-0123456789");
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("vary"), Some("Accept-Encoding"));
    assert_eq!(
        gz.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    let gz_etag = gz.header("etag").unwrap();
    assert_ne!(Some(gz_etag), plain.header("etag"));
    let br = get(s, "/app.js", "Accept-Encoding: gzip, deflate, br\r\n");
    assert_eq!(
        (br.body.as_slice(), br.header("content-encoding")),
        (&b"BROTLI-BYTES"[..], Some("br"))
    );
    assert_eq!(
        get(s, "/app.js", "Accept-Encoding: gzip;q=0, br;q=0\r\n").body,
        plain.body
    );
    assert_eq!(
        get(s, "/app.js", "Accept-Encoding: identity\r\n").body,
        plain.body
    );
    // Only a .gz beside style.css: br alone gets the original.
    assert_eq!(
        get(s, "/style.css", "Accept-Encoding: br\r\n").body,
        b"body{}\n"
    );
    assert_eq!(
        get(s, "/style.css", "Accept-Encoding: gzip\r\n").body,
        b"GZ-CSS"
    );
    // Ranges and conditionals apply to the encoded representation.
    let r = get(
        s,
        "/app.js",
        "Accept-Encoding: gzip\r\nRange: bytes=5-9\r\n",
    );
    assert_eq!((r.status, r.body.as_slice()), (206, &b"BYTES"[..]));
    assert_eq!(r.header("content-range"), Some("bytes 5-9/21"));
    let r = get(
        s,
        "/app.js",
        &format!("Accept-Encoding: gzip\r\nIf-None-Match: {gz_etag}\r\n"),
    );
    assert_eq!((r.status, r.header("vary")), (304, Some("Accept-Encoding")));
    assert_eq!(
        get(s, "/app.js", &format!("If-None-Match: {gz_etag}\r\n")).status,
        200
    );
}

#[runtime::test]
async fn the_access_log_is_off_by_default_and_common_log_format_when_on() {
    let mut s = start("log", &["--access-log"]);
    assert_eq!(get(&s, "/hello.txt", "").status, 200);
    assert_eq!(get(&s, "/missing", "").status, 404);
    let first = s.next_line();
    assert!(first.starts_with("127.0.0.1 - - ["), "{first}");
    assert!(
        first.ends_with("] \"GET /hello.txt HTTP/1.1\" 200 13\n"),
        "{first}"
    );
    let second = s.next_line();
    assert!(
        second.contains("\"GET /missing HTTP/1.1\" 404 "),
        "{second}"
    );

    // Off by default: the next line after a request is the shutdown notice.
    let mut s = start("nolog", &[]);
    assert_eq!(get(&s, "/hello.txt", "").status, 200);
    s.signal(libc::SIGTERM);
    let line = s.next_line();
    assert!(line.starts_with("shutting down"), "{line}");
    let mut rest = String::new();
    s.stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "");
}
