//! The file server example driven by a real client over loopback, on both
//! drivers: byte-exact bodies (small and ≥ 100 MiB), ranges, HEAD, 304,
//! traversal attempts, oversized and malformed requests, pipelining and slow
//! clients.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running file server and the directory it serves.
struct Server {
    child: Child,
    addr: String,
    root: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The example binary, built on demand.
fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples/file_server");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", "file_server"])
        .status()
        .unwrap();
    assert!(status.success(), "building the file_server example failed");
    bin
}

fn start(driver: &str, name: &str) -> Server {
    let root = std::env::temp_dir().join(format!("fs-test-{}-{driver}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("hello.txt"), b"hello, world\n").unwrap();
    std::fs::write(root.join("sub/a.html"), b"<p>a</p>").unwrap();
    std::fs::write(root.join("secret-outside"), b"x").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("sub/escape")).unwrap();
    let mut child = Command::new(server_binary())
        .arg(&root)
        .args(["--addr", "127.0.0.1:0", "--head-timeout-ms", "300"])
        .env("RUNTIME_DRIVER", driver)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("unexpected banner: {line:?}"))
        .to_string();
    assert!(
        line.contains(if driver == "uring" {
            "io_uring"
        } else {
            "epoll"
        }),
        "{line}"
    );
    Server { child, addr, root }
}

/// A response: status, headers (lower-case names), body.
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

fn connect(s: &Server) -> TcpStream {
    let c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    c
}

/// Reads one response; `head_only` for HEAD requests.
fn read_response(r: &mut BufReader<&TcpStream>, head_only: bool) -> Response {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("bad status line {line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':').unwrap();
        headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; if head_only { 0 } else { len }];
    r.read_exact(&mut body).unwrap();
    Response {
        status,
        headers,
        body,
    }
}

fn get(s: &Server, target: &str, extra: &str) -> Response {
    let c = connect(s);
    write!(&c, "GET {target} HTTP/1.1\r\nHost: t\r\n{extra}\r\n").unwrap();
    read_response(&mut BufReader::new(&c), false)
}

fn each_driver(name: &str, f: impl Fn(&Server)) {
    for driver in ["uring", "epoll"] {
        let s = start(driver, name);
        f(&s);
    }
}

#[test]
fn small_files_ranges_head_and_304() {
    each_driver("basic", |s| {
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
    });
}

#[test]
fn a_large_file_arrives_byte_exact() {
    each_driver("large", |s| {
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
    });
}

#[test]
fn traversal_attempts_never_leave_the_root() {
    each_driver("traversal", |s| {
        for target in [
            "/../secret",
            "/%2e%2e/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc%2Fpasswd",
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
    });
}

#[test]
fn bad_requests_get_small_errors_not_crashes() {
    each_driver("bad", |s| {
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
        assert_eq!(read_response(&mut BufReader::new(&c), false).status, 413);
        // Still serving.
        assert_eq!(get(s, "/hello.txt", "").status, 200);
    });
}

#[test]
fn keep_alive_and_pipelining() {
    each_driver("pipeline", |s| {
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
    });
}

#[test]
fn a_slow_client_is_disconnected() {
    each_driver("slow", |s| {
        let c = connect(s);
        (&c).write_all(b"GET /hello.txt HTTP/1.1\r\nHost:").unwrap();
        // The server's head timeout is 300 ms here; the read timeout is a safety net.
        let mut buf = [0u8; 16];
        let n = (&c).read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0, "the server should close a connection stuck mid-head");
        assert_eq!(get(s, "/hello.txt", "").status, 200);
    });
}
