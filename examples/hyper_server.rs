//! An axum `Router` served by hyper 1.x on runtime: HTTP/1.1 and h2c
//! (HTTP/2 with prior knowledge) on one port through hyper-util's auto
//! connection builder, and HTTPS through rustls (tokio-rustls over the
//! `tokio-io` compat stream, HTTP/2 by ALPN). `benches/run.py` measures it
//! against its tokio twin, `benches/peers/tokio_hyper_hello.rs`.
//!
//! ```text
//! cargo run --release --example hyper_server --features hyper,tokio-io -- --addr 127.0.0.1:3000
//! curl http://127.0.0.1:3000/                      # Hello, world!
//! curl http://127.0.0.1:3000/json                  # {"message":"Hello, world!"}
//! curl -d 'some bytes' http://127.0.0.1:3000/echo  # some bytes
//! curl http://127.0.0.1:3000/hello/ferris          # Hello, ferris!
//! curl --http2-prior-knowledge http://127.0.0.1:3000/
//! # HTTPS: --tls-cert cert.pem --tls-key key.pem, then curl -k https://127.0.0.1:3000/
//! ```
//!
//! Each of `--workers N` runs its own `SO_REUSEPORT` listener and serves its
//! connections itself, one task per connection. `TcpStream` implements
//! hyper's `rt::Read`/`rt::Write` as it is (feature `hyper`), so plain HTTP
//! needs no wrapper; a TLS stream is a tokio `AsyncRead`/`AsyncWrite`, which
//! hyper-util's `TokioIo` adapts. Like `axum::serve`, no header-read timeout
//! is set unless `--header-timeout SECS` asks for one (it uses `HyperTimer`).

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Path;
use axum::routing::{get, post};
use axum::{Json, Router};
use hyper_util::rt::TokioIo;
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use runtime::io::compat::{HyperExecutor, HyperTimer};
use runtime::net::{TcpListener, TcpSocket, TcpStream};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

#[path = "support/cli.rs"]
mod cli;

const USAGE: &str = "usage: hyper_server [--addr HOST:PORT] [--workers N] \
                     [--tls-cert FILE --tls-key FILE] [--header-timeout SECS]";

/// What the command line asked for.
struct Options {
    /// Where to listen (port 0: any free port, printed at start-up).
    addr: SocketAddr,
    /// Worker threads, each with its own listener.
    workers: usize,
    /// PEM certificate chain and private key: serve HTTPS.
    tls: Option<(PathBuf, PathBuf)>,
    /// hyper's HTTP/1 header-read timeout, if any.
    header_timeout: Option<Duration>,
}

fn main() -> io::Result<()> {
    let opts = cli::parse(USAGE, parse_args);
    let tls = match &opts.tls {
        Some((cert, key)) => Some(tls_acceptor(cert, key)?),
        None => None,
    };
    let rt = runtime::Builder::new().workers(opts.workers).build()?;

    // Bind every listener up front, so port 0 becomes one real port for all.
    let first = reuseport_listener(opts.addr)?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..opts.workers {
        listeners.push(reuseport_listener(addr)?);
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!(
        "hyper_server: listening on {scheme}://{addr}/ with {} worker(s)",
        opts.workers
    );
    println!("{}", rt.driver_info());

    let header_timeout = opts.header_timeout;
    rt.block_on(async move {
        let servers: Vec<_> = listeners
            .into_iter()
            .enumerate()
            .map(|(i, listener)| {
                let tls = tls.clone();
                runtime::spawn_on(i, move || serve(listener, tls, header_timeout))
            })
            .collect();
        for server in servers {
            if let Err(e) = server.await {
                eprintln!("hyper_server: a worker stopped: {e}");
            }
        }
    });
    Ok(())
}

fn parse_args() -> Result<Options, lexopt::Error> {
    use lexopt::prelude::*;
    let mut opts = Options {
        addr: "127.0.0.1:3000".parse().expect("a valid address"),
        workers: 1,
        tls: None,
        header_timeout: None,
    };
    let (mut cert, mut key) = (None, None);
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("addr") => opts.addr = parser.value()?.parse()?,
            Long("workers") => opts.workers = parser.value()?.parse::<usize>()?.max(1),
            Long("tls-cert") => cert = Some(PathBuf::from(parser.value()?)),
            Long("tls-key") => key = Some(PathBuf::from(parser.value()?)),
            Long("header-timeout") => {
                let secs: f64 = parser.value()?.parse()?;
                let dur = Duration::try_from_secs_f64(secs)
                    .map_err(|e| format!("--header-timeout: {e}"))?;
                opts.header_timeout = Some(dur);
            }
            Short('h') | Long("help") => cli::help(USAGE),
            _ => return Err(arg.unexpected()),
        }
    }
    opts.tls = match (cert, key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => return Err("--tls-cert and --tls-key go together".into()),
    };
    Ok(opts)
}

/// The routes; `benches/peers/tokio_hyper_hello.rs` serves the first two too.
fn router() -> Router {
    Router::new()
        .route("/", get(|| async { "Hello, world!" }))
        .route(
            "/json",
            get(|| async { Json(serde_json::json!({ "message": "Hello, world!" })) }),
        )
        .route("/echo", post(|body: Bytes| async move { body }))
        .route(
            "/hello/{name}",
            get(|Path(name): Path<String>| async move { format!("Hello, {name}!") }),
        )
}

/// A rustls acceptor for the PEM certificate chain and key, offering HTTP/2
/// and HTTP/1.1 by ALPN.
fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> io::Result<TlsAcceptor> {
    let bad = |what: &std::path::Path, e: &dyn std::fmt::Display| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: {e}", what.display()),
        )
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .map_err(|e| bad(cert, &e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(cert, &e))?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| bad(key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
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
async fn serve(listener: TcpListener, tls: Option<TlsAcceptor>, header_timeout: Option<Duration>) {
    let service = TowerToHyperService::new(router());
    let mut builder = auto::Builder::new(HyperExecutor);
    if let Some(timeout) = header_timeout {
        builder
            .http1()
            .timer(HyperTimer)
            .header_read_timeout(timeout);
        builder.http2().timer(HyperTimer);
    }
    let builder = std::rc::Rc::new(builder);
    // `incoming()` pauses after errors that would repeat at once (EMFILE).
    let mut incoming = listener.incoming();
    while let Some(conn) = incoming.next().await {
        let stream = match conn {
            Ok(stream) => stream,
            Err(e) => {
                eprintln!("hyper_server: accept: {e}");
                continue;
            }
        };
        let (service, builder, tls) = (service.clone(), builder.clone(), tls.clone());
        drop(runtime::spawn(async move {
            // A client that vanishes mid-request is the client's problem.
            let _ = connection(stream, &builder, service, tls).await;
        }));
    }
}

/// Serves one connection, over TLS if configured.
async fn connection(
    stream: TcpStream,
    builder: &auto::Builder<HyperExecutor>,
    service: TowerToHyperService<Router>,
    tls: Option<TlsAcceptor>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // Small responses: send them now rather than wait for Nagle.
    stream.set_nodelay(true)?;
    match tls {
        // `TcpStream` is hyper's `rt::Read + rt::Write` itself.
        None => builder.serve_connection(stream, service).await,
        // The TLS stream runs over the tokio-io traits of `TcpStream`.
        Some(acceptor) => {
            let tls_stream = acceptor.accept(stream).await?;
            builder
                .serve_connection(TokioIo::new(tls_stream), service)
                .await
        }
    }
}
