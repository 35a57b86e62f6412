//! An HTTP/1.1 static file server on `runtime`: GET and HEAD, keep-alive and
//! pipelining, byte ranges, If-Modified-Since, directory listings, and file
//! bodies sent zero-copy from the page cache to the socket.
//!
//! ```text
//! cargo run --release --example file_server -- [DIR] [--addr 127.0.0.1:8080] [--workers N]
//! ```
//!
//! DIR defaults to the current directory. Each worker runs its own
//! `SO_REUSEPORT` listener, so the kernel spreads connections across workers.
//! Files are opened with `openat2(RESOLVE_BENEATH)` relative to DIR, so no
//! path — `..`, encoded or not, absolute, or through a symlink — escapes it.

mod connection;
mod date;
mod handler;
mod listing;
mod mime;
mod path;
mod range;
mod request;
mod response;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;

use runtime::fs::File;
use runtime::net::{TcpListener, TcpSocket};

/// Command-line settings.
struct Args {
    /// The directory served.
    root: PathBuf,
    /// Where to listen.
    addr: SocketAddr,
    /// Worker threads, each with its own listener.
    workers: usize,
    /// How long a client may take to send a request head.
    head_timeout: std::time::Duration,
}

const USAGE: &str =
    "usage: file_server [DIR] [--addr 127.0.0.1:8080] [--workers N] [--head-timeout-ms 10000]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        root: PathBuf::from("."),
        addr: "127.0.0.1:8080".parse().expect("valid default address"),
        workers: 1,
        head_timeout: connection::HEAD_TIMEOUT,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--addr" => {
                let v = it.next().ok_or("--addr needs a value")?;
                args.addr = v.parse().map_err(|e| format!("--addr {v}: {e}"))?;
            }
            "--workers" => {
                let v = it.next().ok_or("--workers needs a value")?;
                args.workers = v.parse().map_err(|e| format!("--workers {v}: {e}"))?;
                if args.workers == 0 {
                    return Err("--workers must be at least 1".into());
                }
            }
            "--head-timeout-ms" => {
                let v = it.next().ok_or("--head-timeout-ms needs a value")?;
                let ms = v
                    .parse()
                    .map_err(|e| format!("--head-timeout-ms {v}: {e}"))?;
                args.head_timeout = std::time::Duration::from_millis(ms);
            }
            "-h" | "--help" => return Err(USAGE.into()),
            flag if flag.starts_with("--") => {
                return Err(format!("unknown option {flag}\n{USAGE}"))
            }
            dir => args.root = PathBuf::from(dir),
        }
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let rt = match runtime::Builder::new().workers(args.workers).build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = rt.block_on(async move {
        // Bind every listener first, so the printed address is really served.
        let first = listen(args.addr)?;
        let addr = first.local_addr()?;
        for worker in 1..args.workers {
            let root = args.root.clone();
            let head_timeout = args.head_timeout;
            let listener = listen(addr)?.into_std()?;
            drop(runtime::spawn_on(worker, move || async move {
                let served = match TcpListener::from_std(listener) {
                    Ok(l) => serve(l, root, head_timeout).await,
                    Err(e) => Err(e),
                };
                if let Err(e) = served {
                    eprintln!("worker {worker}: {e}");
                }
            }));
        }
        println!(
            "serving {} at http://{addr}/ ({} worker(s), {})",
            args.root.display(),
            args.workers,
            runtime::driver_kind()
        );
        serve(first, args.root, args.head_timeout).await
    });
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// A `SO_REUSEPORT` listener on `addr`, one per worker.
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_reuseport(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Accepts connections on this worker and serves each in its own task.
async fn serve(
    listener: TcpListener,
    root: PathBuf,
    head_timeout: std::time::Duration,
) -> std::io::Result<()> {
    let dir = File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(&root)
        .await?;
    let dir = Rc::new(dir);
    let mut incoming = listener.incoming();
    while let Some(conn) = incoming.next().await {
        match conn {
            Ok(stream) => drop(runtime::spawn(connection::run(
                stream,
                dir.clone(),
                head_timeout,
            ))),
            // EMFILE and friends: `incoming` already backs off; keep serving.
            Err(e) => eprintln!("accept: {e}"),
        }
    }
    Ok(())
}
