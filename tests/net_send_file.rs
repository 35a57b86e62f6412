//! `TcpStream::send_file` on both drivers: byte-exact transfers (small, 64 MiB,
//! a range in the middle, past the end of the file, zero bytes), several at
//! once, a peer that goes away mid-transfer (an error, not a panic, and no
//! `SIGPIPE` even at its default disposition, checked in a child process), a
//! transfer dropped mid-way, and bad input; `UnixStream::send_file` too.
//!
//! io_uring sends a range in the page cache with `sendfile` from the worker
//! and one that is not through a pipe, so both kinds of file appear: one
//! just read (resident), one evicted with `POSIX_FADV_DONTNEED` (cold, and
//! also opened `O_NONBLOCK`, as a file server opens files to be FIFO-safe),
//! each to a fast reader, a slow one (the socket fills: `EAGAIN`, then a wait
//! for room) and one that leaves mid-transfer.

mod support;

use std::io;

use runtime::fs::File;
use runtime::net::{TcpStream, UnixStream};
use support::{child_runtime, run_driver_child, tcp_pair, TempPath};

/// The byte at offset `i` of every test file: a hash of `i`, so a byte sent
/// from the wrong offset shows.
fn byte_at(i: u64) -> u8 {
    (i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

/// Bytes `range` of the test pattern.
fn pattern(range: std::ops::Range<u64>) -> Vec<u8> {
    range.map(byte_at).collect()
}

/// A temp file holding the first `len` bytes of the pattern, opened read-only.
async fn pattern_file(prefix: &str, len: u64) -> io::Result<(TempPath, File)> {
    let path = TempPath::new(prefix);
    runtime::fs::write(&path, pattern(0..len)).await?;
    let file = File::open(&path).await?;
    Ok((path, file))
}

/// Reads `stream` to its end and returns what arrived.
async fn read_all(stream: &TcpStream) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = Vec::with_capacity(256 * 1024);
    loop {
        let (n, b) = stream.read(buf).await;
        if n? == 0 {
            return Ok(out);
        }
        out.extend_from_slice(&b);
        buf = b;
        buf.clear();
    }
}

/// Reads `stream` to its end, checking each byte against the pattern from
/// `start` as it arrives (no copy of a large file is kept); returns the count.
async fn read_and_check(stream: &TcpStream, start: u64) -> io::Result<u64> {
    read_checked(stream, start, 1 << 20, None).await
}

/// Reads `stream` to its end in `chunk`-byte reads, checking bytes against
/// the pattern from `start`, with a short pause after each `pause_every`
/// reads if given; returns the count.
async fn read_checked(
    stream: &TcpStream,
    start: u64,
    chunk: usize,
    pause_every: Option<u32>,
) -> io::Result<u64> {
    let mut at = start;
    let mut buf = Vec::with_capacity(chunk);
    let mut steps = 0u32;
    loop {
        let (n, b) = stream.read(buf).await;
        if n? == 0 {
            return Ok(at - start);
        }
        for (i, &byte) in b.iter().enumerate() {
            let pos = at + i as u64;
            assert_eq!(byte, byte_at(pos), "wrong byte at file offset {pos}");
        }
        at += b.len() as u64;
        buf = b;
        buf.clear();
        steps += 1;
        if pause_every.is_some_and(|every| steps % every == 0) {
            runtime::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }
}

/// Sends `file[offset..offset + len]` from `server` in a task of its own,
/// closing `server` when done; the task returns what `send_file` said.
fn spawn_send(
    server: TcpStream,
    file: &File,
    offset: u64,
    len: u64,
) -> runtime::JoinHandle<io::Result<u64>> {
    let send = server.send_file(file, offset, len);
    runtime::spawn(async move {
        let sent = send.await;
        drop(server);
        sent
    })
}

/// Sends `file[offset..offset + len]` over a fresh pair while the other end
/// checks every byte; returns what `send_file` said and the count received.
async fn send_and_check(file: &File, offset: u64, len: u64) -> io::Result<(u64, u64)> {
    let (client, server) = tcp_pair().await;
    let sender = spawn_send(server, file, offset, len);
    let received = read_and_check(&client, offset).await?;
    let sent = sender.await.expect("sender task")?;
    Ok((sent, received))
}

/// Sends `file[offset..offset + len]` from one end of a fresh pair, closes it,
/// and returns what `send_file` said and what the other end received.
async fn transfer(file: &File, offset: u64, len: u64) -> io::Result<(u64, Vec<u8>)> {
    let (client, server) = tcp_pair().await;
    let sender = spawn_send(server, file, offset, len);
    let received = read_all(&client).await?;
    let sent = sender.await.expect("sender task")?;
    Ok((sent, received))
}

/// Drops the file's pages from the page cache (after writing them back), so
/// that the next read goes to the disk, and waits out the 10 ms for which
/// io_uring's `send_file` may reuse an earlier "resident" answer. Best
/// effort: on tmpfs it does nothing.
async fn evict(path: &std::path::Path) -> io::Result<()> {
    evict_now(path)?;
    runtime::time::sleep(std::time::Duration::from_millis(20)).await;
    Ok(())
}

/// The eviction itself.
fn evict_now(path: &std::path::Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let f = std::fs::File::open(path)?;
    f.sync_all()?;
    // SAFETY: fadvise on a descriptor `f` keeps open takes no pointers.
    let res = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if res != 0 {
        return Err(io::Error::from_raw_os_error(res));
    }
    Ok(())
}

/// A pattern file of `len` bytes made cold (see [`evict`]) and opened
/// read-only with `O_NONBLOCK`.
async fn cold_pattern_file(prefix: &str, len: u64) -> io::Result<(TempPath, File)> {
    let path = TempPath::new(prefix);
    runtime::fs::write(&path, pattern(0..len)).await?;
    evict(&path).await?;
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .await?;
    Ok((path, file))
}

/// Reads `stream` to its end in 16 KiB steps with a pause after each
/// `pause_every` steps, checking bytes against the pattern from `start`.
async fn read_slowly(stream: &TcpStream, start: u64, pause_every: u32) -> io::Result<u64> {
    read_checked(stream, start, 16 * 1024, Some(pause_every)).await
}

/// Sends `file[offset..offset + len]` to a reader that pauses now and then,
/// so the socket fills and the sender waits for room; returns what
/// `send_file` said and what arrived.
async fn transfer_to_slow_reader(file: &File, offset: u64, len: u64) -> io::Result<(u64, u64)> {
    let (client, server) = tcp_pair().await;
    // A small send buffer fills after a few reads' worth: many waits for room.
    let size: libc::c_int = 64 * 1024;
    // SAFETY: `size` is a live c_int for the call; the fd is open.
    let res = unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&server),
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(res, 0, "SO_SNDBUF: {}", io::Error::last_os_error());
    let sender = spawn_send(server, file, offset, len);
    let received = read_slowly(&client, offset, 8).await?;
    let sent = sender.await.expect("sender task")?;
    Ok((sent, received))
}

#[runtime::test]
async fn resident_file_fast_and_slow_reader() -> io::Result<()> {
    const LEN: u64 = 6 << 20;
    let (path, file) = pattern_file("send-file-resident", LEN).await?;
    // Read it once: every page is in the page cache now.
    assert_eq!(std::fs::read(&path)?.len() as u64, LEN);
    assert_eq!(transfer(&file, 0, 1 << 20).await?.0, 1 << 20);
    assert_eq!(send_and_check(&file, 5, LEN).await?, (LEN - 5, LEN - 5));
    assert_eq!(
        transfer_to_slow_reader(&file, 100, LEN).await?,
        (LEN - 100, LEN - 100)
    );
    Ok(())
}

#[runtime::test]
async fn cold_file_fast_and_slow_reader() -> io::Result<()> {
    const LEN: u64 = 6 << 20;
    let (path, file) = cold_pattern_file("send-file-cold", LEN).await?;
    assert_eq!(
        send_and_check(&file, 4096, LEN).await?,
        (LEN - 4096, LEN - 4096)
    );
    evict(&path).await?;
    assert_eq!(
        transfer_to_slow_reader(&file, 7, LEN).await?,
        (LEN - 7, LEN - 7)
    );
    // Cold, and only part of the file, and past its end.
    evict(&path).await?;
    let (sent, received) = transfer(&file, LEN - 1000, 5000).await?;
    assert_eq!(sent, 1000);
    assert_eq!(received, pattern(LEN - 1000..LEN));
    Ok(())
}

#[runtime::test]
async fn cold_file_peer_closed_mid_transfer() -> io::Result<()> {
    const LEN: u64 = 32 << 20;
    let (path, file) = cold_pattern_file("send-file-cold-closed", LEN).await?;
    let (e, server) = peer_closes_mid_transfer(&file, LEN).await;
    assert!(is_peer_gone(&e), "unexpected error {e}");
    evict(&path).await?;
    let e = server.send_file(&file, 0, LEN).await.unwrap_err();
    assert!(is_peer_gone(&e), "unexpected error {e}");
    // The worker's pipes are still good for the next cold transfer.
    evict(&path).await?;
    let (sent, received) = transfer(&file, 12_345, 300_000).await?;
    assert_eq!(sent, 300_000);
    assert_eq!(received, pattern(12_345..312_345));
    Ok(())
}

#[runtime::test]
async fn small_file_byte_exact() -> io::Result<()> {
    let (_path, file) = pattern_file("send-file-small", 10_000).await?;
    let (sent, received) = transfer(&file, 0, 10_000).await?;
    assert_eq!(sent, 10_000);
    assert_eq!(received, pattern(0..10_000));
    Ok(())
}

#[runtime::test]
async fn large_file_64_mib() -> io::Result<()> {
    const LEN: u64 = 64 << 20;
    let (_path, file) = pattern_file("send-file-large", LEN).await?;
    assert_eq!(send_and_check(&file, 0, LEN).await?, (LEN, LEN));
    Ok(())
}

#[runtime::test]
async fn range_in_the_middle() -> io::Result<()> {
    let (_path, file) = pattern_file("send-file-range", (1 << 20) + 123).await?;
    // Unaligned and page-aligned starts; a length that spans several pages.
    for (offset, len) in [
        (4097, 300_001),
        (8192, 65_536),
        (1, 1),
        ((1 << 20) + 122, 1),
    ] {
        let (sent, received) = transfer(&file, offset, len).await?;
        assert_eq!(sent, len, "offset {offset}");
        assert_eq!(received, pattern(offset..offset + len), "offset {offset}");
    }
    Ok(())
}

#[runtime::test]
async fn len_past_end_of_file_sends_the_rest() -> io::Result<()> {
    let (_path, file) = pattern_file("send-file-eof", 10_000).await?;
    let (sent, received) = transfer(&file, 9_000, 5_000).await?;
    assert_eq!(sent, 1_000);
    assert_eq!(received, pattern(9_000..10_000));
    // The whole file "to the end", by asking for everything.
    let (sent, received) = transfer(&file, 0, u64::MAX).await?;
    assert_eq!(sent, 10_000);
    assert_eq!(received, pattern(0..10_000));
    // At or past the end: nothing.
    for offset in [10_000, 20_000] {
        let (sent, received) = transfer(&file, offset, 10).await?;
        assert_eq!((sent, received.len()), (0, 0), "offset {offset}");
    }
    Ok(())
}

#[runtime::test]
async fn zero_bytes() -> io::Result<()> {
    let (_path, file) = pattern_file("send-file-zero", 100).await?;
    let (client, server) = tcp_pair().await;
    assert_eq!(server.send_file(&file, 0, 0).await?, 0);
    assert_eq!(server.send_file(&file, 50, 0).await?, 0);
    // Nothing was sent: the peer's first byte is the one written next.
    let (res, _) = server.write_all(b"x".to_vec()).await;
    res?;
    drop(server);
    assert_eq!(read_all(&client).await?, b"x");
    Ok(())
}

#[runtime::test]
async fn several_at_once_on_one_worker() -> io::Result<()> {
    const LEN: u64 = 4 << 20;
    let (_path, file) = pattern_file("send-file-many", LEN).await?;
    let file = std::rc::Rc::new(file);
    let mut tasks = Vec::new();
    for i in 0..6u64 {
        let file = file.clone();
        tasks.push(runtime::spawn(async move {
            let offset = i * 1000;
            let (sent, received) = send_and_check(&file, offset, LEN).await?;
            assert_eq!((sent, received), (LEN - offset, LEN - offset));
            Ok::<_, io::Error>(())
        }));
    }
    for t in tasks {
        t.await.expect("transfer task")?;
    }
    Ok(())
}

#[runtime::test]
async fn unix_stream_byte_exact() -> io::Result<()> {
    const LEN: u64 = 3 << 20;
    let (_path, file) = pattern_file("send-file-unix", LEN).await?;
    let (a, b) = UnixStream::pair()?;
    let send = a.send_file(&file, 333, LEN);
    let sender = runtime::spawn(async move {
        let sent = send.await;
        drop(a);
        sent
    });
    let mut at = 333u64;
    let mut buf = Vec::with_capacity(1 << 20);
    loop {
        let (n, got) = b.read(buf).await;
        if n? == 0 {
            break;
        }
        assert!(got.iter().zip(at..).all(|(&byte, i)| byte == byte_at(i)));
        at += got.len() as u64;
        buf = got;
        buf.clear();
    }
    assert_eq!(at, LEN);
    assert_eq!(sender.await.expect("sender task")?, LEN - 333);
    Ok(())
}

/// The peer reads a little, then closes with data unread (a reset). Returns
/// the error `send_file` gave, and the sending end.
async fn peer_closes_mid_transfer(file: &File, len: u64) -> (io::Error, TcpStream) {
    let (client, server) = tcp_pair().await;
    let sender = runtime::spawn(server.send_file(file, 0, len));
    let (n, _) = client.read(Vec::with_capacity(4096)).await;
    assert!(n.expect("first read") > 0);
    drop(client);
    match sender.await.expect("sender task") {
        Ok(sent) => panic!("sent {sent} of {len} bytes to a closed peer"),
        Err(e) => (e, server),
    }
}

/// Whether `e` is what a send to a peer that went away gives.
fn is_peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
    )
}

