//! Zero-copy sends (`IORING_OP_SEND_ZC`) in `write_all`, from the
//! `Builder::send_zerocopy_threshold` up: bytes arrive intact and in order,
//! a dropped send keeps its buffer until the kernel lets go of it, the knob
//! turned off keeps plain sends, and sockets that refuse zero-copy (Unix)
//! fall back to plain sends. Both drivers (epoll always sends plainly):
//! `#[runtime::test]` where the default builder does, else
//! `support::on_each_driver`, since the threshold is a builder setting the
//! attribute does not take.

mod support;

use std::future::Future;
use std::sync::atomic::Ordering;

use runtime::net::UnixStream;
use runtime::{DriverKind, WorkerMetrics};
use support::{pattern, tcp_pair, Tracked};

/// Chunks of one large write in the tests below: 4 MiB in all.
const CHUNK: usize = 256 * 1024;
const CHUNKS: usize = 16;

/// Whether this kernel has `IORING_OP_SEND_ZC` (Linux 6.0+).
fn kernel_sends_zerocopy() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .trim()
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (6, 0)
}

fn metrics() -> WorkerMetrics {
    runtime::metrics().remove(0)
}

/// Sends `CHUNKS` owned chunks of `CHUNK` bytes from the write half of a
/// loopback connection while its peer reads them; checks every byte.
async fn send_chunks_in_order() {
    let (client, server) = tcp_pair().await;
    let (_read_half, write_half) = client.into_split();
    let reader = runtime::spawn(async move {
        let mut got = Vec::with_capacity(CHUNK * CHUNKS);
        let mut buf = vec![0u8; 64 * 1024];
        while got.len() < CHUNK * CHUNKS {
            let (res, b) = server.read(buf).await;
            let n = res.unwrap();
            assert!(n > 0, "end of stream after {} bytes", got.len());
            got.extend_from_slice(&b[..n]);
            buf = b;
        }
        got
    });
    for i in 0..CHUNKS {
        let (res, buf) = write_half.write_all(pattern(CHUNK, i)).await;
        res.unwrap();
        assert_eq!(buf.len(), CHUNK, "the buffer comes back whole");
    }
    let got = reader.await.unwrap();
    for i in 0..CHUNKS {
        assert!(
            got[i * CHUNK..(i + 1) * CHUNK] == pattern(CHUNK, i)[..],
            "chunk {i} arrived changed or out of order"
        );
    }
}

#[runtime::test]
async fn large_write_all_arrives_intact_and_in_order() {
    // The default threshold, whatever it is.
    send_chunks_in_order().await;
}

#[test]
fn zero_copy_write_all_arrives_intact_and_in_order() {
    support::on_each_driver(
        |b| b.send_zerocopy_threshold(Some(64 * 1024)),
        |kind| async move {
            let before = metrics();
            send_chunks_in_order().await;
            let sent = metrics().sends_zerocopy - before.sends_zerocopy;
            match kind {
                DriverKind::Uring if kernel_sends_zerocopy() && may_pin(CHUNK) => {
                    assert!(sent >= CHUNKS as u64, "{sent} zero-copy sends")
                }
                _ => assert_eq!(sent, 0, "{kind} sent zero-copy"),
            }
        },
    );
}

#[test]
fn the_threshold_off_or_above_the_sends_keeps_plain_sends() {
    for threshold in [None, Some(usize::MAX), Some(CHUNK + 1)] {
        support::on_each_driver(
            |b| b.send_zerocopy_threshold(threshold),
            |kind| async move {
                send_chunks_in_order().await;
                let m = metrics();
                assert_eq!(m.sends_zerocopy, 0, "{kind}, threshold {threshold:?}");
            },
        );
    }
}

/// Turns the worker until its driver holds no op (bounded: no clock).
async fn until_no_op_in_flight() {
    let done = support::yield_until(|| metrics().ops_in_flight == 0).await;
    assert!(done, "an op was never freed");
}

/// The buffer of the dropped send below.
const HELD: usize = 4 << 20;

/// Whether io_uring may pin `len` bytes of a zero-copy send: it charges
/// them to `RLIMIT_MEMLOCK` unless the process has `CAP_IPC_LOCK` (root,
/// here); past the limit the send copies instead (`ENOMEM`, then a plain send).
fn may_pin(len: usize) -> bool {
    // SAFETY: `geteuid` takes no arguments and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return true;
    }
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid `rlimit` for the kernel to fill in.
    let ok = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } == 0;
    let fits = ok && limit.rlim_cur >= 2 * len as libc::rlim_t;
    if !fits {
        eprintln!(
            "RLIMIT_MEMLOCK below {} bytes: the send may copy instead",
            2 * len
        );
    }
    fits
}

#[test]
fn a_dropped_zero_copy_write_all_keeps_its_buffer_until_the_kernel_lets_go() {
    support::on_each_driver(
        |b| b.send_zerocopy_threshold(Some(64 * 1024)),
        |kind| async move {
            let (client, server) = tcp_pair().await;
            // Far more than the peer's window: it reads nothing, so part
            // of it waits, pinned, in the sender's queue.
            let (buf, dropped) = Tracked::new(HELD);
            let zero_copy = kind == DriverKind::Uring && kernel_sends_zerocopy() && may_pin(HELD);
            let before = metrics();
            let mut write = Box::pin(client.write_all(buf));
            std::future::poll_fn(|cx| {
                assert!(write.as_mut().poll(cx).is_pending(), "must wait");
                std::task::Poll::Ready(())
            })
            .await;
            drop(write);
            if zero_copy {
                // The send is cancelled, but the pages still queued are the
                // kernel's until its notification, however many turns pass.
                for _ in 0..200 {
                    runtime::task::yield_now().await;
                }
                assert!(!dropped.load(Ordering::SeqCst), "freed under the kernel");
            }
            // Closing the peer with unread bytes resets the connection: the
            // sender's queue is purged and the kernel lets go.
            drop(server);
            until_no_op_in_flight().await;
            assert!(dropped.load(Ordering::SeqCst), "the buffer was never freed");
            let m = metrics();
            if zero_copy {
                assert!(m.ops_cancelled > before.ops_cancelled, "{m:?}");
                assert_eq!(m.sends_zerocopy, before.sends_zerocopy + 1, "{m:?}");
            }
            drop(client);
        },
    );
}

#[test]
fn unix_sockets_refuse_zero_copy_and_send_plainly() {
    support::on_each_driver(
        |b| b.send_zerocopy_threshold(Some(0)),
        |kind| async move {
            let (a, b) = UnixStream::pair().unwrap();
            let reader = runtime::spawn(async move {
                let mut got = Vec::new();
                let mut buf = vec![0u8; 64 * 1024];
                while got.len() < 3 * CHUNK {
                    let (res, back) = b.read(buf).await;
                    let n = res.unwrap();
                    assert!(n > 0, "end of stream");
                    got.extend_from_slice(&back[..n]);
                    buf = back;
                }
                got
            });
            for i in 0..3 {
                let (res, _) = a.write_all(pattern(CHUNK, i)).await;
                res.unwrap_or_else(|e| panic!("{kind}: write {i}: {e}"));
            }
            let got = reader.await.unwrap();
            for i in 0..3 {
                assert!(got[i * CHUNK..(i + 1) * CHUNK] == pattern(CHUNK, i)[..]);
            }
            assert_eq!(metrics().sends_zerocopy, 0);
        },
    );
}
