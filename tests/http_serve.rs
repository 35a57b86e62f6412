//! `runtime::http::serve` on both drivers: an axum router on two workers
//! over HTTP/1.1, h2c and HTTPS (hyper's client), graceful shutdown that
//! lets a request in progress finish, the connection limit, and the
//! load-aware spreading of one listener's connections: a worker kept busy
//! by a long task gets no new connection, and under even load the workers
//! split the connections within 10%.
#![cfg(all(feature = "hyper", feature = "tls"))]

use std::future::IntoFuture;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, Version};
use hyper_util::rt::TokioIo;
use runtime::io::compat::HyperExecutor;
use runtime::net::{TcpListener, TcpStream};

/// A safety net for client reads that should end quickly.
const LIMIT: Duration = Duration::from_secs(30);

/// The thread serving the request, as the response body.
async fn who() -> String {
    format!("{:?}", std::thread::current().id())
}

fn app() -> Router {
    Router::new().route("/who", get(who)).route(
        "/slow",
        get(|| async {
            // A handler awaiting a runtime timer directly (it is Send).
            runtime::time::sleep(Duration::from_millis(100)).await;
            "slow done"
        }),
    )
}

/// One GET over a fresh connection from a plain thread's blocking socket
/// (`Connection: close`): the body.
fn blocking_get(addr: SocketAddr, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.split("\r\n\r\n").nth(1).unwrap_or_default().to_string()
}

/// Sends one keep-alive GET on `s` and reads its response: the body.
fn keep_alive_get(s: &mut std::net::TcpStream) -> String {
    s.write_all(b"GET /who HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    while !got.ends_with(b"\r\n\r\n") {
        assert_eq!(s.read(&mut byte).unwrap(), 1, "headers cut short");
        got.push(byte[0]);
    }
    let head = String::from_utf8(got).unwrap().to_ascii_lowercase();
    let len: usize = head
        .split("content-length: ")
        .nth(1)
        .and_then(|v| v.split("\r\n").next())
        .and_then(|v| v.parse().ok())
        .expect("a content-length");
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).unwrap();
    String::from_utf8(body).unwrap()
}

/// Starts `serve` on a new listener; returns its address, the server's
/// task and the trigger of its graceful shutdown.
fn start(
    app: Router,
) -> (
    SocketAddr,
    runtime::JoinHandle<std::io::Result<()>>,
    tokio::sync::oneshot::Sender<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = runtime::http::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = rx.await;
        })
        .into_future();
    (addr, runtime::spawn(server), tx)
}

/// GET `path` with hyper's client over HTTP/1.1 or h2c, on this worker.
async fn hyper_get(addr: SocketAddr, path: &str, h2: bool) -> (Version, String) {
    let io = TcpStream::connect(addr).await.unwrap();
    get_over(io, path, h2).await
}

async fn get_over<IO>(io: IO, path: &str, h2: bool) -> (Version, String)
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let req = Request::get(path)
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())
        .unwrap();
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
    let version = res.version();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (version, String::from_utf8(body.to_vec()).unwrap())
}

#[runtime::test(workers = 2)]
async fn serves_http1_and_h2c_and_shuts_down_gracefully() {
    let (addr, server, stop) = start(app());
    for h2 in [false, true] {
        let (version, body) = hyper_get(addr, "/slow", h2).await;
        assert_eq!(body, "slow done");
        let want = if h2 {
            Version::HTTP_2
        } else {
            Version::HTTP_11
        };
        assert_eq!(version, want);
    }
    // A request in progress when the shutdown begins still gets its answer.
    let slow = runtime::spawn(hyper_get(addr, "/slow", false));
    runtime::time::sleep(Duration::from_millis(20)).await;
    stop.send(()).unwrap();
    assert_eq!(slow.await.unwrap().1, "slow done");
    server.await.unwrap().unwrap();
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "the listener is closed once serve returns"
    );
}