#[runtime::test]
async fn peer_closed_mid_transfer_is_an_error() -> io::Result<()> {
    const LEN: u64 = 64 << 20;
    let (_path, file) = pattern_file("send-file-closed", LEN).await?;
    let (e, server) = peer_closes_mid_transfer(&file, LEN).await;
    assert!(is_peer_gone(&e), "unexpected error {e}");
    // Later sends on the dead socket fail too (`EPIPE` once the reset is reported).
    let e = server.send_file(&file, 0, LEN).await.unwrap_err();
    assert!(is_peer_gone(&e), "unexpected error {e}");
    // The pipe that failed (maybe holding bytes) is not reused: the next
    // transfer on this worker is byte-exact.
    let (sent, received) = transfer(&file, 12_345, 200_000).await?;
    assert_eq!(sent, 200_000);
    assert_eq!(received, pattern(12_345..212_345));
    Ok(())
}

#[runtime::test]
async fn dropped_mid_transfer_then_reused() -> io::Result<()> {
    const LEN: u64 = 64 << 20;
    let (_path, file) = pattern_file("send-file-dropped", LEN).await?;
    let (client, server) = tcp_pair().await;
    let sender = runtime::spawn(server.send_file(&file, 0, LEN));
    let (n, _) = client.read(Vec::with_capacity(4096)).await;
    assert!(n? > 0);
    // The transfer is blocked on a full socket; drop it mid-way.
    sender.abort();
    assert!(sender.await.is_err(), "an aborted transfer cannot finish");
    drop((client, server));
    for _ in 0..3 {
        let (sent, received) = transfer(&file, 777, 1_500_000).await?;
        assert_eq!(sent, 1_500_000);
        assert_eq!(received, pattern(777..1_500_777));
    }
    Ok(())
}

