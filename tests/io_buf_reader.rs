//! `runtime::io::BufReader` on both drivers: lines over TCP, CRLF, a line
//! longer than the buffer, end of stream without a newline, invalid UTF-8,
//! `fill_buf`/`consume`, its own `ReadOwned`, over a borrowed stream
//! (`BufReader::new(&stream)`, `&mut`, a borrowed half) while the same
//! stream writes, the `Stream` of lines, and cancel safety: futures
//! dropped mid-line (deterministically over a scripted stream, and with
//! timeouts against a paced writer over TCP) lose no byte.

mod support;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Duration;

use futures_core::Stream;
use runtime::buf::{BufResult, IoBufMut};
use runtime::io::{read_to_end, BufReader, ReadOwned, WriteOwned};
use runtime::net::TcpStream;
use support::{tcp_pair, within};

/// The next item of a stream.
async fn next<S: Stream + Unpin>(s: &mut S) -> Option<S::Item> {
    std::future::poll_fn(|cx| Pin::new(&mut *s).poll_next(cx)).await
}

/// Polls `fut` once, then drops it.
async fn poll_once<F: Future>(fut: F) -> Poll<F::Output> {
    let mut fut = pin!(fut);
    std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await
}

/// Writes `chunks` one write each, then shuts the writing side down.
async fn send_chunks(mut w: TcpStream, chunks: Vec<Vec<u8>>) -> io::Result<()> {
    for c in chunks {
        let (res, _) = w.write_all(c).await;
        res?;
    }
    WriteOwned::shutdown(&mut w).await
}

/// A TCP pair whose client end is a `BufReader` of `capacity`, fed `chunks`.
async fn reader_fed(capacity: usize, chunks: &[&[u8]]) -> BufReader<TcpStream> {
    let (client, server) = tcp_pair().await;
    let chunks = chunks.iter().map(|c| c.to_vec()).collect();
    drop(runtime::spawn(send_chunks(server, chunks)));
    BufReader::with_capacity(capacity, client)
}

#[runtime::test]
async fn lines_over_tcp() -> io::Result<()> {
    let reader = reader_fed(8192, &[b"alpha\nbe", b"ta\n", b"\ngamma\n"]).await;
    let mut lines = reader.lines();
    let mut got = Vec::new();
    while let Some(line) = within("lines", next(&mut lines)).await {
        got.push(line?);
    }
    assert_eq!(got, ["alpha", "beta", "", "gamma"]);
    Ok(())
}

#[runtime::test]
async fn crlf_is_kept_by_read_line_and_stripped_by_lines() -> io::Result<()> {
    let mut reader = reader_fed(8192, &[b"one\r\ntwo\r", b"\nthree\n"]).await;
    let mut line = String::new();
    assert_eq!(within("read_line", reader.read_line(&mut line)).await?, 5);
    assert_eq!(line, "one\r\n");
    let mut lines = reader.lines();
    assert_eq!(lines.next_line().await?.as_deref(), Some("two"));
    assert_eq!(
        next(&mut lines).await.transpose()?.as_deref(),
        Some("three")
    );
    assert!(lines.next_line().await?.is_none());
    Ok(())
}

#[runtime::test]
async fn a_line_longer_than_the_buffer() -> io::Result<()> {
    let long: Vec<u8> = (0..10_000).map(|i| b'a' + (i % 26) as u8).collect();
    let mut first = long.clone();
    first.push(b'\n');
    let mut reader = reader_fed(16, &[&first[..5000], &first[5000..], b"short\n"]).await;
    let mut line = String::new();
    assert_eq!(
        within("long line", reader.read_line(&mut line)).await?,
        10_001
    );
    assert_eq!(line.as_bytes(), &first[..]);
    line.clear();
    reader.read_line(&mut line).await?;
    assert_eq!(line, "short\n");
    assert_eq!(reader.read_line(&mut line).await?, 0);
    Ok(())
}

#[runtime::test]
async fn end_of_stream_without_a_newline() -> io::Result<()> {
    let mut reader = reader_fed(4, &[b"first\nla", b"st"]).await;
    let mut out = Vec::new();
    assert_eq!(
        within("read_until", reader.read_until(b'\n', &mut out)).await?,
        6
    );
    assert_eq!(reader.read_until(b'\n', &mut out).await?, 4);
    assert_eq!(out, b"first\nlast");
    assert_eq!(reader.read_until(b'\n', &mut out).await?, 0);
    let mut line = String::new();
    assert_eq!(reader.read_line(&mut line).await?, 0);
    assert!(line.is_empty());
    Ok(())
}

