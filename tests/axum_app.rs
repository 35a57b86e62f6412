//! `examples/axum_app.rs` end to end, on both drivers: the app runs as a
//! child process on the driver of the test's half, with two workers;
//! hyper's client (on runtime) walks its JSON, state, `runtime::fs`,
//! `runtime::time`, timeout and static-file routes over HTTP and HTTPS
//! (HTTP/2 by ALPN), a WebSocket client talks to its echo route, curl
//! fetches a route if it is installed, no thread of the app belongs to a
//! tokio runtime, and SIGTERM shuts it down gracefully (exit 0).
#![cfg(all(feature = "hyper", feature = "tls", feature = "websocket"))]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, StatusCode, Version};
use hyper_util::rt::TokioIo;
use runtime::io::compat::HyperExecutor;
use runtime::net::TcpStream;
use support::{within, TempPath};
use tokio_tungstenite::tungstenite::Message;

/// A running `axum_app` child, killed on drop unless it exited.
struct App {
    child: Child,
    addr: String,
    out: BufReader<std::process::ChildStdout>,
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts the app on this half's driver with two workers and `args`.
fn start(static_dir: &std::path::Path, args: &[&str]) -> App {
    let driver = match runtime::driver_kind() {
        runtime::DriverKind::Uring => "uring",
        _ => "epoll",
    };
    let mut child = Command::new(support::example_binary("axum_app"))
        .args([
            "--addr",
            "127.0.0.1:0",
            "--workers",
            "2",
            "--timeout-ms",
            "300",
        ])
        .arg("--static")
        .arg(static_dir)
        .args(args)
        .env("RUNTIME_DRIVER", driver)
        .stdout(Stdio::piped())
        .spawn()
        .expect("axum_app starts");
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let mut banner = String::new();
    out.read_line(&mut banner).expect("banner");
    let addr = banner
        .split("://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap_or_else(|| panic!("unexpected banner: {banner:?}"))
        .to_string();
    for _ in 0..2 {
        let mut line = String::new();
        out.read_line(&mut line).expect("driver lines");
        let want = if driver == "uring" {
            "io_uring"
        } else {
            "epoll"
        };
        assert!(line.contains(want), "{driver}: {line}");
    }
    App { child, addr, out }
}

/// One request over a fresh connection on `io`; status, version and body.
async fn exchange<IO>(io: IO, h2: bool, req: Request<Full<Bytes>>) -> (StatusCode, Version, Bytes)
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let res = if h2 {
        let (mut send, conn) = hyper::client::conn::http2::handshake(HyperExecutor, io)
            .await
            .unwrap();
        drop(runtime::spawn(conn));
        send.send_request(req).await.unwrap()
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        drop(runtime::spawn(conn));
        send.send_request(req).await.unwrap()
    };
    let (status, version) = (res.status(), res.version());
    (
        status,
        version,
        res.into_body().collect().await.unwrap().to_bytes(),
    )
}

fn get(path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("host", "localhost")
        .body(Full::default())
        .unwrap()
}

/// GET over plain HTTP/1.1.
async fn http(addr: &str, req: Request<Full<Bytes>>) -> (StatusCode, String) {
    let io = TcpStream::connect(addr).await.unwrap();
    let (status, _, body) = within("request", exchange(io, false, req)).await;
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// curl, if this machine has it.
fn curl() -> Option<&'static str> {
    let found = Command::new("curl")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!(
            "curl not installed: its checks are skipped (hyper's client covers the same routes)"
        );
    }
    found.then_some("curl")
}

/// A directory with `hello.txt`, removed on drop.
fn static_dir() -> TempPath {
    let dir = TempPath::new("axum-app-static");
    std::fs::create_dir_all(&*dir).unwrap();
    std::fs::write(dir.join("hello.txt"), "one\ntwo\nthree\n").unwrap();
    dir
}

/// Names of the child's threads.
fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .map(|s| s.trim().to_string())
        .collect()
}

/// SIGTERM, then the exit status and the rest of stdout.
fn terminate(mut app: App) -> (std::process::ExitStatus, String) {
    // SAFETY: kill(2) with the child's pid and a signal number takes no pointers.
    unsafe { libc::kill(app.child.id() as i32, libc::SIGTERM) };
    let status = app.child.wait().unwrap();
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut app.out, &mut rest);
    (status, rest)
}