#[runtime::test(workers = 2)]
async fn at_the_connection_limit_new_connections_wait() {
    let first_closed = Arc::new(AtomicBool::new(false));
    let seen = first_closed.clone();
    let app = Router::new().route("/who", get(who)).route(
        "/second",
        get(move || async move { format!("{}", seen.load(Ordering::SeqCst)) }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = runtime::spawn(
        runtime::http::serve(listener, app)
            .max_connections(1)
            .into_future(),
    );
    let first = runtime::spawn_blocking(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        keep_alive_get(&mut s);
        s
    })
    .await
    .unwrap();
    let second = std::thread::spawn(move || blocking_get(addr, "/second"));
    // Time for a server without the limit to answer the second (a delay,
    // not an assertion on time).
    runtime::time::sleep(Duration::from_millis(100)).await;
    first_closed.store(true, Ordering::SeqCst);
    drop(first);
    let answer = runtime::spawn_blocking(move || second.join().unwrap())
        .await
        .unwrap();
    assert_eq!(
        answer, "true",
        "the second connection was served before the first closed"
    );
    server.abort();
}

#[runtime::test(workers = 2)]
async fn a_busy_worker_gets_no_new_connections() {
    let here = who().await;
    let (addr, server, stop) = start(app());
    // Let the server start its acceptors (worker 1's is on its way there).
    for _ in 0..4 {
        runtime::task::yield_now().await;
    }
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    let client = std::thread::spawn(move || {
        let answers: Vec<String> = (0..20).map(|_| blocking_get(addr, "/who")).collect();
        flag.store(true, Ordering::SeqCst);
        answers
    });
    // Worker 0 is busy with a long computation until the client is done.
    while !done.load(Ordering::SeqCst) {
        std::hint::spin_loop();
    }
    let answers = client.join().unwrap();
    assert_eq!(answers.len(), 20);
    for a in &answers {
        assert!(!a.is_empty(), "a request went unanswered");
        assert_ne!(a, &here, "the busy worker 0 got a connection");
    }
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[runtime::test(workers = 2)]
async fn under_even_load_connections_split_within_ten_percent() {
    let here = who().await;
    let (addr, server, stop) = start(app());
    const CONNS: usize = 200;
    // Each connection is answered before the next one opens, and all stay
    // open: the load is even and every worker keeps turning, so the split
    // is decided by the live counts alone. (A burst of connects on a loaded
    // machine can leave a worker unscheduled long enough to look busy, and
    // a busy worker rightly gets none: that is the test above, not this.)
    let counts = runtime::spawn_blocking(move || {
        let mut conns = Vec::with_capacity(CONNS);
        let mut answers = Vec::with_capacity(CONNS);
        for _ in 0..CONNS {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(LIMIT)).unwrap();
            answers.push(keep_alive_get(&mut s));
            conns.push(s);
        }
        answers
    })
    .await
    .unwrap();
    let on_0 = counts.iter().filter(|a| **a == here).count();
    let on_1 = CONNS - on_0;
    let gap = on_0.abs_diff(on_1);
    assert!(
        gap * 10 <= CONNS,
        "worker 0 served {on_0} and worker 1 {on_1} of {CONNS} connections"
    );
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

/// A self-signed certificate for `localhost`: the server's configuration
/// (h2 and http/1.1 by ALPN) and a client's that trusts it.
fn tls_configs() -> (Arc<rustls::ServerConfig>, Arc<rustls::ClientConfig>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    let mut client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    client.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    (Arc::new(server), Arc::new(client))
}

#[runtime::test(workers = 2)]
async fn serves_https_with_alpn() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = runtime::spawn(
        runtime::http::serve(listener, app())
            .tls(Arc::new(config))
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .into_future(),
    );
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.cert.der().clone()).unwrap();
    for (alpn, version) in [("http/1.1", Version::HTTP_11), ("h2", Version::HTTP_2)] {
        let mut client = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        client.alpn_protocols = vec![alpn.as_bytes().to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = connector.connect(name, tcp).await.unwrap();
        let (got, body) = get_over(TokioIo::new(tls), "/slow", version == Version::HTTP_2).await;
        assert_eq!((got, body.as_str()), (version, "slow done"), "{alpn}");
    }
    tx.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[runtime::test]
async fn the_timeout_layer_answers_408_on_runtime_timers() {
    let app = Router::new()
        .route(
            "/stuck",
            get(|| async {
                runtime::time::sleep(Duration::from_secs(3600)).await;
                "never"
            }),
        )
        .route("/who", get(who))
        .layer(runtime::http::TimeoutLayer::new(Duration::from_millis(20)));
    let (addr, server, stop) = start(app);
    let req = |path: &'static str| async move {
        let io = TcpStream::connect(addr).await.unwrap();
        let (mut send, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
        drop(runtime::spawn(conn));
        let req = Request::get(path).body(Empty::<Bytes>::new()).unwrap();
        send.send_request(req).await.unwrap().status()
    };
    assert_eq!(req("/stuck").await, hyper::StatusCode::REQUEST_TIMEOUT);
    assert_eq!(req("/who").await, hyper::StatusCode::OK);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[cfg(feature = "websocket")]
#[runtime::test(workers = 2)]
async fn a_websocket_echo_route() {
    use futures_util::{SinkExt, StreamExt};
    use runtime::http::ws::{Message, WebSocketUpgrade};

    let app = Router::new().route(
        "/ws",
        get(|ws: WebSocketUpgrade| async move {
            ws.on_upgrade(|mut socket| async move {
                while let Some(Ok(msg)) = socket.next().await {
                    if msg.is_close() || socket.send(msg).await.is_err() {
                        break;
                    }
                }
            })
        }),
    );
    let (addr, server, stop) = start(app);
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut ws, res) = tokio_tungstenite::client_async(format!("ws://{addr}/ws"), tcp)
        .await
        .unwrap();
    assert_eq!(res.status(), hyper::StatusCode::SWITCHING_PROTOCOLS);
    for text in ["hello", "world"] {
        ws.send(Message::text(text)).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text(text));
    }
    ws.close(None).await.unwrap();
    // A plain GET is refused.
    let (_, body) = hyper_get(addr, "/ws", false).await;
    assert!(body.contains("upgrade"), "{body}");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[cfg(feature = "client")]
#[runtime::test(workers = 2)]
async fn hyper_utils_pooled_client_through_the_connector() {
    use hyper_util::client::legacy::Client;
    use runtime::http::client::Connector;
    use runtime::io::compat::HyperTimer;

    let (addr, server, stop) = start(app());
    let (server_tls, client_tls) = tls_configs();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let tls_port = listener.local_addr().unwrap().port();
    let tls_server = runtime::spawn(
        runtime::http::serve(listener, app())
            .tls(server_tls)
            .with_graceful_shutdown(runtime::time::sleep(Duration::from_secs(3600)))
            .into_future(),
    );
    let client: Client<Connector, Empty<Bytes>> = Client::builder(HyperExecutor)
        .pool_timer(HyperTimer)
        .build(Connector::new().tls(client_tls));
    for url in [
        format!("http://{addr}/slow"),
        format!("https://localhost:{tls_port}/slow"),
    ] {
        let uri: hyper::Uri = url.parse().unwrap();
        for _ in 0..3 {
            let res = client.get(uri.clone()).await.unwrap();
            assert_eq!(res.status(), hyper::StatusCode::OK, "{url}");
            let body = res.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(&body[..], b"slow done");
        }
        // The client is Send + Sync: a request from worker 1 too.
        let c = client.clone();
        let res = runtime::spawn_on(1, move || async move { c.get(uri).await.unwrap().status() });
        assert_eq!(res.await.unwrap(), hyper::StatusCode::OK);
    }
    let err = client
        .get("http://127.0.0.1:1/".parse().unwrap())
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    tls_server.abort();
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}

#[runtime::test(workers = 2)]
async fn a_dropped_server_stops_accepting() {
    let (addr, server, _stop) = start(app());
    assert_eq!(hyper_get(addr, "/slow", false).await.1, "slow done");
    server.abort();
    // Its acceptors end on their workers' next turns, closing the listener.
    for _ in 0..1000 {
        runtime::time::sleep(Duration::from_millis(5)).await;
        if std::net::TcpStream::connect(addr).is_err() {
            return;
        }
    }
    panic!("the listener of a dropped server still accepts");
}

#[runtime::test(workers = 2)]
async fn reuse_port_gives_each_worker_its_own_listener() {
    let socket = runtime::net::TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.set_reuseport(true).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(1024).unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let server = runtime::spawn(
        runtime::http::serve(listener, app())
            .reuse_port()
            .with_graceful_shutdown(async move {
                let _ = rx.await;
            })
            .into_future(),
    );
    for h2 in [false, true] {
        assert_eq!(hyper_get(addr, "/slow", h2).await.1, "slow done");
    }
    // Without SO_REUSEPORT on the given listener, the other workers'
    // listeners cannot bind: an error, not a panic.
    let plain = TcpListener::bind("127.0.0.1:0").unwrap();
    let err = runtime::http::serve(plain, app())
        .reuse_port()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse, "{err}");
    tx.send(()).unwrap();
    server.await.unwrap().unwrap();
}
