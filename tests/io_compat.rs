//! The poll-based bridges on both drivers: tokio's `AsyncRead`/`AsyncWrite`
//! (feature `tokio-io`), futures-io's (feature `futures-io`) and hyper's
//! `rt::Read`/`rt::Write` (feature `hyper`) on TCP and Unix streams and
//! their halves: codecs and line readers under `select!` with a busy channel
//! lose no line, a read dropped mid-wait loses nothing, write errors surface,
//! shutdown gives the peer end of stream, `copy_bidirectional` proxies, and
//! hyper runs on a bare `TcpStream`.
#![cfg(feature = "tokio-io")]

mod support;

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use futures_util::StreamExt;
use runtime::net::{TcpListener, TcpStream, UnixStream};
use support::{tcp_pair, within};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::codec::{FramedRead, LinesCodec};

/// Polls `fut` once.
async fn poll_once<F: Future + Unpin + ?Sized>(fut: &mut F) -> Poll<F::Output> {
    std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut *fut).poll(cx))).await
}

/// How many lines the line tests send: enough to span many reads.
const LINES: usize = 20_000;

/// Writes `LINES` numbered lines in uneven chunks, then shuts down.
async fn write_lines<W: tokio::io::AsyncWrite + Unpin>(mut w: W) -> io::Result<()> {
    let mut chunk = String::new();
    for i in 0..LINES {
        chunk.push_str(&format!("line {i}\n"));
        if chunk.len() > 1000 + i % 700 {
            w.write_all(chunk.as_bytes()).await?;
            chunk.clear();
        }
    }
    w.write_all(chunk.as_bytes()).await?;
    w.shutdown().await
}

/// How many messages [`busy_channel`] sends: about as many as there are
/// lines, so most reads race a ready message.
const TICKS: u64 = LINES as u64;

/// A channel that has a message ready `count` times in a row, to make
/// `select!` cancel the other branch as often as it can; the feeder stops
/// after `count` messages or once `rx` is dropped.
///
/// A feeder that never stops keeps the worker from ever idling, which on
/// io_uring starves readiness today: see
/// `a_never_idle_worker_still_sees_readiness` below.
fn busy_channel(count: u64) -> mpsc::Receiver<u64> {
    let (tx, rx) = mpsc::channel(1);
    drop(runtime::spawn(async move {
        for i in 0..count {
            if tx.send(i).await.is_err() {
                break;
            }
        }
    }));
    rx
}

#[runtime::test]
async fn lines_codec_under_select_loses_no_line() {
    let (client, server) = tcp_pair().await;
    let writer = runtime::spawn(write_lines(client));
    let mut frames = FramedRead::new(server, LinesCodec::new());
    let mut ticks = busy_channel(TICKS);
    let (mut next, mut interrupted) = (0, 0u64);
    within("all lines", async {
        loop {
            tokio::select! {
                line = frames.next() => match line {
                    Some(line) => {
                        assert_eq!(line.unwrap(), format!("line {next}"));
                        next += 1;
                    }
                    None => break,
                },
                Some(_) = ticks.recv() => interrupted += 1,
            }
        }
    })
    .await;
    assert_eq!(next, LINES, "every line, in order");
    assert!(interrupted > 0, "the channel branch won some rounds");
    writer.await.unwrap().unwrap();
}

#[runtime::test]
async fn buf_reader_lines_under_select_on_unix_halves() {
    let (a, b) = UnixStream::pair().unwrap();
    let (_a_rd, a_wr) = a.into_split();
    let (b_rd, _b_wr) = b.into_split();
    let writer = runtime::spawn(write_lines(a_wr));
    let mut lines = tokio::io::BufReader::new(b_rd).lines();
    let mut ticks = busy_channel(TICKS);
    let mut next = 0;
    within("all lines", async {
        loop {
            tokio::select! {
                line = lines.next_line() => match line.unwrap() {
                    Some(line) => {
                        assert_eq!(line, format!("line {next}"));
                        next += 1;
                    }
                    None => break,
                },
                Some(_) = ticks.recv() => {}
            }
        }
    })
    .await;
    assert_eq!(next, LINES);
    writer.await.unwrap().unwrap();
}

