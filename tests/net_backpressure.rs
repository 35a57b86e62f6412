//! Back-pressure, on both drivers: 1,000 connections each send 256 KiB to
//! a server that reads nothing for 2 s, then reads everything. Every byte
//! arrives, in order; the server's memory grows by no more than its
//! configured bound (printed); and a connection the server keeps serving
//! meanwhile is never starved by the others' unread bytes.
//!
//! On io_uring each socket's multishot receive queues at most
//! `max_queued_bytes` (then pauses, and the rest waits in the kernel's
//! socket buffer, slowing the peer down), all in the worker's provided
//! buffers, which are mapped at start-up; once they are all lent out,
//! a socket that is read receives into its reader's own buffer. On epoll
//! nothing is received until read.
//!
//! The server runs in a child process (this binary again, with
//! `BACKPRESSURE_SERVER` set), so its memory is its own.

use std::io;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use runtime::io::read_exact;
use runtime::net::{TcpListener, TcpStream};
use runtime::DriverKind;

mod support;

/// Connections that send without being read.
const CONNS: usize = 1_000;
/// What each of them sends.
const PER_CONN: usize = 256 * 1024;
/// How long the server reads nothing.
const PAUSE: Duration = Duration::from_secs(2);
/// Round trips the served connection must complete during the pause.
const PINGS: usize = 100;
/// The configured per-socket queue limit.
const MAX_QUEUED: usize = 64 * 1024;
/// Allowed growth beyond the provided buffers (mapped at start-up): each
/// connection's bookkeeping (its receive side, task and socket) and the
/// allocator's slack.
const PER_CONN_OVERHEAD: u64 = 4 * 1024;
/// Safety net for the whole exchange.
const LIMIT: Duration = Duration::from_secs(120);

/// The byte at `offset` of connection `id`'s stream.
fn pattern(id: usize, offset: usize) -> u8 {
    (id.wrapping_mul(131) ^ offset.wrapping_mul(7) ^ (offset >> 9)) as u8
}

/// Resident memory of this process, in bytes.
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

fn run(driver: &str) {
    let exe = std::env::current_exe().expect("test binary");
    let mut server = Command::new(exe)
        .args(["backpressure_server_entry", "--exact", "--nocapture"])
        .env("BACKPRESSURE_SERVER", driver)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn the server");
    // The server prints its address first.
    let mut stdout = io::BufReader::new(server.stdout.take().expect("stdout"));
    let mut line = String::new();
    let addr = loop {
        line.clear();
        let n = io::BufRead::read_line(&mut stdout, &mut line).expect("server output");
        assert!(n > 0, "the server ended before listening");
        if line.contains("BACKPRESSURE-SKIPPED") {
            assert!(!support::uring_required(), "io_uring required: {line}");
            eprintln!("skipped: {line}");
            let _ = server.wait();
            return;
        }
        if let Some(addr) = line.trim().strip_prefix("LISTENING ") {
            break addr.parse::<std::net::SocketAddr>().expect("address");
        }
    };
    let kind = match driver {
        "uring" => DriverKind::Uring,
        _ => DriverKind::Epoll,
    };
    let rt = runtime::Builder::new()
        .driver(kind)
        .build()
        .or_else(|_| runtime::Builder::new().driver(DriverKind::Epoll).build())
        .expect("client runtime");
    rt.block_on(async move {
        // The served connection first, then the ones the server does not read.
        let served = TcpStream::connect(addr).await.expect("connect");
        let mut senders = Vec::with_capacity(CONNS);
        for id in 0..CONNS {
            let stream = TcpStream::connect(addr).await.expect("connect");
            senders.push(runtime::spawn(async move {
                let (res, _) = stream.write_all((id as u32).to_le_bytes().to_vec()).await;
                res.expect("id");
                let data: Vec<u8> = (0..PER_CONN).map(|i| pattern(id, i)).collect();
                let (res, _) = stream.write_all(data).await;
                res.expect("send");
                stream
                    .shutdown(std::net::Shutdown::Write)
                    .await
                    .expect("shutdown");
                stream
            }));
        }
        for i in 0..PINGS {
            let msg = (i as u64).to_le_bytes().to_vec();
            let (res, msg) = served.write_all(msg).await;
            res.expect("ping");
            let (res, got) = read_exact(&mut &served, vec![0u8; 8]).await;
            res.expect("pong");
            assert_eq!(got, msg);
        }
        served
            .shutdown(std::net::Shutdown::Write)
            .await
            .expect("shutdown");
        let mut open = Vec::new();
        for s in senders {
            open.push(s.await.expect("sender"));
        }
        // Keep every connection open until the server has read all of it.
        let (res, _) = read_exact(&mut &served, vec![0u8; 1]).await;
        assert!(res.is_err(), "the server closes the served connection last");
        drop(open);
    });
    let mut rest = String::new();
    io::Read::read_to_string(&mut stdout, &mut rest).expect("server output");
    let status = server.wait().expect("server exit");
    assert!(status.success(), "server failed:\n{rest}");
    let report = rest
        .lines()
        .find(|l| l.contains("BACKPRESSURE-OK"))
        .unwrap_or_else(|| panic!("no report:\n{rest}"));
    println!("{report}");
}

