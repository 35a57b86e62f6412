//! The `hyper_server` and `hyper_client` examples end to end, on both
//! drivers: the server runs as a child process with `RUNTIME_DRIVER` set to
//! the driver of the test's own half; hyper's client (on runtime, over the
//! same driver) fetches every route over HTTP/1.1, h2c and HTTPS (rustls
//! trusting a certificate rcgen makes here, HTTP/1.1 and HTTP/2 by ALPN);
//! curl does the same if it is installed; the client example keeps one
//! connection for `--repeat`; `--header-timeout` (hyper's timer on runtime)
//! ends a stalled request.
#![cfg(all(feature = "hyper", feature = "tokio-io"))]

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, Version};
use hyper_util::rt::TokioIo;
use runtime::io::compat::HyperExecutor;
use runtime::net::{TcpListener, TcpStream};
use support::{within, TempPath};

/// The examples, built once per test process with this build's features
/// (so the library is not rebuilt), in this build's profile.
fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let dir = BUILT.get_or_init(|| {
        let mut features = vec!["hyper", "tokio-io"];
        if cfg!(feature = "futures-io") {
            features.push("futures-io");
        }
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--quiet", "--example", "hyper_server"])
            .args(["--example", "hyper_client", "--features"])
            .arg(features.join(","));
        if !cfg!(debug_assertions) {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("cargo runs");
        assert!(status.success(), "building the hyper examples failed");
        let exe = std::env::current_exe().expect("the test's path");
        // target/<profile>/deps/this-test → target/<profile>/examples
        exe.parent()
            .and_then(Path::parent)
            .expect("target/<profile>")
            .join("examples")
    });
    dir.join(name)
}

/// The name `RUNTIME_DRIVER` gives the driver this test half runs on.
fn this_driver() -> &'static str {
    match runtime::driver_kind() {
        runtime::DriverKind::Uring => "uring",
        _ => "epoll",
    }
}

