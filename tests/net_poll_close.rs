//! A socket whose last handle is dropped really closes, on both drivers,
//! wherever the handle goes: on io_uring a socket that was read keeps a
//! multishot receive in its worker's ring, which holds the file open, so
//! the last handle must have it cancelled, also when the handle is dropped
//! on another thread or runtime, or while the worker is busy. Each test
//! checks what the peer sees (end of stream), not only the descriptor
//! count; the last one checks that dropped runtimes leave no descriptor.
//!
//! The tests of this file take turns (`serial`), so that the socket count
//! of one is not disturbed by the others in this process (runtimes, whose
//! descriptors are not sockets, come and go outside the lock).

// The guard of `serial` is held across awaits on purpose: it only keeps the
// tests of this file apart, each on its own thread and runtime.
#![allow(clippy::await_holding_lock)]

use std::future::{poll_fn, Future};
use std::io::{Read as _, Write as _};
use std::os::fd::AsRawFd;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Duration;

use runtime::net::{TcpStream, UnixStream};
use runtime::Builder;

mod support;
use support::fd_count;

/// Generous bound on how long a peer may wait for end of stream; reaching it
/// fails the test (a poll kept the socket open), it never times anything.
const EOF_WAIT: Duration = Duration::from_secs(20);

/// Held for the whole of each test of this file.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Open sockets of this process (`/proc/self/fd` entries linking to `socket:`).
fn socket_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.to_string_lossy().starts_with("socket:"))
        .count()
}

/// A connected pair: a runtime stream and its std peer, with a read timeout
/// so a missing FIN fails the test instead of hanging it.
fn std_pair() -> (TcpStream, std::net::TcpStream) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let peer = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    peer.set_read_timeout(Some(EOF_WAIT)).unwrap();
    let (ours, _) = listener.accept().unwrap();
    (TcpStream::from_std(ours).unwrap(), peer)
}

/// Polls a read of `stream` (pending: nothing was sent), so its driver
/// registers the fd, and lets the worker turn while it waits, so the
/// registration reaches the kernel (io_uring: the poll is armed); then
/// drops the read.
async fn wait_once(stream: &TcpStream) {
    let mut read = pin!(stream.read(vec![0u8; 16]));
    for _ in 0..3 {
        poll_fn(|cx| {
            assert!(read.as_mut().poll(cx).is_pending(), "nothing was sent yet");
            Poll::Ready(())
        })
        .await;
        runtime::task::yield_now().await;
    }
}

/// Whether `peer` reads end of stream (rather than data, an error or the timeout).
fn sees_eof(mut peer: std::net::TcpStream) -> bool {
    matches!(peer.read(&mut [0u8; 16]), Ok(0))
}

/// Waits, off the worker, for `peer` to see end of stream; the worker stays
/// free to run its loop meanwhile.
async fn peer_sees_eof(peer: std::net::TcpStream) -> bool {
    runtime::spawn_blocking(move || sees_eof(peer))
        .await
        .unwrap()
}

#[runtime::test]
async fn dropped_on_another_thread_closes() {
    let _serial = serial();
    let (stream, peer) = std_pair();
    wait_once(&stream).await;
    std::thread::spawn(move || drop(stream)).join().unwrap();
    assert!(peer_sees_eof(peer).await, "the peer saw end of stream");
}

#[runtime::test]
async fn dropped_on_another_thread_while_the_worker_is_busy_closes() {
    let _serial = serial();
    let (stream, peer) = std_pair();
    wait_once(&stream).await;
    let done = Arc::new(AtomicBool::new(false));
    let checker = std::thread::spawn({
        let done = done.clone();
        move || {
            drop(stream);
            let eof = sees_eof(peer);
            done.store(true, Ordering::SeqCst);
            eof
        }
    });
    // Never parks: the release reaches the worker between tasks.
    while !done.load(Ordering::SeqCst) {
        runtime::task::yield_now().await;
    }
    assert!(checker.join().unwrap(), "the peer saw end of stream");
}

#[runtime::test]
async fn used_and_dropped_on_a_second_runtime_closes() {
    let _serial = serial();
    let (stream, peer) = std_pair();
    wait_once(&stream).await;
    let kind = runtime::driver_kind();
    // Both runtimes now wait on the fd; the second drops the last handle.
    std::thread::spawn(move || {
        let rt = Builder::new().driver(kind).build().unwrap();
        rt.block_on(async move {
            wait_once(&stream).await;
            drop(stream);
        });
    })
    .join()
    .unwrap();
    assert!(peer_sees_eof(peer).await, "the peer saw end of stream");
}

