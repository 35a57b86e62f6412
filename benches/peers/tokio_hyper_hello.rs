//! The hyper "hello" benchmark's peer: an axum `Router` served by hyper 1.x
//! (hyper-util's HTTP/1 + h2c connection builder) on tokio, the way
//! `axum::serve` does it, so a runtime `hyper_server` example serving the same
//! router can be measured against it by `benches/run.py`.
//!
//! ```text
//! cargo run --release --example tokio_hyper_hello -- --addr 127.0.0.1:8080
//! curl http://127.0.0.1:8080/        # Hello, world!
//! curl http://127.0.0.1:8080/json    # {"message":"Hello, world!"}
//! cargo run --release --example tokio_hyper_hello -- --workers 2   # multi_thread runtime
//! ```
//!
//! One worker is tokio's `current_thread` runtime; N > 1 workers is its
//! `multi_thread` runtime with N worker threads and one listener.

use std::io;
use std::net::SocketAddr;

use axum::routing::get;
use axum::{Json, Router};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;

const USAGE: &str = "usage: tokio_hyper_hello [--addr HOST:PORT] [--workers N]";

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:8080".parse().expect("a valid default address");
    let mut workers = 1usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| usage(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--addr" => {
                addr = value()?
                    .parse()
                    .map_err(|e| usage(&format!("--addr: {e}")))?
            }
            "--workers" => {
                workers = value()?
                    .parse()
                    .map_err(|e| usage(&format!("--workers: {e}")))?;
                workers = workers.max(1);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(usage(&format!("unknown argument {other}"))),
        }
    }
    let rt = if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()?
    };
    rt.block_on(serve(addr, workers))
}

fn usage(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{msg}\n{USAGE}"))
}

/// The routes a runtime `hyper_server` serves too.
fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "Hello, world!" }))
        .route(
            "/json",
            get(|| async { Json(serde_json::json!({ "message": "Hello, world!" })) }),
        )
}

/// Accepts forever; each connection is one task running hyper's HTTP/1.1
/// (or, on the h2c preface, HTTP/2) connection state machine.
async fn serve(addr: SocketAddr, workers: usize) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!(
        "tokio_hyper_hello: listening on {} with {workers} worker(s)",
        listener.local_addr()?
    );
    let service = TowerToHyperService::new(router());
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                eprintln!("tokio_hyper_hello: accept: {e}");
                continue;
            }
        };
        // Small responses: send them now rather than wait for Nagle.
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            let builder = auto::Builder::new(TokioExecutor::new());
            // A client that vanishes mid-request is the client's problem.
            let _ = builder
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
