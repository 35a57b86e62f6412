//! The futures of `fs`, `net` and `time` are `Send` where their buffers
//! are, so a `Send` future (an axum handler) may await them, and moving one
//! keeps the op rules: polled on another worker, an op no kernel holds
//! carries on; dropped on another thread, an op a kernel holds goes back to
//! its own driver, which cancels it and frees its buffer only after the
//! final completion. Both drivers.

use std::future::{poll_fn, Future};
use std::io::Write as _;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::Poll;
use std::time::Duration;

use runtime::net::{TcpListener, TcpStream, UdpSocket, UnixStream};
use runtime::DriverKind;
use support::Tracked;

mod support;

fn send<T: Send>(_: &T) {}

/// Compile-time: every future a handler awaits is `Send`.
#[allow(dead_code, clippy::let_underscore_future)]
async fn every_future_is_send(
    stream: TcpStream,
    listener: TcpListener,
    udp: UdpSocket,
    unix: UnixStream,
) {
    send(&runtime::fs::read_to_string("x"));
    send(&runtime::fs::read("x"));
    send(&runtime::fs::write("x", vec![1u8]));
    send(&runtime::fs::metadata("x"));
    send(&runtime::fs::File::open("x"));
    send(&runtime::fs::read_dir("x"));
    let file = runtime::fs::File::open("x").await.unwrap();
    send(&file.read_at(vec![0u8; 8], 0));
    send(&file.write_all_at(vec![0u8; 8], 0));
    send(&file.read_exact_at(vec![0u8; 8], 0));
    send(&file.sync_all());
    send(&file.metadata());
    send(&TcpStream::connect("127.0.0.1:1"));
    send(&stream.read(vec![0u8; 8]));
    send(&stream.write(vec![0u8; 8]));
    send(&stream.write_all(vec![0u8; 8]));
    send(&stream.readv(vec![vec![0u8; 8]]));
    send(&stream.writev(vec![vec![0u8; 8]]));
    send(&stream.readable());
    send(&stream.recv_buf());
    send(&stream.write_queued(vec![0u8; 8]));
    send(&stream.flush_queued());
    send(&unix.recv_buf());
    send(&unix.write_queued(vec![0u8; 8]));
    send(&stream.shutdown(std::net::Shutdown::Write));
    send(&listener.accept());
    send(&listener.incoming());
    send(&udp.recv_from(vec![0u8; 8]));
    send(&udp.send_to(vec![0u8; 8], "127.0.0.1:1".parse().unwrap()));
    send(&unix.read(vec![0u8; 8]));
    send(&runtime::time::sleep(Duration::from_secs(1)));
    send(&runtime::time::timeout(Duration::from_secs(1), async {}));
    send(&runtime::time::interval(Duration::from_secs(1)));
    send(&runtime::spawn_blocking(|| 1));
}

/// A connected Unix stream pair whose first end's send buffer is full.
fn full_pair() -> (UnixStream, std::os::unix::net::UnixStream) {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    while (&a).write(&[7u8; 4096]).is_ok() {}
    (UnixStream::from_std(a).unwrap(), b)
}

/// Polls `fut` once; it must stay pending.
async fn poll_once<F: Future + Unpin>(fut: &mut F) {
    poll_fn(|cx| {
        assert!(Pin::new(&mut *fut).poll(cx).is_pending(), "must wait");
        Poll::Ready(())
    })
    .await;
}

/// Turns the worker until its driver holds no op (bounded: no clock).
async fn until_no_op_in_flight() {
    for _ in 0..100_000 {
        if runtime::metrics()[0].ops_in_flight == 0 {
            return;
        }
        runtime::task::yield_now().await;
    }
    panic!("an op handed back was never cancelled and freed");
}

