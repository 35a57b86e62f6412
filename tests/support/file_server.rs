//! The file_server example as a child process, and a minimal blocking HTTP
//! client for it; shared by the `file_server*` tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Duration;

/// A running file server and the directory it serves.
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) addr: String,
    pub(crate) root: PathBuf,
    /// The rest of its stdout (shutdown notice, access log).
    pub(crate) stdout: BufReader<ChildStdout>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

impl Server {
    /// The next line the server prints.
    pub(crate) fn next_line(&mut self) -> String {
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        line
    }

    /// Sends `signum` to the server.
    pub(crate) fn signal(&self, signum: libc::c_int) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) on our own child's pid; no pointers.
        let res = unsafe { libc::kill(pid, signum) };
        assert_eq!(res, 0);
    }
}

/// The example binary, built on demand.
fn server_binary() -> PathBuf {
    crate::support::example_binary("file_server")
}

/// The driver the calling `#[runtime::test]` half runs, as `RUNTIME_DRIVER` spells it.
pub(crate) fn this_driver() -> &'static str {
    match runtime::driver_kind() {
        runtime::DriverKind::Uring => "uring",
        _ => "epoll",
    }
}

/// Starts a server on this test's driver over a fresh directory holding
/// `hello.txt`, `sub/a.html`, dotfiles (`.env`, `.git/HEAD`) and a symlink
/// out of the root; `args` are extra command-line flags.
pub(crate) fn start(name: &str, args: &[&str]) -> Server {
    let driver = this_driver();
    let root = std::env::temp_dir().join(format!("fs-test-{}-{driver}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::create_dir_all(root.join(".git")).unwrap();
    std::fs::write(root.join("hello.txt"), b"hello, world\n").unwrap();
    std::fs::write(root.join("sub/a.html"), b"<p>a</p>").unwrap();
    std::fs::write(root.join("secret-outside"), b"x").unwrap();
    std::fs::write(root.join(".env"), b"SECRET=1\n").unwrap();
    std::fs::write(root.join(".git/HEAD"), b"ref: refs/heads/main\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("sub/escape")).unwrap();
    let mut child = Command::new(server_binary())
        .arg(&root)
        .args(["--addr", "127.0.0.1:0", "--head-timeout-ms", "300"])
        .args(args)
        .env("RUNTIME_DRIVER", driver)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("unexpected banner: {line:?}"))
        .to_string();
    let want = if driver == "uring" {
        "io_uring"
    } else {
        "epoll"
    };
    assert!(line.contains(want), "{line}");
    Server {
        child,
        addr,
        root,
        stdout,
    }
}

/// A response: status, headers (lower-case names), body.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(crate) fn connect(s: &Server) -> TcpStream {
    let c = TcpStream::connect(&s.addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    c
}

/// Reads one response head.
pub(crate) fn read_head(r: &mut impl BufRead) -> Response {
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
    Response {
        status,
        headers,
        body: Vec::new(),
    }
}

/// Reads one response; `head_only` for HEAD requests.
pub(crate) fn read_response(r: &mut impl BufRead, head_only: bool) -> Response {
    let mut resp = read_head(r);
    let len: usize = resp
        .header("content-length")
        .map_or(0, |v| v.parse().unwrap());
    let mut body = vec![0; if head_only { 0 } else { len }];
    r.read_exact(&mut body).unwrap();
    resp.body = body;
    resp
}

/// Sends `raw` as is on a new connection and reads one response.
pub(crate) fn raw(s: &Server, raw: &str) -> Response {
    let c = connect(s);
    (&c).write_all(raw.as_bytes()).unwrap();
    read_response(&mut BufReader::new(&c), raw.starts_with("HEAD "))
}

/// A GET of `target` with `extra` header lines (each ending in `\r\n`).
pub(crate) fn get(s: &Server, target: &str, extra: &str) -> Response {
    raw(
        s,
        &format!("GET {target} HTTP/1.1\r\nHost: t\r\n{extra}\r\n"),
    )
}