#[runtime::test]
async fn a_read_dropped_while_waiting_loses_nothing() {
    let (mut client, mut server) = tcp_pair().await;
    let mut buf = [0u8; 64];
    {
        let mut read = Box::pin(AsyncReadExt::read(&mut server, &mut buf));
        assert!(poll_once(&mut read).await.is_pending(), "nothing sent yet");
    } // dropped while its waker is parked
    AsyncWriteExt::write_all(&mut client, b"kept")
        .await
        .unwrap();
    let n = within("read", AsyncReadExt::read(&mut server, &mut buf))
        .await
        .unwrap();
    assert_eq!(&buf[..n], b"kept");
}

#[runtime::test]
async fn a_write_to_a_gone_peer_is_an_error() {
    // TCP: the peer resets (linger 0); a write or flush reports it.
    let (mut client, server) = tcp_pair().await;
    server.set_linger(Some(Duration::ZERO)).unwrap();
    drop(server);
    let err = within("the write error", async {
        loop {
            if let Err(e) = AsyncWriteExt::write_all(&mut client, &[7u8; 4096]).await {
                break e;
            }
            if let Err(e) = AsyncWriteExt::flush(&mut client).await {
                break e;
            }
        }
    })
    .await;
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
        ),
        "{err:?}"
    );

    // Unix: the peer is gone, so the first send fails: on epoll the write
    // itself, on io_uring (which copies the bytes into a kernel send) the
    // next write, flush or shutdown reports it.
    let (mut a, b) = UnixStream::pair().unwrap();
    drop(b);
    let mut writes = 0;
    let err = loop {
        writes += 1;
        assert!(writes <= 3, "no error after {writes} writes");
        if let Err(e) = AsyncWriteExt::write_all(&mut a, b"x").await {
            break e;
        }
        if let Err(e) = AsyncWriteExt::shutdown(&mut a).await {
            break e;
        }
    };
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "{err:?}");
}

#[runtime::test]
async fn shutdown_gives_the_peer_end_of_stream() {
    let (client, mut server) = tcp_pair().await;
    let (mut rd, mut wr) = client.into_split();
    AsyncWriteExt::write_all(&mut wr, b"last words")
        .await
        .unwrap();
    AsyncWriteExt::shutdown(&mut wr).await.unwrap();
    let mut got = Vec::new();
    within("eof", server.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"last words");
    // Only the write side is shut: the other direction still works.
    AsyncWriteExt::write_all(&mut server, b"reply")
        .await
        .unwrap();
    AsyncWriteExt::shutdown(&mut server).await.unwrap();
    let mut got = Vec::new();
    within("reply", rd.read_to_end(&mut got)).await.unwrap();
    assert_eq!(got, b"reply");
}

#[runtime::test]
async fn copy_bidirectional_proxies_both_ways() {
    // An echo server, and a proxy in front of it.
    let echo = TcpListener::bind("127.0.0.1:0").unwrap();
    let echo_addr = echo.local_addr().unwrap();
    let _echo = runtime::spawn(async move {
        let (s, _) = echo.accept().await.unwrap();
        let (mut rd, mut wr) = s.into_split();
        tokio::io::copy(&mut rd, &mut wr).await.unwrap();
        AsyncWriteExt::shutdown(&mut wr).await.unwrap();
    });
    let front = TcpListener::bind("127.0.0.1:0").unwrap();
    let front_addr = front.local_addr().unwrap();
    let proxy = runtime::spawn(async move {
        let (mut inbound, _) = front.accept().await.unwrap();
        let mut outbound = TcpStream::connect(echo_addr).await.unwrap();
        tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await
    });

    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let client = TcpStream::connect(front_addr).await.unwrap();
    let (mut rd, mut wr) = client.into_split();
    let sent = data.clone();
    let sender = runtime::spawn(async move {
        AsyncWriteExt::write_all(&mut wr, &sent).await?;
        AsyncWriteExt::shutdown(&mut wr).await
    });
    let mut back = Vec::new();
    within("echo", rd.read_to_end(&mut back)).await.unwrap();
    sender.await.unwrap().unwrap();
    assert!(back == data, "the echo matches ({} bytes back)", back.len());
    let (up, down) = within("proxy", proxy).await.unwrap().unwrap();
    assert_eq!((up, down), (data.len() as u64, data.len() as u64));
}