#[runtime::test]
async fn the_axum_app_over_http_and_websocket() {
    let dir = static_dir();
    let app = start(&dir, &[]);
    let addr = app.addr.clone();

    let (s, body) = http(&addr, get("/")).await;
    assert_eq!(
        (s, body.as_str()),
        (StatusCode::OK, "Hello from axum on runtime!")
    );
    let (s, body) = http(&addr, get("/api/hello")).await;
    assert_eq!(s, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["message"], "hello");
    // Shared state across requests (and workers).
    for text in ["first", "second"] {
        let req = Request::post("/api/notes")
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(format!("{{\"text\":\"{text}\"}}"))))
            .unwrap();
        assert_eq!(http(&addr, req).await.0, StatusCode::CREATED);
    }
    let (_, body) = http(&addr, get("/api/notes")).await;
    let notes: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(notes[1]["text"], "second");
    // Handlers awaiting runtime::fs and runtime::time.
    let (s, body) = http(&addr, get("/api/file/hello.txt")).await;
    assert_eq!(s, StatusCode::OK);
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["bytes"].as_u64(), v["lines"].as_u64()),
        (Some(14), Some(3))
    );
    assert_eq!(
        http(&addr, get("/api/slow?ms=5")).await,
        (StatusCode::OK, "slept 5 ms".into())
    );
    // The timeout layer (300 ms here).
    assert_eq!(
        http(&addr, get("/api/slow?ms=10000")).await.0,
        StatusCode::REQUEST_TIMEOUT
    );
    // Static files through ServeDir.
    let (s, body) = http(&addr, get("/static/hello.txt")).await;
    assert_eq!((s, body.as_str()), (StatusCode::OK, "one\ntwo\nthree\n"));

    // The WebSocket echo.
    let tcp = TcpStream::connect(addr.as_str()).await.unwrap();
    let (mut ws, _) = within(
        "ws handshake",
        tokio_tungstenite::client_async(format!("ws://{addr}/ws"), tcp),
    )
    .await
    .unwrap();
    for text in ["ping", "pong"] {
        ws.send(Message::text(text)).await.unwrap();
        let back = within("ws echo", ws.next()).await.unwrap().unwrap();
        assert_eq!(back, Message::text(text));
    }
    ws.close(None).await.unwrap();

    if let Some(curl) = curl() {
        let url = format!("http://{addr}/api/hello");
        let out = runtime::spawn_blocking(move || Command::new(curl).args(["-sf", &url]).output())
            .await
            .unwrap()
            .unwrap();
        assert!(String::from_utf8_lossy(&out.stdout).contains("\"message\":\"hello\""));
    }

    let names = thread_names(app.child.id());
    assert!(
        !names.iter().any(|n| n.starts_with("tokio")),
        "a tokio runtime runs in the app: {names:?}"
    );
    let (status, rest) = terminate(app);
    assert!(status.success(), "{status:?}");
    assert!(rest.contains("shut down"), "{rest}");
}

#[runtime::test]
async fn the_axum_app_over_https() {
    let dir = static_dir();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let app = start(
        &dir,
        &[
            "--tls-cert",
            cert_path.to_str().unwrap(),
            "--tls-key",
            key_path.to_str().unwrap(),
        ],
    );
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    for (alpn, version) in [("h2", Version::HTTP_2), ("http/1.1", Version::HTTP_11)] {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = vec![alpn.as_bytes().to_vec()];
        let tcp = TcpStream::connect(app.addr.as_str()).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = within(
            "handshake",
            tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
        )
        .await
        .unwrap();
        let h2 = version == Version::HTTP_2;
        let (s, got, body) = within(
            "exchange",
            exchange(TokioIo::new(tls), h2, get("/api/file/hello.txt")),
        )
        .await;
        assert_eq!((s, got), (StatusCode::OK, version), "{alpn}");
        assert!(
            String::from_utf8_lossy(&body).contains("\"lines\":3"),
            "{alpn}"
        );
    }
    if let Some(curl) = curl() {
        let port = app.addr.rsplit(':').next().unwrap().to_string();
        let resolve = format!("localhost:{port}:127.0.0.1");
        let url = format!("https://localhost:{port}/static/hello.txt");
        let cacert = cert_path.to_str().unwrap().to_string();
        let out = runtime::spawn_blocking(move || {
            Command::new(curl)
                .args(["-sf", "--cacert", &cacert, "--resolve", &resolve, &url])
                .output()
        })
        .await
        .unwrap()
        .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "one\ntwo\nthree\n");
    }
    let (status, _) = terminate(app);
    assert!(status.success(), "{status:?}");
}