#[runtime::test]
async fn invalid_utf8_is_invalid_data_and_the_next_line_follows() -> io::Result<()> {
    let mut reader = reader_fed(8192, &[b"ok\n\xff\xfe\n", b"after\n", b"\xc3\n"]).await;
    let mut line = String::from("kept:");
    reader.read_line(&mut line).await?;
    assert_eq!(line, "kept:ok\n");
    let err = within("bad line", reader.read_line(&mut line))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert_eq!(
        line, "kept:ok\n",
        "a failed read_line leaves the string as it was"
    );
    let mut lines = reader.lines();
    assert_eq!(
        next(&mut lines).await.transpose()?.as_deref(),
        Some("after")
    );
    let err = next(&mut lines).await.unwrap().unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(next(&mut lines).await.is_none());
    Ok(())
}

#[runtime::test]
async fn fill_buf_consume_and_read_share_one_buffer() -> io::Result<()> {
    let full = b"head:0123456789abcdef\nrest";
    let mut reader = reader_fed(8, &[&full[..5], &full[5..]]).await;
    let chunk = within("fill_buf", reader.fill_buf()).await?;
    assert!(!chunk.is_empty() && chunk.len() <= 8 && full.starts_with(chunk));
    reader.consume(2);
    let mut out = Vec::new();
    reader.read_until(b':', &mut out).await?;
    assert_eq!(out, b"ad:");
    // ReadOwned: a small read takes buffered bytes first, then the rest.
    let (res, small) = reader.read(Vec::with_capacity(3)).await;
    let n = res?;
    assert!(n > 0 && small == full[5..5 + n]);
    let (res, rest) = read_to_end(&mut reader, Vec::new()).await;
    res?;
    assert_eq!(rest, full[5 + n..]);
    assert!(reader.fill_buf().await?.is_empty());
    Ok(())
}

#[runtime::test]
async fn the_reader_passes_writes_through() -> io::Result<()> {
    let (client, server) = tcp_pair().await;
    let mut reader = BufReader::new(client);
    let (res, _) = reader.write_all(b"ping\n".to_vec()).await;
    res?;
    let mut server = BufReader::new(server);
    let mut line = String::new();
    within("ping", server.read_line(&mut line)).await?;
    assert_eq!(line, "ping\n");
    let _ = reader.into_inner();
    Ok(())
}

/// An echo of lines as a tokio user writes one: the lines of
/// `BufReader::new(&stream)`, each answered on the same stream meanwhile.
async fn echo_lines_of_a_borrowed_stream(stream: TcpStream) -> io::Result<usize> {
    let mut lines = BufReader::new(&stream).lines();
    let mut count = 0;
    while let Some(line) = lines.next_line().await? {
        let (res, _) = stream.write_all(format!("{line}!\n").into_bytes()).await;
        res?;
        count += 1;
    }
    Ok(count)
}

#[runtime::test]
async fn a_reader_over_a_borrowed_stream_reads_while_the_stream_writes() -> io::Result<()> {
    let (client, server) = tcp_pair().await;
    let echo = runtime::spawn(echo_lines_of_a_borrowed_stream(server));
    let mut replies = BufReader::new(&client);
    let mut line = String::new();
    for word in ["one", "two", "three"] {
        let (res, _) = client.write_all(format!("{word}\n").into_bytes()).await;
        res?;
        line.clear();
        within("reply", replies.read_line(&mut line)).await?;
        assert_eq!(line, format!("{word}!\n"));
    }
    // Writes through the reader go to the borrowed stream, and `&mut` works too.
    let (res, _) = replies.write_all(b"four\n".to_vec()).await;
    res?;
    let mut client = client;
    let mut by_mut = BufReader::new(&mut client);
    assert_eq!(
        within("reply", by_mut.next_line()).await?.as_deref(),
        Some("four!")
    );
    WriteOwned::shutdown(&mut by_mut).await?;
    assert_eq!(within("echo", echo).await.map_err(io::Error::other)??, 4);
    Ok(())
}

