//! GET with hyper 1.x's client on runtime: prints the status, the headers
//! and the body of each response. `--repeat N` sends N requests over one
//! keep-alive connection; `--http2` speaks HTTP/2 with prior knowledge (h2c).
//!
//! ```text
//! cargo run --example hyper_server --features hyper,tokio-io &
//! cargo run --example hyper_client --features hyper -- http://127.0.0.1:3000/json --repeat 3
//! ```
//!
//! `TcpStream` implements hyper's `rt::Read`/`rt::Write` (feature `hyper`),
//! so it goes to hyper's handshake as it is; `HyperExecutor` runs HTTP/2's
//! background tasks on the current worker.

use std::io;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use runtime::io::compat::HyperExecutor;
use runtime::net::TcpStream;

#[path = "support/cli.rs"]
mod cli;

const USAGE: &str = "usage: hyper_client URL [--repeat N] [--http2]";

/// The error type of this program: anything printable.
type Error = Box<dyn std::error::Error + Send + Sync>;

/// The command line: the URL, how many requests, and whether over HTTP/2.
fn parse_args() -> Result<(Uri, usize, bool), lexopt::Error> {
    use lexopt::prelude::*;
    let (mut url, mut repeat, mut http2) = (None, 1usize, false);
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("repeat") => repeat = parser.value()?.parse()?,
            Long("http2") => http2 = true,
            Short('h') | Long("help") => cli::help(USAGE),
            Value(v) if url.is_none() => url = Some(v.parse::<Uri>()?),
            _ => return Err(arg.unexpected()),
        }
    }
    Ok((url.ok_or("which URL?")?, repeat, http2))
}

#[runtime::main]
async fn main() -> Result<(), Error> {
    let (url, repeat, http2) = cli::parse(USAGE, parse_args);
    if url.scheme_str() != Some("http") {
        return Err("only http:// URLs (no TLS in this example)".into());
    }
    let host = url.host().ok_or("the URL has no host")?.to_string();
    let port = url.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host.as_str(), port)).await?;
    stream.set_nodelay(true)?;

    let authority = url.authority().map_or(host.clone(), |a| a.to_string());
    let request = || {
        Request::get(url.clone())
            .header(hyper::header::HOST, authority.as_str())
            .body(Empty::<Bytes>::new())
    };
    let mut out = io::stdout().lock();
    if http2 {
        let (mut sender, conn) =
            hyper::client::conn::http2::handshake(HyperExecutor, stream).await?;
        drop(runtime::spawn(conn)); // drives the connection; ends when `sender` is dropped
        for _ in 0..repeat {
            sender.ready().await?;
            print_response(&mut out, sender.send_request(request()?).await?).await?;
        }
    } else {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(stream).await?;
        drop(runtime::spawn(conn));
        for _ in 0..repeat {
            sender.ready().await?; // the previous response is done: reuse the connection
            print_response(&mut out, sender.send_request(request()?).await?).await?;
        }
    }
    Ok(())
}

/// Prints the status line, the headers, a blank line and the body.
async fn print_response(
    out: &mut impl io::Write,
    res: hyper::Response<hyper::body::Incoming>,
) -> Result<(), Error> {
    writeln!(out, "{:?} {}", res.version(), res.status())?;
    for (name, value) in res.headers() {
        writeln!(out, "{name}: {}", String::from_utf8_lossy(value.as_bytes()))?;
    }
    writeln!(out)?;
    let body = res.into_body().collect().await?.to_bytes();
    out.write_all(&body)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}
