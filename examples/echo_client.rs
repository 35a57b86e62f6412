//! An echo load generator on this runtime: C connections each send an
//! S-byte message, wait for the whole echo, and repeat for D seconds; then it
//! prints requests per second and the p50/p99 round-trip latency.
//!
//! ```text
//! cargo run --release --example echo -- --addr 127.0.0.1:7000 &
//! cargo run --release --example echo_client -- --addr 127.0.0.1:7000 -c 64 -s 64 -d 5
//! ```
//!
//! Options: `--addr HOST:PORT` (127.0.0.1:7000), `-c` connections (64),
//! `-s` message bytes (64), `-d` seconds (5), `--workers N` (1): connections
//! are spread over the workers. `--udp`: each "connection" is a connected
//! UDP socket sending a datagram and waiting for its echo (`echo --udp`);
//! a datagram lost on the way is sent again after 200 ms.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use runtime::io::read_exact;
use runtime::net::{TcpStream, UdpSocket};

#[path = "support/cli.rs"]
mod cli;

/// What the command line asked for.
#[derive(Debug, Clone, Copy)]
struct Config {
    addr: SocketAddr,
    connections: usize,
    size: usize,
    duration: Duration,
    workers: usize,
    udp: bool,
}

const USAGE: &str =
    "usage: echo_client [--addr HOST:PORT] [-c N] [-s BYTES] [-d SECS] [--workers N] [--udp]";

fn parse_args() -> Result<Config, lexopt::Error> {
    use lexopt::prelude::*;
    let mut cfg = Config {
        addr: "127.0.0.1:7000".parse().expect("a valid address"),
        connections: 64,
        size: 64,
        duration: Duration::from_secs(5),
        workers: 1,
        udp: false,
    };
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("addr") => cfg.addr = parser.value()?.parse()?,
            Short('c') | Long("connections") => {
                cfg.connections = parser.value()?.parse::<usize>()?.max(1)
            }
            Short('s') | Long("size") => cfg.size = parser.value()?.parse::<usize>()?.max(1),
            Short('d') | Long("duration") => {
                cfg.duration = Duration::from_secs(parser.value()?.parse()?)
            }
            Long("workers") => cfg.workers = parser.value()?.parse::<usize>()?.max(1),
            Long("udp") => cfg.udp = true,
            Short('h') | Long("help") => cli::help(USAGE),
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(cfg)
}

fn main() -> io::Result<()> {
    let cfg = cli::parse(USAGE, parse_args);
    let rt = runtime::Builder::new().workers(cfg.workers).build()?;
    let (requests, mut latencies, elapsed) = rt.block_on(async move {
        let start = Instant::now();
        let deadline = start + cfg.duration;
        let clients: Vec<_> = (0..cfg.connections)
            .map(|i| {
                runtime::spawn_on(i % cfg.workers, move || async move {
                    match cfg.udp {
                        true => udp_client(cfg, deadline).await,
                        false => client(cfg, deadline).await,
                    }
                })
            })
            .collect();
        let mut latencies = Vec::new();
        let mut requests = 0u64;
        for c in clients {
            match c.await {
                Ok(Ok(lat)) => {
                    requests += lat.len() as u64;
                    latencies.extend(lat);
                }
                Ok(Err(e)) => eprintln!("echo_client: connection failed: {e}"),
                Err(e) => eprintln!("echo_client: task failed: {e}"),
            }
        }
        (requests, latencies, start.elapsed())
    });
    latencies.sort_unstable();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(i).copied().unwrap_or(0)
    };
    println!(
        "{} connections, {}-byte messages, {:.1}s: {:.0} requests/s, p50 {} µs, p99 {} µs",
        cfg.connections,
        cfg.size,
        elapsed.as_secs_f64(),
        requests as f64 / elapsed.as_secs_f64(),
        pct(0.50),
        pct(0.99),
    );
    Ok(())
}

/// One connection's ping-pong loop; returns each round trip's latency in µs.
async fn client(cfg: Config, deadline: Instant) -> io::Result<Vec<u32>> {
    let stream = TcpStream::connect(cfg.addr).await?;
    stream.set_nodelay(true)?;
    let mut msg = vec![0xAB; cfg.size];
    let mut reply = vec![0u8; cfg.size];
    let mut latencies = Vec::with_capacity(1 << 16);
    while Instant::now() < deadline {
        let sent = Instant::now();
        let (res, m) = stream.write_all(msg).await;
        msg = m;
        res?;
        let (res, r) = read_exact(&mut &stream, reply).await;
        reply = r;
        res?;
        latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
    }
    Ok(latencies)
}

/// One UDP socket's ping-pong loop; returns each round trip's latency in µs.
async fn udp_client(cfg: Config, deadline: Instant) -> io::Result<Vec<u32>> {
    let local = match cfg.addr {
        SocketAddr::V4(_) => "127.0.0.1:0",
        SocketAddr::V6(_) => "[::1]:0",
    };
    let socket = UdpSocket::bind(local)?;
    socket.connect(cfg.addr).await?;
    let mut msg = vec![0xAB; cfg.size];
    let mut reply = Vec::with_capacity(cfg.size);
    let mut latencies = Vec::with_capacity(1 << 16);
    while Instant::now() < deadline {
        let sent = Instant::now();
        let (res, m) = socket.send(msg).await;
        msg = m;
        res?;
        reply.clear();
        let lost = Duration::from_millis(200);
        match runtime::time::timeout(lost, socket.recv(std::mem::take(&mut reply))).await {
            Ok((res, r)) => {
                reply = r;
                res?;
                latencies.push(sent.elapsed().as_micros().min(u32::MAX as u128) as u32);
            }
            // Lost on the way: send again (a late echo counts for the next).
            Err(_) => reply = Vec::with_capacity(cfg.size),
        }
    }
    Ok(latencies)
}
