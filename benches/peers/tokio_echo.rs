//! The echo benchmark's peer: `examples/echo.rs` written on tokio's
//! `current_thread` runtime, with the same protocol and buffer size, so
//! `benches/echo_load.py` can measure both servers in one run.
//!
//! ```text
//! cargo run --release --example tokio_echo -- --addr 127.0.0.1:7001
//! cargo run --release --example tokio_echo -- --workers 2   # multi_thread runtime
//! ```
//!
//! `--workers N` with N > 1 runs tokio's `multi_thread` runtime with N worker
//! threads (the scaling rows of `benches/run.py`); the default is one
//! `current_thread` worker.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Per-connection buffer: one read of up to this much, echoed back whole
/// (the same as `examples/echo.rs`).
const BUF: usize = 16 * 1024;

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    let mut workers = 1usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--workers" => {
                let value = args
                    .next()
                    .ok_or_else(|| usage("--workers needs a value"))?;
                workers = value
                    .parse()
                    .map_err(|e| usage(&format!("--workers: {e}")))?;
            }
            "--addr" => {
                let value = args.next().ok_or_else(|| usage("--addr needs a value"))?;
                addr = value.parse().map_err(|e| usage(&format!("--addr: {e}")))?;
            }
            "-h" | "--help" => {
                println!("usage: tokio_echo [--addr HOST:PORT] [--workers N]");
                return Ok(());
            }
            other => return Err(usage(&format!("unknown argument {other}"))),
        }
    }
    let rt = if workers > 1 {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    };
    rt.block_on(async move {
        let listener = TcpListener::bind(addr).await?;
        println!("tokio_echo: listening on {}", listener.local_addr()?);
        loop {
            match listener.accept().await {
                Ok((stream, _)) => drop(tokio::spawn(echo(stream))),
                Err(e) => eprintln!("tokio_echo: accept: {e}"),
            }
        }
    })
}

fn usage(msg: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{msg}\nusage: tokio_echo [--addr HOST:PORT] [--workers N]"),
    )
}

/// Echoes everything until the peer closes or fails.
async fn echo(mut stream: TcpStream) {
    // Ping-pong traffic: send each reply at once rather than wait for an ACK.
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; BUF];
    loop {
        let n = match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if stream.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
