//! The HTTP "hello" benchmark's peer: `examples/http_hello.rs` written by hand
//! on tokio + httparse, with the same responses, the same parsing, the same
//! buffer sizes and one write per batch of pipelined requests, so
//! `benches/run.py` measures the runtimes and not two different servers.
//!
//! ```text
//! cargo run --release --example tokio_http_hello -- --addr 127.0.0.1:8080
//! cargo run --release --example tokio_http_hello -- --workers 2   # multi_thread runtime
//! ```
//!
//! One worker is tokio's `current_thread` runtime; N > 1 workers is its
//! `multi_thread` runtime with N worker threads and one listener.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The whole response to a keep-alive request.
const HELLO: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!";
/// The response when the client asked to close.
const HELLO_CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, world!";
const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
const TOO_LARGE: &[u8] =
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
/// Largest request head.
const MAX_HEAD: usize = 8 * 1024;
/// Bytes read per `recv`.
const READ_CHUNK: usize = 4096;

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:8080".parse().unwrap();
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
                println!("usage: tokio_http_hello [--addr HOST:PORT] [--workers N]");
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
    rt.block_on(async move {
        let listener = TcpListener::bind(addr).await?;
        println!(
            "tokio_http_hello: listening on {} with {workers} worker(s)",
            listener.local_addr()?
        );
        loop {
            match listener.accept().await {
                Ok((stream, _)) => drop(tokio::spawn(connection(stream))),
                Err(e) => eprintln!("tokio_http_hello: accept: {e}"),
            }
        }
    })
}

fn usage(msg: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("{msg}\nusage: tokio_http_hello [--addr HOST:PORT] [--workers N]"),
    )
}

/// What the parser made of the start of the buffer.
enum Next {
    /// A request of `consumed` bytes; `close` if the client wants no more.
    Request { consumed: usize, close: bool },
    /// Read more.
    Partial,
    /// Answer with this and close.
    Fail(&'static [u8]),
}

fn parse(buf: &[u8]) -> Next {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(buf) {
        Ok(httparse::Status::Complete(consumed)) => {
            let keep_alive = req.version == Some(1);
            let close = req
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("connection"))
                .map_or(!keep_alive, |h| {
                    if keep_alive {
                        h.value.eq_ignore_ascii_case(b"close")
                    } else {
                        !h.value.eq_ignore_ascii_case(b"keep-alive")
                    }
                });
            Next::Request { consumed, close }
        }
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => Next::Fail(TOO_LARGE),
        Ok(httparse::Status::Partial) => Next::Partial,
        Err(httparse::Error::TooManyHeaders) => Next::Fail(TOO_LARGE),
        Err(_) => Next::Fail(BAD_REQUEST),
    }
}

/// Serves one connection: answers every complete request in the buffer with
/// one write (pipelined requests share it), then reads again.
async fn connection(mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut out: Vec<u8> = Vec::with_capacity(HELLO.len());
    loop {
        let mut start = 0;
        let mut close = false;
        while !close {
            match parse(&buf[start..]) {
                Next::Request { consumed, close: c } => {
                    start += consumed;
                    close = c;
                    out.extend_from_slice(if c { HELLO_CLOSE } else { HELLO });
                }
                Next::Partial => break,
                Next::Fail(reply) => {
                    out.extend_from_slice(reply);
                    close = true;
                }
            }
        }
        buf.drain(..start);
        if !out.is_empty() {
            let res = stream.write_all(&out).await;
            out.clear();
            if res.is_err() || close {
                return;
            }
        }
        if buf.capacity() - buf.len() < READ_CHUNK {
            buf.reserve(READ_CHUNK);
        }
        // `read_buf` fills the spare capacity, as the runtime version's read does.
        match stream.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
