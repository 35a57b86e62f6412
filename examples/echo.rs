//! A multi-core TCP echo server: one `SO_REUSEPORT` listener per worker, so
//! the kernel spreads connections across workers and each connection lives
//! on one worker from accept to close.
//!
//! ```text
//! cargo run --release --example echo -- --addr 127.0.0.1:7000 --workers 2
//! RUNTIME_DRIVER=epoll cargo run --release --example echo    # the fallback driver
//! ```
//!
//! Then load it with `cargo run --release --example echo_client`, or try
//! `nc 127.0.0.1 7000`.
//!
//! `--udp` echoes datagrams on a UDP socket instead (load it with
//! `echo_client --udp`): on io_uring the kernel receives them with one
//! multishot `recvmsg` into the worker's provided buffers, and each reply
//! goes out from its own task, so replies are sent in batches.
//!
//! The kernel does the I/O and no byte is copied in user space: on io_uring
//! each connection's bytes arrive by multishot receive into its worker's
//! provided buffers, `recv_buf()` lends the filled buffer itself, and
//! `write_queued` has the kernel send the reply from it while the task goes
//! on to the next read (one wake-up per request). An idle connection holds
//! no buffer, so 10,000 idle connections cost a task and a socket each, not
//! 10,000 buffers.
//!
//! `--compat` (with `--features tokio-io`) echoes with `tokio::io::copy_buf` over
//! the stream's tokio `AsyncRead`/`AsyncWrite` instead, so
//! `benches/echo_load.py --servers uring,compat` measures what the poll-based
//! bridge costs against the owned-buffer API.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;

use runtime::buf::IoBuf;
use runtime::net::{TcpListener, TcpSocket, TcpStream, UdpSocket};

#[path = "support/cli.rs"]
mod cli;

/// The largest datagram the UDP echo takes whole (bigger ones are cut).
const DATAGRAM: usize = 2048;

/// The most one read of the compat echo takes (the provided buffers' size).
#[cfg(feature = "tokio-io")]
const BUF: usize = 16 * 1024;

const USAGE: &str = "usage: echo [--addr HOST:PORT] [--workers N] [--compat] [--udp]";

/// The command line.
struct Options {
    /// Where to listen.
    addr: SocketAddr,
    /// Worker threads, each with a listener of its own on the port.
    workers: usize,
    /// Echo through tokio's poll-based traits (`--compat`).
    compat: bool,
    /// Echo datagrams instead (`--udp`).
    udp: bool,
}

fn parse_args() -> Result<Options, lexopt::Error> {
    use lexopt::prelude::*;
    let mut opts = Options {
        addr: "127.0.0.1:7000".parse().expect("a valid address"),
        workers: 1,
        compat: false,
        udp: false,
    };
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("addr") => opts.addr = parser.value()?.parse()?,
            Long("workers") => opts.workers = parser.value()?.parse()?,
            Long("compat") if cfg!(feature = "tokio-io") => opts.compat = true,
            Long("compat") => return Err("--compat needs --features tokio-io".into()),
            Long("udp") => opts.udp = true,
            Short('h') | Long("help") => cli::help(USAGE),
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(opts)
}

fn main() -> io::Result<()> {
    let Options {
        addr,
        workers,
        compat,
        udp,
    } = cli::parse(USAGE, parse_args);
    let rt = runtime::Builder::new().workers(workers).build()?;
    if udp {
        let socket = UdpSocket::bind(addr)?;
        println!("echo: UDP on {}", socket.local_addr()?);
        println!("{}", rt.driver_info());
        return rt.block_on(echo_datagrams(socket));
    }

    // Bind every listener up front, so port 0 becomes one real port for all.
    let first = reuseport_listener(addr)?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..workers {
        listeners.push(reuseport_listener(addr)?);
    }
    println!("echo: listening on {addr} with {workers} worker(s)");
    println!("{}", rt.driver_info());

    rt.block_on(async move {
        let servers: Vec<_> = listeners
            .into_iter()
            .enumerate()
            .map(|(i, listener)| runtime::spawn_on(i, move || serve(listener, compat)))
            .collect();
        for server in servers {
            if let Err(e) = server.await {
                eprintln!("echo: a worker stopped: {e}");
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
// Without the `tokio-io` feature, `compat` is always false and unread.
#[cfg_attr(not(feature = "tokio-io"), allow(unused_variables))]
async fn serve(listener: TcpListener, compat: bool) {
    let mut incoming = listener.incoming();
    while let Some(conn) = incoming.next().await {
        match conn {
            #[cfg(feature = "tokio-io")]
            Ok(stream) if compat => drop(runtime::spawn(echo_compat(stream))),
            Ok(stream) => drop(runtime::spawn(echo(stream))),
            // Out of descriptors, say: `incoming` already pauses before retrying.
            Err(e) => eprintln!("echo: accept: {e}"),
        }
    }
}

/// Echoes everything until the peer closes or fails.
async fn echo(stream: TcpStream) {
    // Ping-pong traffic: send each reply at once rather than wait for an ACK.
    let _ = stream.set_nodelay(true);
    loop {
        // Idle here, holding no buffer; then the bytes as received.
        let buf = match stream.recv_buf().await {
            Ok(buf) if !buf.is_empty() => buf,
            _ => return, // end of stream or an error
        };
        // Sent from where it was received, by the kernel, with no wait for
        // it: the next read starts at once (the buffer goes back once sent).
        if stream.write_queued(buf).await.is_err() {
            return;
        }
    }
}

/// Echoes each datagram to its sender, until the process ends. Each reply
/// is sent from a task of its own, so the next datagram is taken at once
/// and many replies go to the kernel together.
async fn echo_datagrams(socket: UdpSocket) -> io::Result<()> {
    let socket = Rc::new(socket);
    loop {
        let (res, buf) = socket.recv_from(Vec::with_capacity(DATAGRAM)).await;
        let (n, peer) = match res {
            Ok(got) => got,
            // An ICMP error of an earlier reply, say: the socket goes on.
            Err(e) => {
                eprintln!("echo: recv_from: {e}");
                continue;
            }
        };
        let socket = socket.clone();
        drop(runtime::spawn(async move {
            let _ = socket.send_to(buf.slice(..n), peer).await;
        }));
    }
}

/// The same echo through tokio's poll-based traits: `tokio::io::copy_buf`
/// from the stream to itself (`&TcpStream` is both reader and writer),
/// reading up to `BUF` bytes at a time as `echo` does (`tokio::io::copy`
/// would read 8 KiB at a time).
#[cfg(feature = "tokio-io")]
async fn echo_compat(stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let mut reader = tokio::io::BufReader::with_capacity(BUF, &stream);
    let _ = tokio::io::copy_buf(&mut reader, &mut &stream).await;
}