#[runtime::test]
async fn a_reader_over_a_borrowed_half_and_its_stream_of_lines() -> io::Result<()> {
    let (client, server) = tcp_pair().await;
    let (rd, _wr) = server.into_split();
    let (res, _) = client.write_all(b"a\n".to_vec()).await;
    res?;
    let mut reader = BufReader::new(&rd);
    assert_eq!(within("a", reader.next_line()).await?.as_deref(), Some("a"));
    assert!(reader.buffer().is_empty());
    // `&rd` is borrowed, so its lines come by `next_line`; an owned half's
    // lines are a `Stream` as well.
    let mut lines = BufReader::new(rd).lines();
    let (res, _) = client.write_all(b"b\r\nc".to_vec()).await;
    res?;
    drop(client);
    let mut got = Vec::new();
    while let Some(line) = within("lines", next(&mut lines)).await {
        got.push(line?);
    }
    assert_eq!(got, ["b", "c"]);
    Ok(())
}

/// A stream that delivers the chunks the test pushes, one per read, and is
/// pending in between: a cancel-safe inner read under the test's control.
#[derive(Clone, Default)]
struct Scripted {
    /// Chunks not yet read, and whether the end of stream was pushed.
    queue: Rc<RefCell<(VecDeque<Vec<u8>>, bool)>>,
    /// The waker of the read waiting for a chunk.
    waker: Rc<RefCell<Option<Waker>>>,
}

impl Scripted {
    fn push(&self, chunk: &[u8]) {
        self.queue.borrow_mut().0.push_back(chunk.to_vec());
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }

    fn close(&self) {
        self.queue.borrow_mut().1 = true;
        if let Some(w) = self.waker.borrow_mut().take() {
            w.wake();
        }
    }
}

impl Scripted {
    /// Copies the next chunk (or what fits of it) into `buf`; 0 once closed.
    fn poll_fill<B: IoBufMut>(&self, cx: &mut std::task::Context<'_>, buf: &mut B) -> Poll<usize> {
        let mut q = self.queue.borrow_mut();
        let Some(mut chunk) = q.0.pop_front() else {
            if q.1 {
                return Poll::Ready(0);
            }
            *self.waker.borrow_mut() = Some(cx.waker().clone());
            return Poll::Pending;
        };
        let n = chunk.len().min(buf.bytes_total());
        if n < chunk.len() {
            q.0.push_front(chunk.split_off(n));
        }
        // SAFETY: `n <= bytes_total()`, and `chunk` is a separate allocation.
        unsafe { std::ptr::copy_nonoverlapping(chunk.as_ptr(), buf.stable_mut_ptr(), n) };
        // SAFETY: the first `n` bytes were just written.
        unsafe { buf.set_init(n) };
        Poll::Ready(n)
    }
}

/// Cancel safe: a chunk leaves the queue only in the poll that returns it.
impl ReadOwned for Scripted {
    fn read<B: IoBufMut>(&mut self, buf: B) -> impl Future<Output = BufResult<usize, B>> {
        let this = self.clone();
        async move {
            let mut buf = buf;
            let n = std::future::poll_fn(|cx| this.poll_fill(cx, &mut buf)).await;
            (Ok(n), buf)
        }
    }
}

#[runtime::test]
async fn dropped_read_line_and_read_until_keep_the_partial_line() -> io::Result<()> {
    let script = Scripted::default();
    let mut reader = BufReader::with_capacity(4, script.clone());
    let mut line = String::new();
    script.push(b"hel");
    assert!(poll_once(reader.read_line(&mut line)).await.is_pending());
    assert!(line.is_empty(), "no partial line handed out");
    script.push(b"lo wo");
    assert!(poll_once(reader.read_line(&mut line)).await.is_pending());
    assert_eq!(reader.buffer(), b"hello wo");
    script.push(b"rld\nnext");
    assert_eq!(reader.read_line(&mut line).await?, 12);
    assert_eq!(line, "hello world\n");

    let mut out = Vec::new();
    assert!(poll_once(reader.read_until(b';', &mut out))
        .await
        .is_pending());
    script.push(b" part;");
    assert_eq!(reader.read_until(b';', &mut out).await?, 10);
    assert_eq!(out, b"next part;");
    script.close();
    assert_eq!(reader.read_until(b';', &mut out).await?, 0);
    Ok(())
}

