//! The file server's Rust peer in `benches/run.py`: tower-http's `ServeDir`
//! behind hyper's HTTP/1.1 server (keep-alive on), on tokio's
//! `current_thread` runtime — one worker, like `file_server --workers 1`.
//!
//! ```text
//! cargo run --release --manifest-path benches/peers/hyper_servedir/Cargo.toml -- DIR --addr 127.0.0.1:0
//! ```
//!
//! Prints `listening on ADDR` once it accepts connections.

use std::net::SocketAddr;
use std::path::PathBuf;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower_http::services::ServeDir;

fn main() -> std::io::Result<()> {
    let mut dir = PathBuf::from(".");
    let mut addr: SocketAddr = "127.0.0.1:8080".parse().unwrap();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                let v = args.next().expect("--addr needs a value");
                addr = v.parse().expect("--addr: a socket address");
            }
            _ => dir = PathBuf::from(arg),
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(addr).await?;
        println!("hyper_servedir: listening on {}", listener.local_addr()?);
        let service = ServeDir::new(dir);
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(conn) => conn,
                Err(e) => {
                    eprintln!("accept: {e}");
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