#[runtime::test]
async fn references_are_readers_and_writers_too() {
    let (a, b) = UnixStream::pair().unwrap();
    AsyncWriteExt::write_all(&mut &a, b"via &UnixStream")
        .await
        .unwrap();
    AsyncWriteExt::shutdown(&mut &a).await.unwrap();
    let mut got = String::new();
    AsyncReadExt::read_to_string(&mut &b, &mut got)
        .await
        .unwrap();
    assert_eq!(got, "via &UnixStream");
}

#[cfg(feature = "futures-io")]
#[runtime::test]
async fn futures_io_roundtrip_and_close() {
    let (mut client, server) = tcp_pair().await;
    let (mut rd, mut wr) = server.into_split();
    let echo = runtime::spawn(async move { futures_util::io::copy(&mut rd, &mut wr).await });
    futures_util::io::AsyncWriteExt::write_all(&mut client, b"ping over futures-io")
        .await
        .unwrap();
    futures_util::io::AsyncWriteExt::close(&mut client)
        .await
        .unwrap();
    let mut back = Vec::new();
    within(
        "echo",
        futures_util::io::AsyncReadExt::read_to_end(&mut client, &mut back),
    )
    .await
    .unwrap();
    assert_eq!(back, b"ping over futures-io");
    assert_eq!(echo.await.unwrap().unwrap(), 20);
}

#[cfg(feature = "hyper")]
#[runtime::test]
async fn hyper_runs_on_a_bare_tcp_stream() {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    use runtime::io::compat::HyperExecutor;

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let _server = runtime::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let service =
            hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                let body = req.into_body().collect().await?.to_bytes();
                Ok::<_, hyper::Error>(hyper::Response::new(Full::new(body)))
            });
        // The stream as it is: it implements hyper::rt::Read + Write.
        hyper::server::conn::http2::Builder::new(HyperExecutor)
            .serve_connection(stream, service)
            .await
            .unwrap();
    });

    let stream = TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) = hyper::client::conn::http2::handshake(HyperExecutor, stream)
        .await
        .unwrap();
    drop(runtime::spawn(conn));
    for i in 0..3 {
        let req = hyper::Request::post("/")
            .body(Full::new(Bytes::from(format!("body {i}"))))
            .unwrap();
        let res = within("response", sender.send_request(req)).await.unwrap();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, format!("body {i}").as_bytes());
    }
}

/// A worker that tasks keep busy (here a feeder that never stops) still
/// sees readiness, on both drivers: io_uring's park counts readiness polls
/// as work in flight, so a turn that must not wait still enters the ring (it
/// once skipped it when no *op* was in flight, and a poll-based read waited
/// forever).
#[runtime::test]
async fn a_never_idle_worker_still_sees_readiness() {
    let (a, b) = UnixStream::pair().unwrap();
    let writer = runtime::spawn(write_lines(a));
    let mut lines = tokio::io::BufReader::new(b).lines();
    let mut ticks = busy_channel(u64::MAX);
    let mut next = 0;
    within("all lines", async {
        loop {
            tokio::select! {
                line = lines.next_line() => match line.unwrap() {
                    Some(_) => next += 1,
                    None => break,
                },
                Some(_) = ticks.recv() => {}
            }
        }
    })
    .await;
    assert_eq!(next, LINES);
    writer.await.unwrap().unwrap();
}
