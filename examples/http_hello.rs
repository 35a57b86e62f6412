//! The smallest HTTP/1.1 server worth load-testing: every request gets a
//! 13-byte "Hello, world!" over keep-alive connections, pipelining included.
//! `benches/run.py` drives it with `wrk` beside its tokio twin,
//! `benches/peers/tokio_http_hello.rs`, which does exactly the same work.
//!
//! ```text
//! cargo run --release --example http_hello -- --addr 127.0.0.1:8080 --workers 2
//! RUNTIME_DRIVER=epoll cargo run --release --example http_hello   # the fallback driver
//! curl -i http://127.0.0.1:8080/
//! ```
//!
//! Each worker runs its own `SO_REUSEPORT` listener, like `examples/echo.rs`.
//! Requests are parsed with httparse; anything it rejects gets a 400 and the
//! connection is closed. A request head may not exceed 8 KiB (431).

use std::io;
use std::net::SocketAddr;

use runtime::buf::IoBuf;
use runtime::net::{TcpListener, TcpSocket, TcpStream};

#[path = "support/cli.rs"]
mod cli;

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

const USAGE: &str = "usage: http_hello [--addr HOST:PORT] [--workers N]";

/// The command line: where to listen, and on how many workers.
fn parse_args() -> Result<(SocketAddr, usize), lexopt::Error> {
    use lexopt::prelude::*;
    let mut addr: SocketAddr = "127.0.0.1:8080".parse().expect("a valid address");
    let mut workers = 1usize;
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("addr") => addr = parser.value()?.parse()?,
            Long("workers") => workers = parser.value()?.parse::<usize>()?.max(1),
            Short('h') | Long("help") => cli::help(USAGE),
            _ => return Err(arg.unexpected()),
        }
    }
    Ok((addr, workers))
}

fn main() -> io::Result<()> {
    let (addr, workers) = cli::parse(USAGE, parse_args);
    let rt = runtime::Builder::new().workers(workers).build()?;

    // Bind every listener up front, so port 0 becomes one real port for all.
    let first = reuseport_listener(addr)?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..workers {
        listeners.push(reuseport_listener(addr)?);
    }
    println!("http_hello: listening on {addr} with {workers} worker(s)");
    println!("{}", rt.driver_info());

    rt.block_on(async move {
        let servers: Vec<_> = listeners
            .into_iter()
            .enumerate()
            .map(|(i, listener)| runtime::spawn_on(i, move || serve(listener)))
            .collect();
        for server in servers {
            if let Err(e) = server.await {
                eprintln!("http_hello: a worker stopped: {e}");
            }
        }
    });
    Ok(())
}

/// A listener that shares its port with the other workers' listeners.
fn reuseport_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(4096)
}

/// One worker's accept loop; runs until the process ends.
async fn serve(listener: TcpListener) {
    let mut incoming = listener.incoming();
    while let Some(conn) = incoming.next().await {
        match conn {
            Ok(stream) => drop(runtime::spawn(connection(stream))),
            Err(e) => eprintln!("http_hello: accept: {e}"),
        }
    }
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
async fn connection(stream: TcpStream) {
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
            let (res, o) = stream.write_all(out).await;
            out = o;
            out.clear();
            if res.is_err() || close {
                return;
            }
        }
        if buf.capacity() - buf.len() < READ_CHUNK {
            buf.reserve(READ_CHUNK);
        }
        let (len, cap) = (buf.len(), buf.capacity());
        let (res, slice) = stream.read(buf.slice(len..cap)).await;
        buf = slice.into_inner();
        match res {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
