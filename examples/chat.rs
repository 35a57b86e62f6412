//! A line-based chat server: every line a client sends goes to every other
//! client, as `ID: line`.
//!
//! ```text
//! cargo run --example chat -- --addr 127.0.0.1:7001
//! nc 127.0.0.1 7001        # in two or more terminals
//! ```
//!
//! Each connection's task is written the ordinary way: `select!` between the
//! client's next line and the broadcast channel. Whenever the channel wins,
//! the line read in progress is dropped; that loses nothing, because a
//! dropped read leaves the bytes in the socket and `BufReader` keeps a
//! partial line, so the next `next_line()` returns it whole.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use runtime::io::BufReader;
use runtime::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

#[path = "support/cli.rs"]
mod cli;

/// Messages a slow client may fall behind by before it misses some.
const BACKLOG: usize = 64 * 1024;

/// One chat line, with the id of the client that sent it.
type Message = (u64, Arc<str>);

#[runtime::main]
async fn main() -> io::Result<()> {
    let addr = cli::parse(USAGE, parse_args);
    let listener = TcpListener::bind(addr)?;
    println!(
        "chat: listening on {} ({})",
        listener.local_addr()?,
        runtime::driver_kind()
    );
    let (tx, _) = broadcast::channel::<Message>(BACKLOG);
    let mut next_id = 0u64;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                next_id += 1;
                // Detached: the task ends when its client leaves.
                drop(runtime::spawn(client(next_id, stream, tx.clone())));
            }
            // Out of descriptors, say: report it and keep serving the others.
            Err(e) => {
                eprintln!("chat: accept: {e}");
                runtime::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

const USAGE: &str = "usage: chat [--addr HOST:PORT]";

/// The command line: where to listen.
fn parse_args() -> Result<SocketAddr, lexopt::Error> {
    use lexopt::prelude::*;
    let mut addr: SocketAddr = "127.0.0.1:7001".parse().expect("a valid address");
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("addr") => addr = parser.value()?.parse()?,
            Short('h') | Long("help") => cli::help(USAGE),
            _ => return Err(arg.unexpected()),
        }
    }
    Ok(addr)
}

/// Relays one client's lines to the others, and theirs to it, until it leaves.
async fn client(id: u64, stream: TcpStream, tx: broadcast::Sender<Message>) {
    let mut rx = tx.subscribe();
    let (reader, writer) = stream.into_split();
    // Sent once subscribed: from here on, this client sees every line.
    let welcome = format!("* welcome, you are {id}\n");
    if writer.write_all(welcome.into_bytes()).await.0.is_err() {
        return;
    }
    let mut lines = BufReader::new(reader);
    loop {
        tokio::select! {
            line = lines.next_line() => match line {
                Ok(Some(line)) => {
                    // No receiver (everyone else left) is not an error.
                    let _ = tx.send((id, format!("{id}: {line}\n").into()));
                }
                Ok(None) | Err(_) => return,
            },
            msg = rx.recv() => {
                let text = match msg {
                    Ok((from, _)) if from == id => continue,
                    Ok((_, text)) => text.to_string(),
                    Err(broadcast::error::RecvError::Lagged(n)) => format!("(missed {n} messages)\n"),
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if writer.write_all(text.into_bytes()).await.0.is_err() {
                    return;
                }
            }
        }
    }
}
