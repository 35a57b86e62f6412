//! hyper-util's pooled `Client` on runtime through `http::client::Connector`:
//! one client, shared by every worker, fetching a URL `--repeat N` times
//! from each worker; the pool keeps connections open between requests.
//! HTTPS through rustls, trusting the PEM certificate `--ca FILE`.
//!
//! ```text
//! cargo run --example axum_app --features hyper,tls,websocket,client &
//! cargo run --example pooled_client --features client,tls -- http://127.0.0.1:3000/api/hello --workers 2
//! ```

use std::path::PathBuf;
use std::sync::Arc;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use runtime::http::client::Connector;
use runtime::io::compat::{HyperExecutor, HyperTimer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

#[path = "support/cli.rs"]
mod cli;

const USAGE: &str = "usage: pooled_client URL [--repeat N] [--workers N] [--ca CERT.pem]";

/// The error type of this program: anything printable.
type Error = Box<dyn std::error::Error + Send + Sync>;

/// What the command line asked for.
struct Options {
    /// What to fetch.
    uri: hyper::Uri,
    /// How many times.
    repeat: usize,
    /// Worker threads, each fetching through the one client.
    workers: usize,
    /// A PEM certificate to trust for HTTPS.
    ca: Option<PathBuf>,
}

fn parse_args() -> Result<Options, lexopt::Error> {
    use lexopt::prelude::*;
    let (mut uri, mut repeat, mut workers, mut ca) = (None, 1usize, 1usize, None);
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("repeat") => repeat = parser.value()?.parse()?,
            Long("workers") => workers = parser.value()?.parse()?,
            Long("ca") => ca = Some(PathBuf::from(parser.value()?)),
            Short('h') | Long("help") => cli::help(USAGE),
            Value(v) if uri.is_none() => uri = Some(v.parse::<hyper::Uri>()?),
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(Options {
        uri: uri.ok_or("which URL?")?,
        repeat,
        workers,
        ca,
    })
}

fn main() -> Result<(), Error> {
    let Options {
        uri,
        repeat,
        workers,
        ca,
    } = cli::parse(USAGE, parse_args);
    let mut connector = Connector::new();
    if let Some(path) = ca {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&path)? {
            roots.add(cert?)?;
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        connector = connector.tls(Arc::new(config));
    }
    // The pool's connection tasks run on the worker that opened each one
    // (HyperExecutor); its idle timer is the runtime's (HyperTimer).
    let client: Client<Connector, Empty<Bytes>> = Client::builder(HyperExecutor)
        .pool_timer(HyperTimer)
        .build(connector);

    let rt = runtime::Builder::new().workers(workers).build()?;
    rt.block_on(async move {
        let handles: Vec<_> = (0..workers)
            .map(|w| {
                let (client, uri) = (client.clone(), uri.clone());
                runtime::spawn_on(w, move || async move {
                    let mut lines = Vec::new();
                    for _ in 0..repeat {
                        let res = client.get(uri.clone()).await?;
                        let status = res.status();
                        let body = res.into_body().collect().await?.to_bytes();
                        lines.push(format!(
                            "worker {w}: {status} {}",
                            String::from_utf8_lossy(&body)
                        ));
                    }
                    Ok::<_, Error>(lines)
                })
            })
            .collect();
        for handle in handles {
            for line in handle.await.map_err(|e| e.to_string())?? {
                println!("{line}");
            }
        }
        Ok(())
    })
}
