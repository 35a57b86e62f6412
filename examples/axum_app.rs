//! An axum application on runtime, as a tokio user writes one, with no
//! tokio runtime in the process: JSON routes over shared state, handlers
//! that await `runtime::fs` and `runtime::time` directly, static files
//! through `http::ServeDir`, a request timeout (`http::TimeoutLayer`), a
//! WebSocket echo (`http::ws`), HTTPS (`--tls-cert/--tls-key`), graceful
//! shutdown on SIGINT/SIGTERM, and `--workers N` with connections spread by
//! load (`http::serve`).
//!
//! ```text
//! cargo run --release --example axum_app --features hyper,tls,websocket -- --workers 2 --static examples
//! curl http://127.0.0.1:3000/api/hello                     # {"message":"hello","worker":"…"}
//! curl -d '{"text":"hi"}' -H 'content-type: application/json' http://127.0.0.1:3000/api/notes
//! curl http://127.0.0.1:3000/api/notes                     # [{"id":0,"text":"hi"}]
//! curl http://127.0.0.1:3000/api/file/hello.rs             # bytes and lines of a static file
//! curl http://127.0.0.1:3000/api/slow?ms=50                # slept 50 ms
//! curl -i http://127.0.0.1:3000/api/slow?ms=5000           # 408 past --timeout-ms
//! curl http://127.0.0.1:3000/static/hello.rs               # ServeDir (ETags, ranges …)
//! # WebSocket echo at ws://127.0.0.1:3000/ws
//! ```

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use runtime::http::ws::WebSocketUpgrade;
use runtime::http::{ServeDir, TimeoutLayer};
use runtime::net::TcpListener;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Value};

#[path = "support/cli.rs"]
mod cli;

const USAGE: &str = "usage: axum_app [--addr HOST:PORT] [--workers N] [--static DIR] \
                     [--timeout-ms MS] [--tls-cert FILE --tls-key FILE]";

/// What the command line asked for.
struct Options {
    /// Where to listen (port 0: any free port, printed at start-up).
    addr: SocketAddr,
    /// Worker threads.
    workers: usize,
    /// The directory under `/static`.
    static_dir: PathBuf,
    /// How long a request may take.
    timeout: Duration,
    /// PEM certificate chain and key: serve HTTPS.
    tls: Option<(PathBuf, PathBuf)>,
}

/// The state every handler shares (on every worker: `Send + Sync`).
#[derive(Clone)]
struct App {
    /// Notes posted to `/api/notes`.
    notes: Arc<Mutex<Vec<Value>>>,
    /// The static directory, which `/api/file` reads through `runtime::fs`.
    static_dir: Arc<PathBuf>,
}

fn main() -> io::Result<()> {
    let opts = cli::parse(USAGE, parse_args);
    let tls = match &opts.tls {
        Some((cert, key)) => Some(tls_config(cert, key)?),
        None => None,
    };
    let rt = runtime::Builder::new().workers(opts.workers).build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(opts.addr)?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        println!(
            "axum_app: listening on {scheme}://{}/ with {} worker(s)",
            listener.local_addr()?,
            opts.workers
        );
        println!("{}", runtime::driver_info());
        let state = App {
            notes: Arc::default(),
            static_dir: Arc::new(opts.static_dir.clone()),
        };
        let app = Router::new()
            .route("/", get(|| async { "Hello from axum on runtime!" }))
            .route("/api/hello", get(hello))
            .route("/api/notes", get(list_notes).post(add_note))
            .route("/api/file/{name}", get(file_info))
            .route("/api/slow", get(slow))
            .route("/ws", get(echo))
            .nest_service(
                "/static",
                ServeDir::new(&opts.static_dir)?.precompressed(true),
            )
            .layer(TimeoutLayer::new(opts.timeout))
            .with_state(state);
        let mut server = runtime::http::serve(listener, app).with_graceful_shutdown(shutdown());
        if let Some(config) = tls {
            server = server.tls(config);
        }
        server.await?;
        println!("axum_app: shut down");
        Ok(())
    })
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown() {
    use runtime::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        return std::future::pending().await;
    };
    std::future::poll_fn(|cx| {
        if int.poll_recv(cx).is_ready() || term.poll_recv(cx).is_ready() {
            return std::task::Poll::Ready(());
        }
        std::task::Poll::Pending
    })
    .await;
    println!("axum_app: shutting down");
}