#[runtime::test]
async fn a_dropped_stream_next_keeps_its_line_in_flight() -> io::Result<()> {
    let script = Scripted::default();
    let mut lines = BufReader::with_capacity(2, script.clone()).lines();
    script.push(b"ab");
    assert!(poll_once(next(&mut lines)).await.is_pending());
    assert!(
        lines.get_ref().is_none(),
        "the read is in flight inside Lines"
    );
    script.push(b"c\r\nd");
    // Finished by next_line as well as by next().
    assert_eq!(lines.next_line().await?.as_deref(), Some("abc"));
    assert!(poll_once(next(&mut lines)).await.is_pending());
    script.push(b"e\n");
    script.close();
    assert_eq!(next(&mut lines).await.transpose()?.as_deref(), Some("de"));
    assert!(next(&mut lines).await.is_none());
    assert!(lines.into_inner().is_some());
    Ok(())
}

/// Lines the paced writer sends.
const PACED_LINES: usize = 40;

/// Writes [`PACED_LINES`] lines, each in two writes with pauses, so that
/// the reader's timeouts fire before lines, between lines and mid-line.
async fn paced_writer(mut w: TcpStream) -> io::Result<()> {
    for i in 0..PACED_LINES {
        let (res, _) = w.write_all(format!("line {i} ").into_bytes()).await;
        res?;
        runtime::time::sleep(Duration::from_millis(3)).await;
        let (res, _) = w
            .write_all(format!("{}\n", "x".repeat(i)).into_bytes())
            .await;
        res?;
        if i % 4 == 0 {
            runtime::time::sleep(Duration::from_millis(2)).await;
        }
    }
    WriteOwned::shutdown(&mut w).await
}

fn paced_line(i: usize) -> String {
    format!("line {i} {}", "x".repeat(i))
}

// The reads under these timeouts are dropped at every point; the stream's
// read is cancel safe on both drivers, and so is the BufReader over it.

#[runtime::test]
async fn timeouts_around_next_line_lose_no_line() -> io::Result<()> {
    next_line_under_timeouts().await
}

#[runtime::test]
async fn timeouts_around_the_stream_and_read_line_lose_no_line() -> io::Result<()> {
    stream_and_read_line_under_timeouts().await
}

/// `next_line` under 1 ms timeouts against [`paced_writer`]: every line, in order.
async fn next_line_under_timeouts() -> io::Result<()> {
    let (client, server) = tcp_pair().await;
    let writer = runtime::spawn(paced_writer(server));
    let mut lines = BufReader::with_capacity(8, client).lines();
    let mut got = Vec::new();
    let mut attempts = 0;
    loop {
        attempts += 1;
        assert!(attempts < 1_000_000, "no progress");
        match runtime::time::timeout(Duration::from_millis(1), lines.next_line()).await {
            Ok(Ok(Some(line))) => got.push(line),
            Ok(Ok(None)) => break,
            Ok(Err(e)) => return Err(e),
            Err(_elapsed) => {}
        }
    }
    writer.await.map_err(io::Error::other)??;
    assert_eq!(got, (0..PACED_LINES).map(paced_line).collect::<Vec<_>>());
    Ok(())
}

/// `read_line`, then the `Stream`, under 1 ms timeouts against [`paced_writer`].
async fn stream_and_read_line_under_timeouts() -> io::Result<()> {
    let (client, server) = tcp_pair().await;
    let writer = runtime::spawn(paced_writer(server));
    let mut reader = BufReader::with_capacity(8, client);
    let mut got = Vec::new();
    // The first half through read_line, the rest through the Stream.
    let mut line = String::new();
    while got.len() < PACED_LINES / 2 {
        match runtime::time::timeout(Duration::from_millis(1), reader.read_line(&mut line)).await {
            Ok(n) => {
                assert_ne!(n?, 0, "early end of stream");
                got.push(line.strip_suffix('\n').unwrap_or(&line).to_string());
                line.clear();
            }
            Err(_elapsed) => assert!(line.is_empty(), "a partial line escaped"),
        }
    }
    let mut lines = reader.lines();
    loop {
        match runtime::time::timeout(Duration::from_millis(1), next(&mut lines)).await {
            Ok(Some(line)) => got.push(line?),
            Ok(None) => break,
            Err(_elapsed) => {}
        }
    }
    writer.await.map_err(io::Error::other)??;
    assert_eq!(got, (0..PACED_LINES).map(paced_line).collect::<Vec<_>>());
    Ok(())
}