#[test]
fn unread_bytes_stay_bounded_and_in_order_uring() {
    run("uring");
}

#[test]
fn unread_bytes_stay_bounded_and_in_order_epoll() {
    run("epoll");
}

/// The server, in a child process chosen by `BACKPRESSURE_SERVER`.
#[test]
fn backpressure_server_entry() {
    let Ok(driver) = std::env::var("BACKPRESSURE_SERVER") else {
        return;
    };
    let kind = match driver.as_str() {
        "uring" => DriverKind::Uring,
        _ => DriverKind::Epoll,
    };
    let rt = match runtime::Builder::new()
        .driver(kind)
        .max_queued_bytes(MAX_QUEUED)
        .build()
    {
        Ok(rt) => rt,
        Err(e) if kind == DriverKind::Uring => {
            println!("BACKPRESSURE-SKIPPED: {e}");
            return;
        }
        Err(e) => panic!("server runtime: {e}"),
    };
    rt.block_on(async move {
        runtime::time::timeout(LIMIT, serve(&driver))
            .await
            .expect("the exchange finished in time")
            .expect("server");
    });
}

async fn serve(driver: &str) -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let rss_before = rss_bytes();
    println!("LISTENING {}", listener.local_addr()?);
    let (served, _) = listener.accept().await?;
    // Serve the one connection throughout: it must never starve.
    let pinger = runtime::spawn(async move {
        let mut pongs = 0;
        loop {
            let (res, buf) = served.read(Vec::with_capacity(8)).await;
            match res? {
                0 => return io::Result::Ok((served, pongs)),
                _ => {
                    let (res, _) = served.write_all(buf).await;
                    res?;
                    pongs += 1;
                }
            }
        }
    });
    let mut conns = Vec::with_capacity(CONNS);
    for _ in 0..CONNS {
        conns.push(listener.accept().await?.0);
    }
    // Read nothing for a while: the senders fill what they may.
    let start = Instant::now();
    let mut peak = 0;
    while start.elapsed() < PAUSE {
        runtime::time::sleep(Duration::from_millis(50)).await;
        peak = peak.max(rss_bytes());
    }
    let (served, pongs) = pinger.await.expect("pinger")?;
    assert!(pongs >= PINGS, "the served connection got {pongs} replies");
    // Then read everything, checking every byte.
    let readers: Vec<_> = conns
        .into_iter()
        .map(|stream| {
            runtime::spawn(async move {
                let (res, id) = read_exact(&mut &stream, vec![0u8; 4]).await;
                res?;
                let id = u32::from_le_bytes(id[..].try_into().unwrap()) as usize;
                let mut at = 0;
                let mut buf = Vec::with_capacity(16 * 1024);
                loop {
                    buf.clear();
                    let (res, b) = stream.read(buf).await;
                    buf = b;
                    let n = res?;
                    if n == 0 {
                        break;
                    }
                    for (i, byte) in buf[..n].iter().enumerate() {
                        assert_eq!(
                            *byte,
                            pattern(id, at + i),
                            "connection {id}, byte {}",
                            at + i
                        );
                    }
                    at += n;
                }
                assert_eq!(at, PER_CONN, "connection {id}: every byte");
                io::Result::Ok(())
            })
        })
        .collect();
    for r in readers {
        r.await.expect("reader")?;
    }
    drop(served); // the client waits for this, last
    let growth = peak.saturating_sub(rss_before);
    let bound = PER_CONN_OVERHEAD * CONNS as u64;
    println!(
        "BACKPRESSURE-OK [{driver}] {CONNS} x {} KiB unread for {PAUSE:?}, then all read in order; \
         server RSS grew {:.1} MiB while unread (bound {:.1} MiB: max_queued_bytes {} KiB per socket \
         held in the provided buffers mapped at start-up, plus {} KiB per connection of bookkeeping); \
         the served connection answered {pongs} pings meanwhile",
        PER_CONN / 1024,
        growth as f64 / (1 << 20) as f64,
        bound as f64 / (1 << 20) as f64,
        MAX_QUEUED / 1024,
        PER_CONN_OVERHEAD / 1024,
    );
    assert!(
        growth <= bound,
        "[{driver}] grew {growth} bytes, bound {bound}"
    );
    Ok(())
}
