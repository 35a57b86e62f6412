//! An HTTP/1.1 keep-alive load generator on `runtime`, for machines without
//! `wrk`: C connections each send `GET PATH`, read the whole response
//! (`Content-Length` framing), and repeat for D seconds; then it prints
//! requests per second and p50/p99 latency. `benches/run.py` falls back to it
//! when `wrk` cannot be installed.
//!
//! ```text
//! cargo run --release --example http_hello -- --addr 127.0.0.1:8080 &
//! cargo run --release --example http_load -- --addr 127.0.0.1:8080 -c 64 -d 5 --path /
//! ```
//!
//! Options: `--addr HOST:PORT` (127.0.0.1:8080), `--path` (/), `-c`
//! connections (64), `-d` seconds (5), `--workers N` (1). One request per
//! connection is in flight at a time, like `wrk`. Any status other than 200
//! or a malformed response ends that connection and is reported.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use runtime::buf::IoBuf;
use runtime::net::TcpStream;

#[path = "support/cli.rs"]
mod cli;

/// What the command line asked for.
#[derive(Debug, Clone)]
struct Config {
    addr: SocketAddr,
    path: String,
    connections: usize,
    duration: Duration,
    workers: usize,
}

const USAGE: &str = "usage: http_load [--addr HOST:PORT] [--path /] [-c N] [-d SECS] [--workers N]";

fn parse_args() -> Result<Config, lexopt::Error> {
    use lexopt::prelude::*;
    let mut cfg = Config {
        addr: "127.0.0.1:8080".parse().expect("a valid address"),
        path: "/".into(),
        connections: 64,
        duration: Duration::from_secs(5),
        workers: 1,
    };
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("addr") => cfg.addr = parser.value()?.parse()?,
            Long("path") => cfg.path = parser.value()?.string()?,
            Short('c') | Long("connections") => {
                cfg.connections = parser.value()?.parse::<usize>()?.max(1)
            }
            Short('d') | Long("duration") => {
                cfg.duration = Duration::from_secs(parser.value()?.parse()?)
            }
            Long("workers") => cfg.workers = parser.value()?.parse::<usize>()?.max(1),
            Short('h') | Long("help") => cli::help(USAGE),
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(cfg)
}

fn main() -> io::Result<()> {
    let cfg = cli::parse(USAGE, parse_args);
    let rt = runtime::Builder::new().workers(cfg.workers).build()?;
    let request = format!("GET {} HTTP/1.1\r\nHost: {}\r\n\r\n", cfg.path, cfg.addr).into_bytes();
    let (mut latencies, bytes, errors, elapsed) = rt.block_on(async move {
        let start = Instant::now();
        let deadline = start + cfg.duration;
        let clients: Vec<_> = (0..cfg.connections)
            .map(|i| {
                let (addr, request) = (cfg.addr, request.clone());
                runtime::spawn_on(i % cfg.workers, move || client(addr, request, deadline))
            })
            .collect();
        let (mut latencies, mut bytes, mut errors) = (Vec::new(), 0u64, 0u64);
        for c in clients {
            match c.await {
                Ok((lat, b, err)) => {
                    latencies.extend(lat);
                    bytes += b;
                    if let Some(e) = err {
                        errors += 1;
                        eprintln!("http_load: connection failed: {e}");
                    }
                }
                Err(e) => eprintln!("http_load: task failed: {e}"),
            }
        }
        (latencies, bytes, errors, start.elapsed())
    });
    latencies.sort_unstable();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(i).copied().unwrap_or(0)
    };
    let secs = elapsed.as_secs_f64();
    println!(
        "{} requests in {secs:.2}s, {bytes} bytes, {errors} errors: {:.0} requests/s, p50 {} µs, p99 {} µs",
        latencies.len(),
        latencies.len() as f64 / secs,
        pct(0.50),
        pct(0.99),
    );
    Ok(())
}

/// One connection's request loop: latencies in µs, body bytes, and the error that ended it.
async fn client(
    addr: SocketAddr,
    request: Vec<u8>,
    deadline: Instant,
) -> (Vec<u32>, u64, Option<io::Error>) {
    let mut latencies = Vec::with_capacity(1 << 14);
    let mut body_bytes = 0u64;
    let result = async {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut request = request;
        let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
        while Instant::now() < deadline {
            let sent = Instant::now();
            let (res, r) = stream.write_all(request).await;
            request = r;
            res?;
            // Read until the head is complete, then until the body is.
            let mut need: Option<usize> = None;
            loop {
                if need.is_none() {
                    let mut headers = [httparse::EMPTY_HEADER; 32];
                    let mut resp = httparse::Response::new(&mut headers);
                    match resp.parse(&buf) {
                        Ok(httparse::Status::Complete(head)) => {
                            if resp.code != Some(200) {
                                return Err(io::Error::other(format!("status {:?}", resp.code)));
                            }
                            let len = resp
                                .headers
                                .iter()
                                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                                .and_then(|h| std::str::from_utf8(h.value).ok())
                                .and_then(|v| v.trim().parse::<usize>().ok())
                                .ok_or_else(|| io::Error::other("no Content-Length"))?;
                            need = Some(head + len);
                        }
                        Ok(httparse::Status::Partial) => {}
                        Err(e) => return Err(io::Error::other(format!("bad response: {e}"))),
                    }
                }
                if let Some(n) = need {
                    if buf.len() >= n {
                        body_bytes += n as u64;
                        buf.drain(..n);
                        break;
                    }
                }
                if buf.capacity() - buf.len() < 16 * 1024 {
                    buf.reserve(64 * 1024);
                }
                let (len, cap) = (buf.len(), buf.capacity());
                let (res, slice) = stream.read(buf.slice(len..cap)).await;
                buf = slice.into_inner();
                if res? == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
            latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
        }
        Ok(())
    }
    .await;
    (latencies, body_bytes, result.err())
}
