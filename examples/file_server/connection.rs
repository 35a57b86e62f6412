//! One client connection: read, parse pipelined requests, reply, repeat;
//! disconnect clients that are too slow to send a request head.

use std::rc::Rc;
use std::time::{Duration, Instant};

use runtime::buf::IoBuf;
use runtime::fs::File;
use runtime::net::TcpStream;

use crate::handler::{self, Body, Reply};
use crate::request::{parse_request, Parsed, MAX_HEAD};
use crate::response::{self, ResponseHeaders};

/// By default a request head must arrive whole within this time of its first byte (slowloris).
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// An idle keep-alive connection is closed after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Bytes read per `recv`.
const READ_CHUNK: usize = 4096;

/// Serves one connection until the client leaves, errs or times out.
pub(crate) async fn run(stream: TcpStream, dir: Rc<File>, head_timeout: Duration) {
    let _ = stream.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut head_started: Option<Instant> = None;
    loop {
        // Answer every complete request already buffered (pipelining).
        loop {
            match parse_request(&buf) {
                Parsed::Complete { request, consumed } => {
                    buf.drain(..consumed);
                    head_started = None;
                    let reply = handler::respond(&request, &dir).await;
                    let close = reply.close;
                    if send(&stream, reply).await.is_err() || close {
                        return;
                    }
                }
                Parsed::Partial => break,
                Parsed::Error(status) => {
                    let mut h = ResponseHeaders::new(std::time::SystemTime::now());
                    h.close = true;
                    let _ = stream
                        .write_all(response::error_page(status, &h, false))
                        .await;
                    return;
                }
            }
        }
        let wait = match head_started {
            None => IDLE_TIMEOUT,
            Some(t) => match head_timeout.checked_sub(t.elapsed()) {
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
        let (res, slice) = stream.read(buf.slice(len..cap)).timeout(wait).await;
        buf = slice.into_inner();
        match res {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                head_started.get_or_insert_with(Instant::now);
            }
        }
    }
}

/// Sends a reply: the head (with any inline body), then a file body zero-copy.
async fn send(stream: &TcpStream, reply: Reply) -> std::io::Result<()> {
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
