//! An echo server on monoio's io_uring driver, one thread: the peer that puts
//! a published io_uring runtime beside `runtime` in `benches/echo_load.py`.
//! Same protocol and buffer size as `examples/echo.rs` and
//! `benches/peers/tokio_echo.rs`: read up to 16 KiB, write it back whole.

use std::io;
use std::net::SocketAddr;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream};

/// Per-connection buffer, as in the other echo servers.
const BUF: usize = 16 * 1024;

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    let mut ring = io_uring::IoUring::builder();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--addr" => {
                let value = args.next().ok_or_else(|| usage("--addr needs a value"))?;
                addr = value.parse().map_err(|e| usage(&format!("--addr: {e}")))?;
            }
            // monoio's default is a plain ring; these try the flags runtime uses.
            "--ring" => match args.next().as_deref() {
                Some("default") => {}
                Some("coop") => {
                    ring.setup_coop_taskrun();
                }
                Some("defer") => {
                    ring.setup_single_issuer().setup_defer_taskrun();
                }
                _ => return Err(usage("--ring takes default, coop or defer")),
            },
            "-h" | "--help" => {
                println!("usage: monoio_echo [--addr HOST:PORT] [--ring default|coop|defer]");
                return Ok(());
            }
            other => return Err(usage(&format!("unknown argument {other}"))),
        }
    }
    let mut rt = monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
        .enable_timer()
        .uring_builder(ring)
        .build()?;
    rt.block_on(async move {
        let listener = TcpListener::bind(addr)?;
        println!("monoio_echo: listening on {}", listener.local_addr()?);
        loop {
            match listener.accept().await {
                Ok((stream, _)) => drop(monoio::spawn(echo(stream))),
                Err(e) => eprintln!("monoio_echo: accept: {e}"),
            }
        }
    })
}

fn usage(msg: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{msg}\nusage: monoio_echo [--addr HOST:PORT] [--ring default|coop|defer]"),
    )
}

async fn echo(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(BUF);
    loop {
        // monoio reads into the spare capacity and writes the initialised part.
        buf.clear();
        let (res, b) = stream.read(buf).await;
        buf = b;
        match res {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let (res, b) = stream.write_all(buf).await;
        buf = b;
        if res.is_err() {
            return;
        }
    }
}
