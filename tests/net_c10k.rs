//! C10K: one worker holds 10,000 connections open at once and echoes a
//! message on each, on both drivers, and reports the server's memory per
//! connection (RSS delta / 10,000).
//!
//! A process may open 20,000 descriptors on the machines this runs on, so
//! the client side (another 10,000) runs in a child process: this test
//! binary, re-run with `C10K_CHILD` set. The server runs in a child too
//! (`C10K_SERVER`), so each driver's memory is measured in a fresh process.

use std::cell::Cell;
use std::io;
use std::process::Command;
use std::rc::Rc;
use std::time::{Duration, Instant};

use runtime::buf::IoBuf;
use runtime::io::read_exact;
use runtime::net::{TcpSocket, TcpStream};
use runtime::DriverKind;

/// Connections held at once.
const CONNS: usize = 10_000;
/// Size of the echoed message.
const MSG: usize = 64;
/// The server's read buffer per connection.
const SERVER_BUF: usize = 1024;
/// Connects in flight at once in the client (keeps the SYN queue from overflowing).
const CONNECT_BATCH: usize = 500;
/// Safety net for the whole exchange; it normally takes a few seconds.
const LIMIT: Duration = Duration::from_secs(120);

/// Raises the soft `RLIMIT_NOFILE` to the hard limit; returns the new soft limit.
fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for the kernel to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 0;
    }
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: `lim` is a valid rlimit.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } != 0 {
        return 0;
    }
    lim.rlim_cur
}

/// Resident memory of this process, in bytes (`/proc/self/statm`).
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    // SAFETY: sysconf takes no pointers.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page).unwrap_or(4096)
}

fn driver_name() -> &'static str {
    match runtime::driver_kind() {
        DriverKind::Uring => "uring",
        _ => "epoll",
    }
}

/// Runs the server for `driver` in a fresh process (so its RSS is its own,
/// and each side gets its own descriptor limit), which runs the client in
/// another; returns the server's report.
fn run_server(driver: &str) {
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args(["c10k_server_entry", "--exact", "--nocapture"])
        .env("C10K_SERVER", driver)
        .output()
        .expect("spawn the server process");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "[{driver}] server failed\n{stdout}\n{stderr}"
    );
    if let Some(line) = stdout.lines().find(|l| l.contains("C10K-SKIPPED")) {
        let required = std::env::var("RUNTIME_REQUIRE_URING").is_ok_and(|v| v == "1");
        assert!(!required, "io_uring required but unavailable: {line}");
        eprintln!("skipped on {driver}: {line}");
        return;
    }
    let report = stdout.lines().find(|l| l.contains("C10K-SERVER-OK"));
    let report = report.unwrap_or_else(|| panic!("[{driver}] no report\n{stdout}\n{stderr}"));
    println!("{report}");
}

mod ten_thousand_connections_on_one_worker {
    #[test]
    fn uring() {
        super::run_server("uring");
    }

    #[test]
    fn epoll() {
        super::run_server("epoll");
    }
}

/// The server, in a child process chosen by `C10K_SERVER` (the driver).
#[test]
fn c10k_server_entry() {
    let Ok(driver) = std::env::var("C10K_SERVER") else {
        return;
    };
    let kind = if driver == "uring" {
        DriverKind::Uring
    } else {
        DriverKind::Epoll
    };
    let limit = raise_fd_limit();
    if limit < (CONNS + 512) as u64 {
        println!(
            "C10K-SKIPPED: RLIMIT_NOFILE is {limit}, {} needed",
            CONNS + 512
        );
        return;
    }
    let rt = match runtime::Builder::new().driver(kind).build() {
        Ok(rt) => rt,
        Err(e) if kind == DriverKind::Uring => {
            println!("C10K-SKIPPED: {e}");
            return;
        }
        Err(e) => panic!("server runtime: {e}"),
    };
    rt.block_on(server()).expect("server");
}

