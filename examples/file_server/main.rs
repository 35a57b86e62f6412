//! An HTTP/1.1 static file server on `runtime`: GET and HEAD, keep-alive and
//! pipelining, byte ranges, ETags and conditional requests, precompressed
//! `.br`/`.gz` siblings, directory listings, and file bodies sent zero-copy
//! from the page cache to the socket.
//!
//! ```text
//! cargo run --release --example file_server -- [DIR] [--addr 127.0.0.1:8080] [--workers N]
//! ```
//!
//! DIR defaults to the current directory; `--help` lists every option. Each
//! worker runs its own `SO_REUSEPORT` listener, so the kernel spreads
//! connections across workers: `--workers N` with N the number of cores uses
//! every core. Files are opened with `openat2(RESOLVE_BENEATH)` relative to
//! DIR, so no path (`..`, encoded or not, absolute, or through a symlink)
//! escapes it; dotfiles are hidden unless `--show-hidden`. SIGINT or SIGTERM
//! stops accepting, lets in-flight responses finish within `--grace-ms`, and
//! exits 0.

mod access_log;
mod clock;
#[path = "../../runtime/http/files/conditional.rs"]
mod conditional;
mod config;
mod connection;
#[path = "../../runtime/http/files/date.rs"]
mod date;
mod deadline;
#[path = "../../runtime/http/files/encoding.rs"]
mod encoding;
mod file_reply;
mod handler;
mod listing;
#[path = "../../runtime/http/files/mime.rs"]
mod mime;
mod open_cache;
#[path = "../../runtime/http/files/path.rs"]
mod path;
#[path = "../../runtime/http/files/range.rs"]
mod range;
mod request;
mod response;
mod shutdown;

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;
use std::sync::Arc;

use runtime::fs::File;
use runtime::net::TcpListener;
use runtime::signal::unix::{signal, SignalKind};

use crate::config::Config;
use crate::connection::Context;
use crate::shutdown::Shutdown;

fn main() {
    let cfg = match Config::from_args() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let rt = match runtime::Builder::new().workers(cfg.workers).build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(cfg)) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    // Tasks still running on other workers (none, once drained) need no join.
    std::process::exit(0);
}

/// Serves until SIGINT or SIGTERM, then shuts down gracefully.
async fn run(cfg: Config) -> std::io::Result<()> {
    let cfg = Arc::new(cfg);
    let shutdown = Arc::new(Shutdown::default());
    // Listening for the signals before the banner: a signal sent once the
    // address is printed must find the handler installed.
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    // Bind every listener first, so the printed address is really served.
    let first = TcpListener::bind_reuseport(cfg.addr)?;
    let addr = first.local_addr()?;
    // A duplicate of each listener, to stop them all from here.
    let mut stoppers: Vec<OwnedFd> = vec![first.as_fd().try_clone_to_owned()?];
    // Each worker's accept loop, awaited on shutdown (it then prints `--stats`).
    let mut accepting = Vec::with_capacity(cfg.workers);
    for worker in 1..cfg.workers {
        let listener = TcpListener::bind_reuseport(addr)?;
        stoppers.push(listener.as_fd().try_clone_to_owned()?);
        let listener = listener.into_std()?;
        let (cfg, shutdown) = (Config::clone(&cfg), shutdown.clone());
        accepting.push(runtime::spawn_on(worker, move || async move {
            match TcpListener::from_std(listener) {
                Ok(l) => serve(worker, l, cfg, shutdown).await,
                Err(e) => eprintln!("worker {worker}: {e}"),
            }
        }));
    }
    println!(
        "serving {} at http://{addr}/ ({} worker(s), {})",
        cfg.root.display(),
        cfg.workers,
        runtime::driver_kind()
    );
    accepting.push(runtime::spawn(serve(
        0,
        first,
        Config::clone(&cfg),
        shutdown.clone(),
    )));

    wait_for_either(interrupt.recv(), terminate.recv()).await;
    shutdown.begin();
    for fd in &stoppers {
        // SAFETY: shutdown(2) on a descriptor `stoppers` owns; it makes the
        // listening socket refuse new connections at once, on every worker.
        unsafe { libc::shutdown(std::os::fd::AsRawFd::as_raw_fd(fd), libc::SHUT_RDWR) };
    }
    drop(stoppers);
    println!(
        "shutting down: no longer accepting; {} connection(s) open, grace {} ms",
        shutdown.open_connections(),
        cfg.grace.as_millis()
    );
    let _ = std::io::stdout().flush();
    let stopped = async {
        for worker in accepting {
            let _ = worker.await;
        }
        shutdown.drained().await;
    };
    let _ = runtime::time::timeout(cfg.grace, stopped).await;
    Ok(())
}

/// Resolves when either future does.
async fn wait_for_either<A: std::future::Future, B: std::future::Future>(a: A, b: B) {
    let (mut a, mut b) = (std::pin::pin!(a), std::pin::pin!(b));
    std::future::poll_fn(|cx| {
        if a.as_mut().poll(cx).is_ready() || b.as_mut().poll(cx).is_ready() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

/// Accepts connections on this worker and serves each in its own task, until
/// the shutdown starts; an error (the root cannot be opened) is printed.
async fn serve(worker: usize, listener: TcpListener, cfg: Config, shutdown: Arc<Shutdown>) {
    let dir = File::options()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(&cfg.root)
        .await;
    let dir = match dir {
        Ok(dir) => dir,
        Err(e) => return eprintln!("worker {worker}: {}: {e}", cfg.root.display()),
    };
    let ctx = Rc::new(Context {
        dir: Rc::new(dir),
        files: open_cache::OpenCache::new(cfg.revalidate),
        cfg: Rc::new(cfg),
        shutdown: shutdown.clone(),
    });
    let sweeper = runtime::spawn(sweep_open_files(Rc::downgrade(&ctx)));
    let mut incoming = listener.incoming();
    while let Some(Some(conn)) = shutdown.unless_started(incoming.next()).await {
        match conn {
            Ok(stream) => drop(runtime::spawn(connection::run(stream, ctx.clone()))),
            // Shutting down: the listener was shut; no message.
            Err(_) if shutdown.is_started() => break,
            // EMFILE and friends: `incoming` already backs off; keep serving.
            Err(e) => eprintln!("accept: {e}"),
        }
    }
    sweeper.abort();
    if ctx.cfg.stats {
        println!("worker {worker} open-file table: {}", ctx.files.stats());
    }
}

/// Closes, every `SWEEP_EVERY`, the open files of this worker that were
/// deleted or replaced since they were opened, so their disk space comes
/// back even if nobody asks for them again; ends with the worker's context.
async fn sweep_open_files(ctx: std::rc::Weak<Context>) {
    let mut every = runtime::time::interval(open_cache::SWEEP_EVERY);
    loop {
        every.tick().await;
        match ctx.upgrade() {
            Some(ctx) => ctx.files.sweep(),
            None => return,
        }
    }
}
