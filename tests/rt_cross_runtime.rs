//! An operation started on one runtime and awaited on another, on both
//! drivers: the documented outcome, never a crash, a hang or a wrong cast.
//!
//! A receive takes what its socket's queue holds, wherever it is awaited.
//! On epoll nothing of it sits in a kernel, so it carries on anywhere. On
//! io_uring the socket's receive runs in the ring of the runtime that first
//! read it: awaited elsewhere, a read waits for that ring while its runtime
//! runs, starts afresh once that runtime is dropped, and fails with a clear
//! error while that runtime is alive but idle (nothing is lost: the idle
//! ring hands over what it received the next time it runs). An op the
//! driver holds in a slot (io_uring: a send into a full socket) belongs to
//! that driver: awaiting it elsewhere panics with a message that says so,
//! whether its runtime is still alive or already dropped; on epoll that send
//! waits for readiness and carries on.
//! Polled outside any runtime, an op a driver holds panics the same way
//! rather than stay pending with no one to wake it.

use std::future::{poll_fn, Future};
use std::io::{Read, Write};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use runtime::net::{UdpSocket, UnixStream};
use runtime::{Builder, DriverKind, Runtime};

/// Each driver this machine can run (io_uring is required when
/// `RUNTIME_REQUIRE_URING` is set, as in CI).
fn drivers() -> Vec<DriverKind> {
    let mut kinds = vec![DriverKind::Epoll];
    match Builder::new().driver(DriverKind::Uring).build() {
        Ok(_) => kinds.push(DriverKind::Uring),
        Err(e) if std::env::var_os("RUNTIME_REQUIRE_URING").is_some() => {
            panic!("io_uring required but unavailable: {e}")
        }
        Err(e) => eprintln!("skipping io_uring: {e}"),
    }
    kinds
}

fn rt(kind: DriverKind) -> Runtime {
    Builder::new().driver(kind).build().unwrap()
}

type ReadFuture = Pin<Box<dyn Future<Output = (std::io::Result<usize>, Vec<u8>)>>>;

/// On `rt`, starts a read of `stream` and polls it once (it stays pending:
/// nothing was written yet).
// The block returns the pending read itself, to be awaited on another runtime.
#[allow(clippy::async_yields_async)]
fn start_read(rt: &Runtime, stream: std::os::unix::net::UnixStream) -> ReadFuture {
    rt.block_on(async move {
        let stream = UnixStream::from_std(stream).unwrap();
        let mut fut: ReadFuture = Box::pin(async move { stream.read(vec![0u8; 16]).await });
        poll_fn(|cx| {
            assert!(
                fut.as_mut().poll(cx).is_pending(),
                "nothing was written yet"
            );
            Poll::Ready(())
        })
        .await;
        fut
    })
}

/// Awaits `fut` on `rt` while a UDP receive of another op type is in flight
/// there (on io_uring it takes the slot the foreign op's key names).
fn await_elsewhere(rt: &Runtime, fut: ReadFuture) -> (std::io::Result<usize>, Vec<u8>) {
    rt.block_on(async move {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let other = runtime::spawn(async move { udp.recv_from(vec![0u8; 64]).await.0 });
        runtime::task::yield_now().await;
        let out = fut.await;
        other.abort();
        out
    })
}

/// The panic message, if `f` panicked.
fn panic_message(f: impl FnOnce()) -> Option<String> {
    let payload = catch_unwind(AssertUnwindSafe(f)).err()?;
    Some(match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    })
}

#[test]
fn a_read_awaited_on_another_live_runtime() {
    for kind in drivers() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (rt_a, rt_b) = (rt(kind), rt(kind));
        let stream = rt_a.block_on(async move { UnixStream::from_std(b).unwrap() });
        // Poll a read once on runtime A (arming the socket's receive there
        // on io_uring), then drop it: nothing was written yet.
        rt_a.block_on(async {
            let mut read = stream.read(vec![0u8; 16]);
            poll_fn(|cx| {
                assert!(Pin::new(&mut read).poll(cx).is_pending(), "nothing yet");
                Poll::Ready(())
            })
            .await;
        });
        (&a).write_all(b"hello").unwrap();
        let (n, buf) = rt_b.block_on(stream.read(vec![0u8; 16]));
        if kind == DriverKind::Epoll {
            assert_eq!(&buf[..n.unwrap()], b"hello", "{kind}: carries on");
            continue;
        }
        // io_uring: the receive is in A's ring and A is idle: a clear error.
        let err = n.unwrap_err();
        assert!(err.to_string().contains("not running"), "{err}");
        // A runs once and hands over what it received; B reads it.
        rt_a.block_on(runtime::task::yield_now());
        let (n, buf) = rt_b.block_on(stream.read(vec![0u8; 16]));
        assert_eq!(&buf[..n.unwrap()], b"hello", "{kind}: nothing lost");
        drop(stream);
        drop(rt_b);
        drop(rt_a);
    }
}