#[runtime::test]
async fn dropped_after_its_runtime_is_gone_closes() {
    let _serial = serial();
    let (stream, peer) = std_pair();
    let kind = runtime::driver_kind();
    let stream = std::thread::spawn(move || {
        let rt = Builder::new().driver(kind).build().unwrap();
        rt.block_on(wait_once(&stream));
        drop(rt);
        stream
    })
    .join()
    .unwrap();
    drop(stream);
    assert!(peer_sees_eof(peer).await, "the peer saw end of stream");
}

#[runtime::test]
async fn many_connections_closed_leak_nothing() {
    let _serial = serial();
    // Warm up (listener, pool threads), then count.
    let (stream, peer) = std_pair();
    drop(stream);
    assert!(peer_sees_eof(peer).await);
    let before = socket_count();
    for i in 0..300 {
        let (stream, peer) = std_pair();
        wait_once(&stream).await;
        if i % 2 == 0 {
            drop(stream);
        } else {
            std::thread::spawn(move || drop(stream)).join().unwrap();
        }
        assert!(peer_sees_eof(peer).await, "connection {i}: end of stream");
    }
    assert_eq!(socket_count(), before, "no descriptor leaked");
}

#[runtime::test]
async fn a_reused_fd_number_gets_only_its_own_events() {
    let _serial = serial();
    let (old, old_peer) = std_pair();
    wait_once(&old).await;
    let old_fd = old.as_raw_fd();
    drop(old);
    // The lowest free number is usually the one just closed; the test is
    // meaningful either way.
    let (new, mut new_peer) = std_pair();
    if new.as_raw_fd() != old_fd {
        eprintln!("fd {old_fd} was not reused; checking without reuse");
    }
    let new = Arc::new(new);
    let reader = runtime::spawn({
        let new = new.clone();
        async move {
            let (n, buf) = new.read(vec![0u8; 16]).await;
            n.map(|n| buf[..n].to_vec()).map_err(|e| e.kind())
        }
    });
    runtime::task::yield_now().await;
    // An event on the old connection (whose poll, if one were left, would
    // carry the same fd number) must not complete the new read.
    old_peer.shutdown(std::net::Shutdown::Write).unwrap();
    assert!(
        peer_sees_eof(old_peer).await,
        "the old peer saw end of stream"
    );
    for _ in 0..10 {
        runtime::task::yield_now().await;
    }
    assert!(
        !reader.is_finished(),
        "the new read has nothing to read yet"
    );
    new_peer.write_all(b"new").unwrap();
    assert_eq!(reader.await.unwrap(), Ok(b"new".to_vec()));
    drop(new);
    new_peer.set_read_timeout(Some(EOF_WAIT)).unwrap();
    assert!(
        peer_sees_eof(new_peer).await,
        "the new peer saw end of stream"
    );
}

/// A dropped runtime leaves no descriptor behind, even when a socket it
/// read lives on: the socket remembers the ring that ran its receive only
/// weakly, and the runtime's shutdown cancels that receive. (With a
/// process-wide table of poll owners, each of these runtimes kept its
/// eventfd open for as long as the socket lived.)
#[test]
fn dropped_runtimes_that_read_a_long_lived_socket_leave_no_descriptor() {
    const RUNTIMES: usize = 200;
    let _serial = serial();
    for kind in [runtime::DriverKind::Uring, runtime::DriverKind::Epoll] {
        let (_peer, ours) = std::os::unix::net::UnixStream::pair().unwrap();
        let stream = UnixStream::from_std(ours).unwrap();
        let before = fd_count();
        for _ in 0..RUNTIMES {
            let rt = match runtime::Builder::new().driver(kind).build() {
                Ok(rt) => rt,
                Err(e) if kind == runtime::DriverKind::Uring && !support::uring_required() => {
                    eprintln!("skipping io_uring: {e}");
                    break;
                }
                Err(e) => panic!("{kind}: {e}"),
            };
            // Poll a read once (on io_uring this arms the socket's receive
            // in this runtime's ring), then let the runtime go.
            rt.block_on(async {
                let mut read = stream.read(vec![0u8; 8]);
                std::future::poll_fn(|cx| {
                    assert!(std::pin::Pin::new(&mut read).poll(cx).is_pending());
                    std::task::Poll::Ready(())
                })
                .await;
            });
            drop(rt);
        }
        let after = fd_count();
        // Other tests run in parallel: a loose bound, far below one per runtime.
        assert!(
            after <= before + 32,
            "{kind}: {RUNTIMES} dropped runtimes left {} descriptors",
            after.saturating_sub(before)
        );
        drop(stream);
    }
}