/// A running `hyper_server` child, killed on drop.
struct Server {
    child: Child,
    addr: String,
    /// The child's stdout, kept open: it may print more (one line per worker).
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `hyper_server` on the current driver with `args`, on any free port.
fn start(args: &[&str]) -> Server {
    let driver = this_driver();
    let mut child = Command::new(example("hyper_server"))
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .env("RUNTIME_DRIVER", driver)
        .stdout(Stdio::piped())
        .spawn()
        .expect("hyper_server starts");
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let (mut banner, mut info) = (String::new(), String::new());
    out.read_line(&mut banner).expect("banner");
    out.read_line(&mut info).expect("driver line");
    let addr = banner
        .split("://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("unexpected banner: {banner:?}"))
        .to_string();
    let expected = if driver == "uring" {
        "io_uring"
    } else {
        "epoll"
    };
    assert!(info.contains(expected), "{driver}: {info}");
    Server {
        child,
        addr,
        _stdout: out,
    }
}

/// One response, body collected.
struct Reply {
    status: StatusCode,
    version: Version,
    content_type: String,
    body: Bytes,
}

/// Sends `reqs` in turn over one connection on `io` (HTTP/2 if `h2`).
async fn exchange<IO>(io: IO, h2: bool, reqs: Vec<Request<Full<Bytes>>>) -> Vec<Reply>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
{
    let mut replies = Vec::new();
    if h2 {
        let (mut sender, conn) = hyper::client::conn::http2::handshake(HyperExecutor, io)
            .await
            .expect("h2 handshake");
        let _conn = runtime::spawn(conn);
        for req in reqs {
            let res = sender.send_request(req).await.expect("h2 response");
            replies.push(collect(res).await);
        }
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
            .await
            .expect("h1 handshake");
        let _conn = runtime::spawn(conn);
        for req in reqs {
            sender.ready().await.expect("connection reusable");
            let res = sender.send_request(req).await.expect("h1 response");
            replies.push(collect(res).await);
        }
    }
    replies
}

async fn collect(res: hyper::Response<hyper::body::Incoming>) -> Reply {
    let (status, version) = (res.status(), res.version());
    let content_type = res
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("").to_string())
        .unwrap_or_default();
    let body = res.into_body().collect().await.expect("body").to_bytes();
    Reply {
        status,
        version,
        content_type,
        body,
    }
}

/// What each request must get: status, content type prefix, body prefix.
type Expected = Vec<(u16, &'static str, &'static str)>;

/// Every route, once each, and what each must answer.
fn routes(authority: &str) -> (Vec<Request<Full<Bytes>>>, Expected) {
    let big = "x".repeat(100_000);
    let get = |path: &str| {
        Request::get(format!("http://{authority}{path}"))
            .header(hyper::header::HOST, authority)
            .body(Full::new(Bytes::new()))
            .expect("a valid request")
    };
    let reqs = vec![
        get("/"),
        get("/json"),
        Request::post(format!("http://{authority}/echo"))
            .header(hyper::header::HOST, authority)
            .body(Full::new(Bytes::from(format!("echo me {big}"))))
            .expect("a valid request"),
        get("/hello/ferris"),
        get("/nowhere"),
    ];
    let want = vec![
        (200, "text/plain", "Hello, world!"),
        (200, "application/json", r#"{"message":"Hello, world!"}"#),
        (200, "application/octet-stream", "echo me "),
        (200, "text/plain", "Hello, ferris!"),
        (404, "", ""),
    ];
    (reqs, want)
}

/// Checks `replies` against [`routes`]' expectations.
fn check(what: &str, replies: &[Reply], want: &[(u16, &str, &str)], version: Version) {
    assert_eq!(replies.len(), want.len(), "{what}");
    for (reply, (status, ctype, body)) in replies.iter().zip(want) {
        assert_eq!(reply.status.as_u16(), *status, "{what}");
        assert_eq!(reply.version, version, "{what}");
        assert!(
            reply.content_type.starts_with(ctype),
            "{what}: {}",
            reply.content_type
        );
        let text = String::from_utf8_lossy(&reply.body);
        assert!(text.starts_with(body), "{what}: {text:.60}");
    }
    // The echo came back whole.
    assert_eq!(replies[2].body.len(), "echo me ".len() + 100_000, "{what}");
}

#[runtime::test]
async fn http1_and_h2c_with_hypers_client_and_curl() {
    let server = start(&["--workers", "2"]);
    for h2 in [false, true] {
        let (reqs, want) = routes(&server.addr);
        let stream = TcpStream::connect(server.addr.as_str()).await.unwrap();
        let replies = within("exchange", exchange(stream, h2, reqs)).await;
        let version = if h2 {
            Version::HTTP_2
        } else {
            Version::HTTP_11
        };
        check(&format!("h2={h2}"), &replies, &want, version);
    }
    if let Some(curl) = curl() {
        let url = format!("http://{}/hello/curl", server.addr);
        assert_eq!(curl_get(&curl, &["--http1.1", &url]).await, "Hello, curl!");
        if curl.http2 {
            let url = format!("http://{}/json", server.addr);
            let body = curl_get(&curl, &["--http2-prior-knowledge", &url]).await;
            assert_eq!(body, r#"{"message":"Hello, world!"}"#);
        }
    }
}

#[runtime::test]
async fn https_through_rustls_with_hypers_client_and_curl() {
    let dir = TempPath::new("hyper-tls");
    std::fs::create_dir_all(&*dir).unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let server = start(&[
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ]);

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    for (alpn, version) in [("http/1.1", Version::HTTP_11), ("h2", Version::HTTP_2)] {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = vec![alpn.as_bytes().to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = TcpStream::connect(server.addr.as_str()).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        // rustls over the tokio-io traits of `TcpStream`.
        let tls = within("handshake", connector.connect(name, tcp))
            .await
            .unwrap();
        let (reqs, want) = routes(&server.addr);
        let h2 = version == Version::HTTP_2;
        let replies = within("exchange", exchange(TokioIo::new(tls), h2, reqs)).await;
        check(alpn, &replies, &want, version);
    }

    if let Some(curl) = curl() {
        let port = server.addr.rsplit(':').next().unwrap();
        let resolve = format!("localhost:{port}:127.0.0.1");
        let url = format!("https://localhost:{port}/hello/tls");
        let cacert = cert_path.to_str().unwrap();
        let args = ["--cacert", cacert, "--resolve", &resolve, &url];
        assert_eq!(curl_get(&curl, &args).await, "Hello, tls!");
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&*dir);
}

#[runtime::test]
async fn the_client_example_reuses_one_connection() {
    let server = start(&[]);
    // A counting proxy in front of the server: one accept per connection.
    let front = TcpListener::bind("127.0.0.1:0").unwrap();
    let front_addr = front.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let (count, upstream) = (accepted.clone(), server.addr.clone());
    let _proxy = runtime::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = front.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let upstream = upstream.clone();
            drop(runtime::spawn(async move {
                let mut outbound = TcpStream::connect(upstream.as_str()).await?;
                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await
            }));
        }
    });

    for (flag, version) in [(None, "HTTP/1.1"), (Some("--http2"), "HTTP/2.0")] {
        accepted.store(0, Ordering::SeqCst);
        let url = format!("http://{front_addr}/hello/client");
        let mut cmd = Command::new(example("hyper_client"));
        cmd.args([url.as_str(), "--repeat", "3"])
            .args(flag)
            .env("RUNTIME_DRIVER", this_driver());
        let out = within(
            "hyper_client",
            runtime::spawn_blocking(move || cmd.output()),
        )
        .await
        .unwrap()
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            stdout.matches(&format!("{version} 200 OK")).count(),
            3,
            "{stdout}"
        );
        assert_eq!(stdout.matches("Hello, client!").count(), 3, "{stdout}");
        assert!(stdout.contains("content-type: text/plain"), "{stdout}");
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one connection for 3 requests"
        );
    }
}

#[runtime::test]
async fn header_timeout_closes_a_stalled_request() {
    let server = start(&["--header-timeout", "0.2"]);
    let stream = TcpStream::connect(server.addr.as_str()).await.unwrap();
    // Half a request head, then nothing: hyper's timer (HyperTimer) must end it.
    let (res, _) = stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec())
        .await;
    res.unwrap();
    let mut got = Vec::new();
    loop {
        let (n, buf) = within("the server closing", stream.read(Vec::with_capacity(512))).await;
        match n {
            Ok(0) | Err(_) => break,
            Ok(_) => got.extend_from_slice(&buf),
        }
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
}

/// curl, if installed, and whether it speaks HTTP/2.
struct Curl {
    path: PathBuf,
    http2: bool,
}

fn curl() -> Option<Curl> {
    let out = Command::new("curl").arg("-V").output().ok()?;
    if !out.status.success() {
        return None;
    }
    let http2 = String::from_utf8_lossy(&out.stdout).contains("HTTP2");
    Some(Curl {
        path: PathBuf::from("curl"),
        http2,
    })
}

/// The body curl fetched with `args`; panics if curl fails.
async fn curl_get(curl: &Curl, args: &[&str]) -> String {
    let mut cmd = Command::new(&curl.path);
    cmd.args(["-sS", "--fail", "--max-time", "20"]).args(args);
    let out = runtime::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .expect("curl runs");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("a UTF-8 body")
}
