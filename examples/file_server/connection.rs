//! One client connection: read, parse pipelined requests, reply, repeat;
//! disconnect clients that are too slow to send a request head, idle too
//! long, or stop reading a response; close after the current response once
//! the server is shutting down.

use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use runtime::buf::IoBuf;
use runtime::fs::File;
use runtime::net::TcpStream;

use crate::access_log::{self, Entry};
use crate::config::Config;
use crate::deadline;
use crate::handler::{self, Body, Reply};
use crate::open_cache::OpenCache;
use crate::request::{parse_request, Parsed, MAX_HEAD};
use crate::response::ResponseHeaders;
use crate::shutdown::Shutdown;

/// Bytes read per `recv`.
const READ_CHUNK: usize = 4096;

/// What a connection needs from its worker.
pub(crate) struct Context {
    /// The served root, opened once per worker.
    pub(crate) dir: Rc<File>,
    /// The command line.
    pub(crate) cfg: Rc<Config>,
    /// The shutdown flag and the open-connection count.
    pub(crate) shutdown: Arc<Shutdown>,
    /// This worker's open files.
    pub(crate) files: OpenCache,
}

/// Serves one connection until the client leaves, errs or times out.
pub(crate) async fn run(stream: TcpStream, ctx: Rc<Context>) {
    let _open = ctx.shutdown.open();
    let _ = stream.set_nodelay(true);
    let peer = stream.peer_addr().ok().map(|a| a.ip());
    let cfg = &*ctx.cfg;
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut head_started: Option<Instant> = None;
    loop {
        // Answer every complete request already buffered (pipelining).
        loop {
            match parse_request(&buf) {
                Parsed::Complete { request, consumed } => {
                    buf.drain(..consumed);
                    head_started = None;
                    let reply = handler::respond(&request, &ctx.dir, cfg, &ctx.files).await;
                    if cfg.access_log {
                        let line = format!(
                            "{} {} HTTP/1.{}",
                            request.method_name, request.target, request.version
                        );
                        log(peer, Some(&line), &reply);
                    }
                    let close = reply.close;
                    if !send(&stream, reply, cfg).await || close || ctx.shutdown.is_started() {
                        return;
                    }
                }
                Parsed::Partial => break,
                Parsed::Error(status) => {
                    let mut h = ResponseHeaders::new(SystemTime::now());
                    h.close = true;
                    let reply = Reply::error(status, &h, false);
                    if cfg.access_log {
                        log(peer, None, &reply);
                    }
                    send(&stream, reply, cfg).await;
                    return;
                }
            }
        }
        let wait = match head_started {
            None => cfg.idle_timeout,
            Some(t) => match cfg.header_timeout.checked_sub(t.elapsed()) {
                Some(left) => left,
                None => return, // too slow: drop the connection
            },
        };
        // Read into spare capacity; the parser answers 431 before the buffer
        // grows past MAX_HEAD, so it stays bounded.
        if buf.capacity() - buf.len() < READ_CHUNK {
            buf.reserve(READ_CHUNK.min(MAX_HEAD + READ_CHUNK - buf.len()).max(1));
        }
        let (len, cap) = (buf.len(), buf.capacity());
        let read = stream.read(buf.slice(len..cap)).timeout(wait);
        // Shutting down: a connection between requests closes now.
        let Some((res, slice)) = ctx.shutdown.unless_started(read).await else {
            return;
        };
        buf = slice.into_inner();
        match res {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                head_started.get_or_insert_with(Instant::now);
            }
        }
    }
}

/// One access-log line for `reply`.
fn log(peer: Option<IpAddr>, request_line: Option<&str>, reply: &Reply) {
    access_log::log(&Entry {
        peer,
        request_line,
        status: reply.status.code(),
        body_bytes: reply.body_len,
        time: SystemTime::now(),
    });
}

/// Sends a reply under the send deadline; `false` if the connection must close.
///
/// A peer that stops reading is cut off with a reset (`SO_LINGER` 0), so the
/// kernel drops the queued bytes at once instead of keeping them, and the
/// socket, for as long as the peer keeps its window closed.
async fn send(stream: &TcpStream, reply: Reply, cfg: &Config) -> bool {
    let cap = cfg.body_timeout.map(|d| Instant::now() + d);
    let fd = stream.as_raw_fd();
    match deadline::watched(fd, send_reply(stream, reply), cfg.idle_timeout, cap).await {
        Some(res) => res.is_ok(),
        None => {
            let _ = stream.set_linger(Some(Duration::ZERO));
            false
        }
    }
}

/// Writes a reply: the head (with any inline body), then a file body zero-copy.
async fn send_reply(stream: &TcpStream, reply: Reply) -> std::io::Result<()> {
    let (res, _) = stream.write_all(reply.head).await;
    res?;
    if let Body::File { file, offset, len } = reply.body {
        let sent = stream.send_file(&file, offset, len).await?;
        if sent < len {
            // The file shrank after its length was announced: the framing is broken.
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
    }
    Ok(())
}