#[test]
fn a_read_awaited_after_its_runtime_was_dropped_carries_on() {
    for kind in drivers() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let rt_a = rt(kind);
        let fut = start_read(&rt_a, b);
        drop(rt_a);
        (&a).write_all(b"later").unwrap();
        let rt_b = rt(kind);
        let (n, buf) = await_elsewhere(&rt_b, fut);
        assert_eq!(&buf[..n.unwrap()], b"later", "{kind}");
    }
}

type WriteFuture = Pin<Box<dyn Future<Output = std::io::Result<usize>>>>;

/// On `rt`, fills `stream`'s send buffer and starts one more write, polled
/// once (pending: the peer reads nothing yet).
#[allow(clippy::async_yields_async)]
fn start_write(rt: &Runtime, stream: std::os::unix::net::UnixStream) -> WriteFuture {
    stream.set_nonblocking(true).unwrap();
    let chunk = [7u8; 4096];
    while (&stream).write(&chunk).is_ok() {}
    rt.block_on(async move {
        let stream = UnixStream::from_std(stream).unwrap();
        let mut fut: WriteFuture = Box::pin(async move { stream.write(vec![9u8; 4096]).await.0 });
        poll_fn(|cx| {
            assert!(fut.as_mut().poll(cx).is_pending(), "the socket is full");
            Poll::Ready(())
        })
        .await;
        fut
    })
}

/// Reads everything from `a` on a plain thread, so a pending write can finish.
fn drain(mut a: std::os::unix::net::UnixStream) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while matches!(a.read(&mut buf), Ok(n) if n > 0) {}
    })
}

/// Awaits a write on `rt_b` that another runtime started: epoll carries on,
/// io_uring (whose kernel holds the send) panics with the documented message.
fn check_foreign_write(
    kind: DriverKind,
    rt_b: &Runtime,
    fut: WriteFuture,
    a: std::os::unix::net::UnixStream,
) {
    if kind == DriverKind::Uring {
        let msg = panic_message(|| drop(rt_b.block_on(fut)))
            .expect("awaiting another runtime's op in flight must panic");
        assert!(msg.contains("different runtime"), "{msg}");
        drop(a);
        return;
    }
    let reader = drain(a);
    let n = rt_b.block_on(fut).unwrap();
    assert!(n > 0);
    reader.join().unwrap();
}

#[test]
fn a_write_held_by_io_uring_awaited_on_another_live_runtime() {
    for kind in drivers() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (rt_a, rt_b) = (rt(kind), rt(kind));
        let fut = start_write(&rt_a, b);
        check_foreign_write(kind, &rt_b, fut, a);
        drop(rt_b);
        drop(rt_a);
    }
}

#[test]
fn a_write_held_by_io_uring_awaited_after_its_runtime_was_dropped() {
    for kind in drivers() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let rt_a = rt(kind);
        let fut = start_write(&rt_a, b);
        drop(rt_a); // cancels and reaps the send in the kernel
        let rt_b = rt(kind);
        check_foreign_write(kind, &rt_b, fut, a);
    }
}

#[test]
fn an_op_dropped_outside_any_runtime() {
    for kind in drivers() {
        let (_a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let rt_a = rt(kind);
        let fut = start_read(&rt_a, b);
        drop(fut); // no runtime current: handed back to its driver
        drop(rt_a); // which frees it at shutdown
    }
}

type SyncFuture = Pin<Box<dyn Future<Output = std::io::Result<()>>>>;

/// On `rt`, starts an fsync of a new file at `path` and polls it once: its
/// driver then holds it (io_uring: in the ring; epoll: on the blocking pool).
#[allow(clippy::async_yields_async)]
fn start_sync(rt: &Runtime, path: std::path::PathBuf) -> SyncFuture {
    rt.block_on(async move {
        let file = runtime::fs::File::create(&path).await.unwrap();
        let mut fut: SyncFuture = Box::pin(async move { file.sync_all().await });
        poll_fn(|cx| {
            assert!(fut.as_mut().poll(cx).is_pending(), "just submitted");
            Poll::Ready(())
        })
        .await;
        fut
    })
}

#[test]
fn an_op_in_flight_polled_outside_any_runtime_panics_instead_of_pending_forever() {
    for kind in drivers() {
        for runtime_dropped in [false, true] {
            let path = std::env::temp_dir().join(format!(
                "rt-outside-{}-{kind}-{runtime_dropped}",
                std::process::id()
            ));
            let rt_a = rt(kind);
            let mut fut = start_sync(&rt_a, path.clone());
            if runtime_dropped {
                drop(rt_a); // otherwise alive (and idle) across the poll below
            }
            let msg = panic_message(|| {
                let mut cx = Context::from_waker(Waker::noop());
                let _ = fut.as_mut().poll(&mut cx);
            });
            let msg = msg.unwrap_or_else(|| {
                panic!("{kind}: an op in flight polled outside any runtime must panic, not pend")
            });
            assert!(msg.contains("outside any runtime"), "{kind}: {msg}");
            drop(fut);
            let _ = std::fs::remove_file(&path);
        }
    }
}