#[runtime::test]
async fn a_write_dropped_on_another_thread_goes_back_to_its_driver() {
    let (stream, _peer) = full_pair();
    let (buf, dropped) = Tracked::new(4096);
    let mut write = stream.write(buf);
    poll_once(&mut write).await;
    std::thread::spawn(move || drop(write)).join().unwrap();
    if runtime::driver_kind() == DriverKind::Uring {
        // The kernel holds the send: the other thread must not free its buffer.
        assert!(!dropped.load(Ordering::SeqCst), "freed under the kernel");
    }
    until_no_op_in_flight().await;
    assert!(dropped.load(Ordering::SeqCst), "the buffer was never freed");
    let m = &runtime::metrics()[0];
    if m.driver == DriverKind::Uring {
        assert!(m.ops_cancelled >= 1, "{m:?}");
    }
}

#[runtime::test]
async fn a_gathered_write_dropped_on_another_thread_goes_back_to_its_driver() {
    let (stream, _peer) = full_pair();
    let (buf, dropped) = Tracked::new(4096);
    let mut write = stream.writev(vec![buf]);
    poll_once(&mut write).await;
    std::thread::spawn(move || drop(write)).join().unwrap();
    if runtime::driver_kind() == DriverKind::Uring {
        assert!(!dropped.load(Ordering::SeqCst), "freed under the kernel");
    }
    until_no_op_in_flight().await;
    assert!(
        dropped.load(Ordering::SeqCst),
        "the buffers were never freed"
    );
}

#[runtime::test(workers = 2)]
async fn a_write_dropped_on_another_worker_goes_back_to_its_driver() {
    // Two workers: the write is started on worker 0 and dropped on worker 1,
    // whose own driver must not take it.
    let (stream, _peer) = full_pair();
    let (buf, dropped) = Tracked::new(4096);
    let mut write = stream.write(buf);
    poll_once(&mut write).await;
    let on_1 = runtime::spawn_on(1, move || async move {
        drop(write);
        runtime::metrics()[1].ops_in_flight
    });
    assert_eq!(on_1.await.unwrap(), 0, "worker 1 took another driver's op");
    until_no_op_in_flight().await;
    assert!(dropped.load(Ordering::SeqCst));
}

#[runtime::test(workers = 2)]
async fn a_read_started_on_one_worker_finishes_on_another() {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    let stream = UnixStream::from_std(b).unwrap();
    let mut read = Box::pin(async move { stream.read(vec![0u8; 16]).await });
    poll_once(&mut read).await;
    (&a).write_all(b"moved").unwrap();
    let (n, buf) = runtime::spawn_on(1, move || read).await.unwrap();
    assert_eq!(&buf[..n.unwrap()], b"moved");
}

#[runtime::test(workers = 2)]
async fn a_sleep_moved_to_another_worker_completes_there() {
    let mut sleep = Box::pin(runtime::time::sleep(Duration::from_millis(20)));
    poll_once(&mut sleep).await; // registered with worker 0's timers
    runtime::spawn_on(1, move || sleep).await.unwrap();
    // And one dropped on a plain thread after registering here.
    let mut sleep = Box::pin(runtime::time::sleep(Duration::from_secs(3600)));
    poll_once(&mut sleep).await;
    std::thread::spawn(move || drop(sleep)).join().unwrap();
    runtime::time::sleep(Duration::from_millis(1)).await;
}

#[runtime::test]
async fn a_send_handler_awaits_fs_net_and_time() {
    fn handler_like<F: Future + Send + 'static>(f: F) -> F {
        f
    }
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = runtime::spawn(async move { listener.accept().await.map(drop) });
    let out = handler_like(async move {
        let text = runtime::fs::read_to_string("Cargo.toml").await?;
        runtime::time::sleep(Duration::from_millis(1)).await;
        let stream = TcpStream::connect(addr).await?;
        let (res, _) = stream.write_all(b"x".to_vec()).await;
        res?;
        Ok::<_, std::io::Error>(text.len())
    })
    .await
    .unwrap();
    assert!(out > 0);
    accept.await.unwrap().unwrap();
}
