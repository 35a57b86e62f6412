//! The echo benchmark's ceiling: a TCP echo server written straight on
//! io_uring, with no async runtime. There are no tasks, no wakers, no
//! executor and no op slab, just one ring and one loop that turns each
//! completion into the next submission. `benches/echo_load.py` measures it
//! beside `examples/echo.rs` and `tokio_echo`, so a run shows how close our
//! runtime comes to what an io_uring program reaches on that machine.
//!
//! ```text
//! cargo run --release --example bare_uring_echo -- --addr 127.0.0.1:7002
//! cargo run --release --example bare_uring_echo -- --mode multishot
//! python3 benches/echo_load.py --servers uring,epoll,tokio,bare,bare-multishot
//! ```
//!
//! The protocol is that of `examples/echo.rs`: each read of up to 16 KiB is
//! sent back whole. There are two modes:
//!
//! - `--mode oneshot` (the default) works per request, as our runtime does:
//!   one `Recv` into the connection's own buffer, then `Send` until all of it
//!   is gone, then the next `Recv`. After a short read the socket is drained,
//!   so that next `Recv` carries `IORING_RECVSEND_POLL_FIRST`.
//! - `--mode multishot` is the best the kernel offers for this job. A
//!   multishot accept hands out direct (fixed) descriptors, and one multishot
//!   `Recv` per connection picks buffers from a provided-buffer ring. Each
//!   buffer is sent back from where it was received and then returned to
//!   the ring. A connection holding `MAX_QUEUED` buffers has its recv
//!   paused, so that a peer that never reads cannot take them all.
//!
//! There is one thread with one ring (Linux 6.0 or later), and `--workers`
//! is not supported. SIGINT and SIGTERM keep their default action, so
//! either one ends the process.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::AsRawFd;

mod buf_ring;
mod multishot;
mod oneshot;
mod ring;
mod server;

use multishot::Multishot;
use oneshot::Oneshot;
use ring::Ring;
use server::{Echo, Server};

/// The most one receive takes, echoed back whole (the same as
/// `examples/echo.rs`): the oneshot buffer and each provided buffer.
const BUF: usize = 16 * 1024;
/// Slots in the direct-descriptor table (at most RLIMIT_NOFILE, which the
/// kernel enforces), which caps multishot mode's open connections: accept
/// fails with ENFILE past it.
const DIRECT_SLOTS: u32 = 4096;

// What a completion is for: `user_data` holds one of these in its high 32
// bits and the connection's key (fd or direct slot) in its low 32.
const ACCEPT: u64 = 1;
const ACCEPT_PAUSED: u64 = 2;
const RECV: u64 = 3;
const SEND: u64 = 4;
const CANCEL: u64 = 5;
const CLOSE: u64 = 6;

const USAGE: &str = "usage: bare_uring_echo [--addr HOST:PORT] [--mode oneshot|multishot]";

/// `--mode`: how connections are served.
#[derive(Clone, Copy)]
enum Mode {
    Oneshot,
    Multishot,
}

fn main() -> io::Result<()> {
    let mut addr: SocketAddr = "127.0.0.1:7000".parse().unwrap();
    let mut mode = Mode::Oneshot;
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
            "--mode" => {
                mode = match value()?.as_str() {
                    "oneshot" => Mode::Oneshot,
                    "multishot" => Mode::Multishot,
                    other => return Err(usage(&format!("--mode: unknown mode {other}"))),
                }
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(usage(&format!("unknown argument {other}"))),
        }
    }
    let listener = listen(addr)?;
    let (ring, flags) = Ring::new()?;
    match mode {
        Mode::Oneshot => serve(ring, flags, listener, Oneshot::default()),
        Mode::Multishot => {
            let slots = DIRECT_SLOTS.min(open_files_limit()?);
            ring.uring.submitter().register_files_sparse(slots)?;
            let echo = Multishot::new(&ring.uring)?;
            serve(ring, flags, listener, echo)
        }
    }
}

/// Announces the server, now that setup has fully succeeded (the script
/// takes this line to mean the server is ready), and runs it.
fn serve<E: Echo>(ring: Ring, flags: &str, listener: TcpListener, echo: E) -> io::Result<()> {
    let addr = listener.local_addr()?;
    let server = Server::new(ring, listener, echo);
    println!(
        "bare_uring_echo: listening on {addr} ({} mode; ring set up with {flags})",
        E::NAME
    );
    server.run()
}

fn usage(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, format!("{msg}\n{USAGE}"))
}

/// The listening socket, with room for many pending connections and
/// `TCP_NODELAY` set.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let listener = TcpListener::bind(addr)?;
    let fd = listener.as_raw_fd();
    // SAFETY: `fd` is the bound socket `listener` owns, open for this call.
    cvt(unsafe { libc::listen(fd, 4096) })?;
    // Ping-pong traffic: send each reply at once rather than wait for an
    // ACK. Linux copies the option to every accepted socket, which is the
    // only way to set it on a direct descriptor (there is no fd for
    // setsockopt).
    let one: libc::c_int = 1;
    // SAFETY: `fd` is open and `one` is a c_int that lives through the call,
    // whose size is passed with it.
    cvt(unsafe {
        libc::setsockopt(
            fd,
            libc::IPPROTO_TCP,
            libc::TCP_NODELAY,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    Ok(listener)
}

/// The soft RLIMIT_NOFILE.
fn open_files_limit() -> io::Result<u32> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for the call to fill.
    cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) })?;
    Ok(u32::try_from(limit.rlim_cur).unwrap_or(u32::MAX))
}

fn cvt(res: libc::c_int) -> io::Result<()> {
    if res < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn user_data(op: u64, key: u32) -> u64 {
    (op << 32) | u64::from(key)
}

/// The connection behind `key`. A completion only ever names a live
/// connection, because a slot is emptied only once nothing of it is in
/// flight.
fn slot<T>(conns: &mut [Option<T>], key: u32) -> &mut T {
    match conns.get_mut(key as usize) {
        Some(Some(conn)) => conn,
        _ => unreachable!("a completion for connection {key}, which is closed"),
    }
}

/// Stores a new connection under `key`, growing the table as needed.
fn insert<T>(conns: &mut Vec<Option<T>>, key: u32, conn: T) {
    let i = key as usize;
    if conns.len() <= i {
        conns.resize_with(i + 1, || None);
    }
    conns[i] = Some(conn);
}