/// `GET /api/hello`: JSON, with the worker thread that answered.
async fn hello() -> Json<Value> {
    let worker = std::thread::current().name().unwrap_or("?").to_string();
    Json(json!({ "message": "hello", "worker": worker }))
}

/// `GET /api/notes`.
async fn list_notes(State(app): State<App>) -> Json<Value> {
    let notes = app.notes.lock().unwrap_or_else(|e| e.into_inner()).clone();
    Json(Value::Array(notes))
}

/// `POST /api/notes` with `{"text": …}`: stores it, answers 201 with its id.
async fn add_note(State(app): State<App>, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    let Some(text) = body.get("text").and_then(Value::as_str) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({ "error": "text is required" })),
        );
    };
    let mut notes = app.notes.lock().unwrap_or_else(|e| e.into_inner());
    let id = notes.len();
    notes.push(json!({ "id": id, "text": text }));
    (StatusCode::CREATED, Json(json!({ "id": id })))
}

/// `GET /api/file/{name}`: a handler awaiting `runtime::fs` directly (its
/// future is `Send`, as axum requires).
async fn file_info(
    State(app): State<App>,
    Path(name): Path<String>,
) -> Result<Json<Value>, StatusCode> {
    if name.starts_with('.') || name.contains('/') {
        return Err(StatusCode::BAD_REQUEST);
    }
    let text = runtime::fs::read_to_string(app.static_dir.join(&name))
        .await
        .map_err(|_| StatusCode::NOT_FOUND)?;
    Ok(Json(
        json!({ "name": name, "bytes": text.len(), "lines": text.lines().count() }),
    ))
}

/// `GET /api/slow?ms=N`: a handler awaiting `runtime::time::sleep` directly.
async fn slow(Query(q): Query<std::collections::HashMap<String, String>>) -> String {
    let ms = q.get("ms").and_then(|v| v.parse().ok()).unwrap_or(10u64);
    runtime::time::sleep(Duration::from_millis(ms)).await;
    format!("slept {ms} ms")
}

/// `GET /ws`: echoes every message back.
async fn echo(ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(|mut socket| async move {
        while let Some(Ok(msg)) = socket.next().await {
            if msg.is_close() || socket.send(msg).await.is_err() {
                break;
            }
        }
    })
}

fn parse_args() -> Result<Options, lexopt::Error> {
    use lexopt::prelude::*;
    let mut opts = Options {
        addr: "127.0.0.1:3000".parse().expect("a valid address"),
        workers: 1,
        static_dir: PathBuf::from("examples"),
        timeout: Duration::from_secs(1),
        tls: None,
    };
    let (mut cert, mut key) = (None, None);
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("addr") => opts.addr = parser.value()?.parse()?,
            Long("workers") => opts.workers = parser.value()?.parse()?,
            Long("static") => opts.static_dir = parser.value()?.into(),
            Long("timeout-ms") => opts.timeout = Duration::from_millis(parser.value()?.parse()?),
            Long("tls-cert") => cert = Some(PathBuf::from(parser.value()?)),
            Long("tls-key") => key = Some(PathBuf::from(parser.value()?)),
            Short('h') | Long("help") => cli::help(USAGE),
            _ => return Err(arg.unexpected()),
        }
    }
    opts.tls = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    Ok(opts)
}

/// A rustls server configuration from PEM files, with h2 and http/1.1 by ALPN.
fn tls_config(cert: &PathBuf, key: &PathBuf) -> io::Result<Arc<rustls::ServerConfig>> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(io::Error::other)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(io::Error::other)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(io::Error::other)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
