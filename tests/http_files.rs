//! `runtime::http::ServeDir` in an axum `Router`, served by `http::serve`,
//! on both drivers: types, ETags and conditional requests, ranges,
//! precompressed siblings, `index.html` and the slash redirect, streamed
//! large files, and no way out of the root (`..`, encoded, symlinks).
#![cfg(feature = "hyper")]

mod support;

use std::future::IntoFuture;
use std::net::SocketAddr;

use axum::routing::get;
use axum::Router;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{HeaderMap, Request, StatusCode};
use runtime::http::ServeDir;
use runtime::net::{TcpListener, TcpStream};
use support::TempPath;

/// A site: `hello.txt`, `hello.txt.gz`, `big.bin` (1 MiB + 3), `sub/index.html`,
/// `.secret`, and a symlink `out` to a file outside the root.
fn site() -> (TempPath, TempPath) {
    let root = TempPath::new("serve-dir");
    let outside = TempPath::new("serve-dir-outside");
    std::fs::create_dir_all(root.join("sub")).unwrap();
    std::fs::write(root.join("hello.txt"), "hello, files").unwrap();
    std::fs::write(root.join("hello.txt.gz"), "pretend gzip").unwrap();
    std::fs::write(root.join("big.bin"), big()).unwrap();
    std::fs::write(root.join("sub/index.html"), "<p>index</p>").unwrap();
    std::fs::write(root.join(".secret"), "hidden").unwrap();
    std::fs::write(&*outside, "outside").unwrap();
    std::os::unix::fs::symlink(&*outside, root.join("out")).unwrap();
    (root, outside)
}

fn big() -> Vec<u8> {
    (0..(1 << 20) + 3).map(|i: u32| (i % 251) as u8).collect()
}

/// GET (or `method`) `path` with extra headers; status, headers and body.
async fn fetch(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Bytes) {
    let io = TcpStream::connect(addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
    drop(runtime::spawn(conn));
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("host", "t");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = send
        .send_request(req.body(Empty::<Bytes>::new()).unwrap())
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

#[runtime::test]
async fn serve_dir_in_an_axum_router() {
    let (root, _outside) = site();
    let app = Router::new()
        .route("/api", get(|| async { "api" }))
        .nest_service(
            "/static",
            ServeDir::new(&*root).unwrap().precompressed(true),
        );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = runtime::spawn(runtime::http::serve(listener, app).into_future());

    let (s, h, body) = fetch(addr, "GET", "/static/hello.txt", &[]).await;
    assert_eq!((s, &body[..]), (StatusCode::OK, &b"hello, files"[..]));
    assert_eq!(h["content-type"], "text/plain; charset=utf-8");
    assert_eq!(h["accept-ranges"], "bytes");
    assert!(h.contains_key("last-modified"));
    let etag = h["etag"].to_str().unwrap().to_string();

    // Conditionals: a matching If-None-Match is 304, a failing If-Match 412.
    let (s, _, body) = fetch(
        addr,
        "GET",
        "/static/hello.txt",
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!((s, body.len()), (StatusCode::NOT_MODIFIED, 0));
    let (s, _, _) = fetch(
        addr,
        "GET",
        "/static/hello.txt",
        &[("if-match", "\"nope\"")],
    )
    .await;
    assert_eq!(s, StatusCode::PRECONDITION_FAILED);

    // Ranges.
    let (s, h, body) = fetch(addr, "GET", "/static/hello.txt", &[("range", "bytes=7-")]).await;
    assert_eq!((s, &body[..]), (StatusCode::PARTIAL_CONTENT, &b"files"[..]));
    assert_eq!(h["content-range"], "bytes 7-11/12");
    let (s, h, _) = fetch(addr, "GET", "/static/hello.txt", &[("range", "bytes=50-")]).await;
    assert_eq!(s, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(h["content-range"], "bytes */12");

    // A precompressed sibling for a client that accepts it.
    let (s, h, body) = fetch(
        addr,
        "GET",
        "/static/hello.txt",
        &[("accept-encoding", "gzip")],
    )
    .await;
    assert_eq!((s, &body[..]), (StatusCode::OK, &b"pretend gzip"[..]));
    assert_eq!(h["content-encoding"], "gzip");
    assert_eq!(h["vary"], "accept-encoding");
    assert_eq!(h["content-type"], "text/plain; charset=utf-8");

    // HEAD, directories, a streamed large file.
    let (s, h, body) = fetch(addr, "HEAD", "/static/hello.txt", &[]).await;
    assert_eq!((s, body.len()), (StatusCode::OK, 0));
    assert_eq!(h["content-length"], "12");
    let (s, h, _) = fetch(addr, "GET", "/static/sub", &[]).await;
    assert_eq!(s, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        h["location"], "sub/",
        "relative: /static/sub → /static/sub/"
    );
    let (s, _, body) = fetch(addr, "GET", "/static/sub/", &[]).await;
    assert_eq!((s, &body[..]), (StatusCode::OK, &b"<p>index</p>"[..]));
    let (s, _, body) = fetch(addr, "GET", "/static/big.bin", &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body[..] == big()[..], "the streamed body differs");
    let (s, _, body) = fetch(
        addr,
        "GET",
        "/static/big.bin",
        &[("range", "bytes=1048570-")],
    )
    .await;
    assert_eq!(
        (s, &body[..]),
        (StatusCode::PARTIAL_CONTENT, &big()[1_048_570..])
    );

    // No way out, no dotfiles, no writes.
    for (path, want) in [
        ("/static/../Cargo.toml", StatusCode::FORBIDDEN),
        ("/static/%2e%2e/Cargo.toml", StatusCode::FORBIDDEN),
        ("/static/sub/%2e%2e/%2e%2e/x", StatusCode::FORBIDDEN),
        ("/static/%2E%2e%2fCargo.toml", StatusCode::FORBIDDEN),
        ("/static/sub%2F%2e%2e%2F%2e%2e%2Fx", StatusCode::FORBIDDEN),
        ("/static/hello.txt%00", StatusCode::BAD_REQUEST),
        ("/static/%00/x", StatusCode::BAD_REQUEST),
        ("/static/out", StatusCode::FORBIDDEN),
        ("/static/.secret", StatusCode::NOT_FOUND),
        ("/static/missing", StatusCode::NOT_FOUND),
        ("/static/hello.txt/", StatusCode::NOT_FOUND),
    ] {
        let (s, _, body) = fetch(addr, "GET", path, &[]).await;
        assert_eq!(s, want, "{path}: {:?}", String::from_utf8_lossy(&body));
    }
    let (s, h, _) = fetch(addr, "POST", "/static/hello.txt", &[]).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h["allow"], "GET, HEAD");
    let (s, _, body) = fetch(addr, "GET", "/api", &[]).await;
    assert_eq!((s, &body[..]), (StatusCode::OK, &b"api"[..]));
    server.abort();
    let _ = std::fs::remove_dir_all(&*root);
}