/// Accepts `CONNS` connections on one worker, echoes on each, and measures
/// the resident memory when all of them are open and idle.
async fn server() -> io::Result<()> {
    let socket = TcpSocket::new_v4()?;
    socket.bind("127.0.0.1:0".parse().unwrap())?;
    let listener = socket.listen(4096)?;
    let addr = listener.local_addr()?;
    let driver = driver_name();

    let rss_before = rss_bytes();
    let echoed = Rc::new(Cell::new(0usize));
    let rss_at_peak = Rc::new(Cell::new(0u64));
    let (echoed2, peak2) = (echoed.clone(), rss_at_peak.clone());
    let server = runtime::spawn(async move {
        let mut incoming = listener.incoming();
        let mut conns = Vec::with_capacity(CONNS);
        for _ in 0..CONNS {
            let stream = match incoming.next().await {
                Some(Ok(s)) => s,
                Some(Err(e)) => return Err(e),
                None => unreachable!("incoming never ends"),
            };
            let (echoed, peak) = (echoed2.clone(), peak2.clone());
            conns.push(runtime::spawn(async move {
                serve(stream, &echoed, &peak).await;
            }));
        }
        // Every connection ends once the client is gone.
        for conn in conns {
            conn.await.expect("connection task");
        }
        Ok(())
    });

    // The client: this binary again, in a child process with its own descriptors.
    let exe = std::env::current_exe()?;
    let start = Instant::now();
    let child = runtime::spawn_blocking(move || {
        Command::new(exe)
            .args(["c10k_client_entry", "--exact", "--nocapture"])
            .env("C10K_CHILD", format!("{addr},{driver}"))
            .output()
    });
    let out = runtime::time::timeout(LIMIT, child)
        .await
        .expect("the client finished in time")
        .expect("client task")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "client failed\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("C10K-CLIENT-OK"),
        "client: {stdout}\n{stderr}"
    );
    runtime::time::timeout(LIMIT, server)
        .await
        .expect("the server saw every connection open and close")
        .expect("server task")?;
    assert_eq!(echoed.get(), CONNS);
    let delta = rss_at_peak.get().saturating_sub(rss_before);
    println!(
        "C10K-SERVER-OK [{driver}] {CONNS} connections echoed in {:.2?}; server RSS +{:.1} MiB \
         = {} bytes per connection (incl. a {SERVER_BUF}-byte read buffer each)",
        start.elapsed(),
        delta as f64 / (1 << 20) as f64,
        delta / CONNS as u64,
    );
    Ok(())
}

/// One server connection: echo one message, then wait (idle) for the client
/// to close. When the last connection has echoed, all of them are open and
/// idle: that is when the server's memory is measured.
async fn serve(stream: TcpStream, echoed: &Cell<usize>, rss_at_peak: &Cell<u64>) {
    let (res, buf) = read_exact(&mut &stream, Vec::with_capacity(SERVER_BUF).slice(..MSG)).await;
    if res.is_err() {
        return;
    }
    let (res, buf) = stream.write_all(buf).await;
    if res.is_err() {
        return;
    }
    echoed.set(echoed.get() + 1);
    if echoed.get() == CONNS {
        rss_at_peak.set(rss_bytes());
    }
    let mut buf = buf.into_inner();
    loop {
        buf.clear();
        let (res, b) = stream.read(buf).await;
        buf = b;
        if !matches!(res, Ok(n) if n > 0) {
            return;
        }
    }
}

/// The client, in the child process: opens all connections, then echoes a
/// message on every one of them at once, and only then closes them.
#[test]
fn c10k_client_entry() {
    let Ok(spec) = std::env::var("C10K_CHILD") else {
        return;
    };
    let (addr, driver) = spec.split_once(',').expect("addr,driver");
    let addr: std::net::SocketAddr = addr.parse().expect("address");
    let kind = if driver == "uring" {
        DriverKind::Uring
    } else {
        DriverKind::Epoll
    };
    assert!(raise_fd_limit() >= (CONNS + 256) as u64, "descriptor limit");
    let rt = runtime::Builder::new()
        .driver(kind)
        .build()
        .expect("client runtime");
    rt.block_on(async move {
        let mut streams = Vec::with_capacity(CONNS);
        while streams.len() < CONNS {
            let batch: Vec<_> = (0..CONNECT_BATCH.min(CONNS - streams.len()))
                .map(|_| runtime::spawn(TcpStream::connect(addr)))
                .collect();
            for c in batch {
                let stream = c.await.expect("connect task").expect("connect");
                // Close with a reset: no TIME_WAIT pile-up across runs.
                stream.set_linger(Some(Duration::ZERO)).expect("linger");
                streams.push(stream);
            }
        }
        let tasks: Vec<_> = streams
            .into_iter()
            .enumerate()
            .map(|(i, stream)| {
                runtime::spawn(async move {
                    let msg: Vec<u8> = (0..MSG).map(|j| (i + j) as u8).collect();
                    let (res, msg) = stream.write_all(msg).await;
                    res.expect("send");
                    let (res, got) = read_exact(&mut &stream, vec![0u8; MSG]).await;
                    res.expect("echo");
                    assert_eq!(got, msg, "echo of connection {i}");
                    stream
                })
            })
            .collect();
        let mut open = Vec::with_capacity(CONNS);
        for t in tasks {
            open.push(t.await.expect("echo task"));
        }
        assert_eq!(open.len(), CONNS);
        println!("C10K-CLIENT-OK {}", open.len());
    });
}
