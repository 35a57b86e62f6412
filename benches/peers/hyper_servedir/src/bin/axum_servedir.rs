//! The axum rows' peer for benches/run.py: the axum app of
//! `examples/axum_app.rs` as a tokio user writes it, on tokio's
//! multi_thread runtime: `axum::serve`, tower-http's `ServeDir` under
//! `/static` and its `TimeoutLayer`.
//!
//! ```text
//! axum_servedir WWW [--addr HOST:PORT] [--workers N]
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use axum::routing::get;
use axum::Router;
use tower_http::services::ServeDir;
use tower_http::timeout::TimeoutLayer;

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let www = args.next().expect("usage: axum_servedir WWW [--addr A] [--workers N]");
    let (mut addr, mut workers): (SocketAddr, usize) = ("127.0.0.1:0".parse().unwrap(), 2);
    while let Some(arg) = args.next() {
        let value = args.next().expect("a value");
        match arg.as_str() {
            "--addr" => addr = value.parse().expect("an address"),
            "--workers" => workers = value.parse().expect("a count"),
            other => panic!("unknown argument {other}"),
        }
    }
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?
        .block_on(async move {
            let app = Router::new()
                .route("/", get(|| async { "Hello from axum on runtime!" }))
                .nest_service("/static", ServeDir::new(www))
                .layer(TimeoutLayer::with_status_code(
                    axum::http::StatusCode::REQUEST_TIMEOUT,
                    Duration::from_secs(1),
                ));
            let listener = tokio::net::TcpListener::bind(addr).await?;
            // The line run.py reads the port from, as the other servers print it.
            println!("axum_servedir: listening on http://{}/", listener.local_addr()?);
            axum::serve(listener, app).await
        })
}