#[runtime::test]
async fn bad_input_is_an_error() -> io::Result<()> {
    let (_path, file) = pattern_file("send-file-bad", 100).await?;
    let (_client, server) = tcp_pair().await;
    let e = server.send_file(&file, 1 << 63, 10).await.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    // A directory cannot be spliced or sent.
    let dir = File::open(std::env::temp_dir()).await?;
    assert!(server.send_file(&dir, 0, 10).await.is_err());
    // A file opened write-only cannot be read.
    let path = TempPath::new("send-file-wronly");
    let wronly = File::create(&path).await?;
    assert!(server.send_file(&wronly, 0, 10).await.is_err());
    Ok(())
}

/// The work of a child process, chosen by `NET_SEND_FILE_CHILD` (a driver
/// name). Without the variable (a normal test run) this test does nothing.
#[test]
fn child_process_entry() {
    let Ok(driver) = std::env::var("NET_SEND_FILE_CHILD") else {
        return;
    };
    let Some(rt) = child_runtime(&driver) else {
        return;
    };
    // SAFETY: resetting a signal disposition to its default is always sound.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    rt.block_on(async {
        const LEN: u64 = 64 << 20;
        let (_path, file) = pattern_file("send-file-sigpipe", LEN).await.unwrap();
        let mut broken_pipes = 0;
        for _ in 0..3 {
            let (e, server) = peer_closes_mid_transfer(&file, LEN).await;
            assert!(is_peer_gone(&e), "unexpected error {e}");
            // After the reset is reported, sends fail with `EPIPE`: the case
            // that raises `SIGPIPE` unless it is kept from being delivered.
            for _ in 0..2 {
                let e = server.send_file(&file, 0, LEN).await.unwrap_err();
                assert!(is_peer_gone(&e), "unexpected error {e}");
                broken_pipes += usize::from(e.kind() == io::ErrorKind::BrokenPipe);
            }
        }
        assert!(broken_pipes > 0, "no send saw EPIPE");
    });
    println!("CHILD-OK");
}

/// Runs `child_process_entry` on `driver` in a new process with `SIGPIPE` at
/// its default (terminate) and checks that it lived.
fn run_child(driver: &str) {
    run_driver_child("child_process_entry", "NET_SEND_FILE_CHILD", driver, driver);
}

mod peer_closed_never_raises_sigpipe {
    use super::*;

    #[test]
    fn uring() {
        run_child("uring");
    }

    #[test]
    fn epoll() {
        run_child("epoll");
    }
}
