//! An operation started on one runtime and awaited on another, on both
//! drivers: the documented outcome, never a crash, a hang or a wrong cast.
//!
//! An op the driver holds in a slot (io_uring: every socket read in flight)
//! belongs to that driver: awaiting it elsewhere panics with a message that
//! says so, whether its runtime is still alive or already dropped. An op that
//! only waits for readiness (epoll) holds nothing in the kernel, so it simply
//! carries on where it is awaited.

use std::future::{poll_fn, Future};
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::Poll;

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
fn an_op_awaited_on_another_live_runtime() {
    for kind in drivers() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (rt_a, rt_b) = (rt(kind), rt(kind));
        let fut = start_read(&rt_a, b);
        (&a).write_all(b"hello").unwrap();
        let msg = panic_message(|| {
            let (n, buf) = await_elsewhere(&rt_b, fut);
            // Only an op no driver holds may carry on elsewhere.
            assert_eq!(kind, DriverKind::Epoll, "an op held by io_uring moved");
            assert_eq!(&buf[..n.unwrap()], b"hello");
        });
        match kind {
            DriverKind::Uring => {
                let msg = msg.expect("awaiting another runtime's op must panic");
                assert!(msg.contains("different runtime"), "{kind}: {msg}");
            }
            _ => assert!(msg.is_none(), "{kind}: {msg:?}"),
        }
        // Both runtimes shut down cleanly afterwards.
        drop(rt_b);
        drop(rt_a);
    }
}

#[test]
fn an_op_awaited_after_its_runtime_was_dropped() {
    for kind in drivers() {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let rt_a = rt(kind);
        let fut = start_read(&rt_a, b);
        drop(rt_a); // cancels and reaps the read in the kernel
        (&a).write_all(b"later").unwrap();
        let rt_b = rt(kind);
        let msg = panic_message(|| {
            let (n, buf) = await_elsewhere(&rt_b, fut);
            assert_eq!(kind, DriverKind::Epoll, "an op held by io_uring moved");
            assert_eq!(&buf[..n.unwrap()], b"later");
        });
        match kind {
            DriverKind::Uring => {
                let msg = msg.expect("awaiting a dropped runtime's op must panic");
                assert!(msg.contains("different runtime"), "{kind}: {msg}");
            }
            _ => assert!(msg.is_none(), "{kind}: {msg:?}"),
        }
        drop(rt_b);
    }
}

#[test]
fn an_op_dropped_outside_any_runtime() {
    for kind in drivers() {
        let (_a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let rt_a = rt(kind);
        let fut = start_read(&rt_a, b);
        drop(fut); // no runtime current: the slot stays with its driver
        drop(rt_a); // which frees it at shutdown
    }
}
