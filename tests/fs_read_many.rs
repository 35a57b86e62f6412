//! `File::read_many` and `File::readv_exact_at` on both drivers: random
//! ranges byte-identical to `std`, at depths below, at and beyond the number
//! of requests, with at most `depth` reads in flight; registered files and
//! `FixedPool` buffers; ranges past the end; a stream dropped with reads in
//! flight; and exact vectored reads across buffers, through short reads and
//! up to an early end of file.
//!
//! `std::fs` appears only as the independent oracle and for scaffolding.

use std::future::poll_fn;
use std::io::ErrorKind;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use futures_core::stream::{FusedStream, Stream};
use runtime::buf::{FixedPool, IoBuf};
use runtime::fs::File;
use runtime::DriverKind;

mod support;
use support::{next_random, open_direct_registered, pattern, yield_until, TargetFile};

/// `count` ranges `(offset, length)` over a file of `size` bytes, a few
/// reaching or starting past its end.
fn random_ranges(count: usize, size: usize, max_len: usize, seed: u64) -> Vec<(u64, usize)> {
    let mut x = seed;
    (0..count)
        .map(|i| {
            let len = 1 + (next_random(&mut x) % max_len as u64) as usize;
            // Every tenth starts within 100 bytes of the end, or past it.
            let pos = match i % 10 {
                0 => (size as u64 - 100) + next_random(&mut x) % 300,
                _ => next_random(&mut x) % size as u64,
            };
            (pos, len)
        })
        .collect()
}

/// What a read of `len` bytes at `pos` of `data` returns.
fn expected(data: &[u8], pos: u64, len: usize) -> &[u8] {
    let start = (pos as usize).min(data.len());
    &data[start..(start + len).min(data.len())]
}

/// Operations holding driver state on this worker now.
fn ops_in_flight() -> u64 {
    runtime::metrics()[0].ops_in_flight
}

#[runtime::test]
async fn random_ranges_match_std_at_every_depth() {
    let data = pattern(1 << 20, 1);
    let tmp = TargetFile::new("fs_read_many", "random", &data);
    let oracle = std::fs::read(&tmp.0).unwrap();
    assert_eq!(oracle, data);
    let file = File::open(&tmp.0).await.unwrap();
    let ranges = random_ranges(200, data.len(), 8192, 0x2545_F491_4F6C_DD1D);
    assert!(ranges.iter().any(|&(pos, _)| pos >= data.len() as u64));
    let uring = runtime::driver_kind() == DriverKind::Uring;

    // Depth 0 counts as 1; 1000 exceeds the 200 requests.
    for depth in [0, 1, 3, 16, 1000] {
        let limit = depth.max(1);
        let base = ops_in_flight();
        let reqs = ranges
            .iter()
            .map(|&(pos, len)| (pos, Vec::<u8>::with_capacity(len)));
        let mut reads = file.read_many(reqs, depth);
        assert_eq!(reads.size_hint(), (200, Some(200)));

        // The first poll starts `limit` reads at once; on io_uring none
        // can have completed yet (completions are reaped between turns).
        let first = poll_fn(|cx| Poll::Ready(Pin::new(&mut reads).poll_next(cx))).await;
        let started = ops_in_flight().saturating_sub(base);
        assert!(
            started <= limit as u64,
            "depth {depth}: {started} in flight"
        );
        if uring {
            assert!(first.is_pending(), "depth {depth}: ready before a turn");
            assert_eq!(started, limit.min(200) as u64, "depth {depth}");
        }
        let mut results: Vec<_> = match first {
            Poll::Ready(item) => item.into_iter().collect(),
            Poll::Pending => Vec::new(),
        };
        let mut most = started;
        while let Some(item) = reads.next().await {
            most = most.max(ops_in_flight().saturating_sub(base));
            results.push(item);
        }
        assert!(most <= limit as u64, "depth {depth}: {most} in flight");
        assert!(reads.is_terminated());
        assert!(reads.next().await.is_none(), "not fused");

        let order: Vec<usize> = results.iter().map(|(i, _)| *i).collect();
        if limit == 1 {
            // One at a time: completion order is request order.
            assert_eq!(order, (0..200).collect::<Vec<_>>());
        }
        let mut seen = [false; 200];
        for (i, (res, buf)) in results {
            assert!(!std::mem::replace(&mut seen[i], true), "index {i} twice");
            let (pos, len) = ranges[i];
            let want = expected(&oracle, pos, len);
            assert_eq!(res.unwrap(), want.len(), "depth {depth}: read {i}");
            assert!(buf == want, "depth {depth}: read {i} of {len} at {pos}");
            assert!(buf.capacity() >= len);
        }
        assert!(
            seen.iter().all(|&s| s),
            "depth {depth}: a request unanswered"
        );
    }
    assert!(yield_until(|| ops_in_flight() == 0).await);
}

#[runtime::test]
async fn the_stream_trait_and_a_lazy_request_iterator() {
    let data = pattern(64 << 10, 2);
    let tmp = TargetFile::new("fs_read_many", "stream", &data);
    let file = File::open(&tmp.0).await.unwrap();
    let allocated = std::cell::Cell::new(0usize);
    let held = std::cell::Cell::new(0usize);
    // Buffers are made as reads start: never more than `depth` at once
    // beyond the one being handed out.
    let reqs = (0..64u64).map(|i| {
        allocated.set(allocated.get() + 1);
        held.set(held.get() + 1);
        assert!(held.get() <= 4 + 1, "{} buffers at once", held.get());
        (i * 1000, Vec::<u8>::with_capacity(1000))
    });
    let mut reads = std::pin::pin!(file.read_many(reqs, 4));
    let mut total = 0;
    while let Some((i, (res, buf))) = poll_fn(|cx| reads.as_mut().poll_next(cx)).await {
        held.set(held.get() - 1);
        assert_eq!(res.unwrap(), 1000);
        assert!(buf[..] == data[i * 1000..i * 1000 + 1000]);
        total += 1;
    }
    assert_eq!((total, allocated.get()), (64, 64));
}

#[runtime::test]
async fn registered_file_and_fixed_buffers_read_the_same_bytes() {
    let data = pattern(1 << 20, 3);
    let tmp = TargetFile::new("fs_read_many", "fixed", &data);
    let oracle = std::fs::read(&tmp.0).unwrap();
    let plain = File::open(&tmp.0).await.unwrap();
    let mut fixed = File::open(&tmp.0).await.unwrap();
    let uring = runtime::driver_kind() == DriverKind::Uring;
    assert_eq!(fixed.register(), uring, "{:?}", runtime::metrics());
    let pool = FixedPool::new(8, 4096).unwrap();
    assert_eq!(pool.is_registered(), uring, "{:?}", pool.fallback_reason());
    let ranges = random_ranges(300, data.len(), 4096, 0x9E37_79B9_7F4A_7C15);

    // Registered buffers, taken as reads start: depth 4 leaves the pool room
    // for the result being handed out while the next read starts.
    let reqs = ranges.iter().map(|&(pos, len)| {
        let buf = pool.try_get().expect("a buffer free for each read started");
        (pos, buf.slice(..len))
    });
    let mut reads = fixed.read_many(reqs, 4);
    let mut from_fixed = vec![None; ranges.len()];
    while let Some((i, (res, buf))) = reads.next().await {
        from_fixed[i] = Some(buf[..res.unwrap()].to_vec());
    }
    drop(reads);
    assert_eq!(pool.available(), 8);

    let reqs = ranges
        .iter()
        .map(|&(pos, len)| (pos, Vec::<u8>::with_capacity(len)));
    let mut reads = plain.read_many(reqs, 4);
    let mut from_plain = vec![None; ranges.len()];
    while let Some((i, (res, buf))) = reads.next().await {
        assert_eq!(res.unwrap(), buf.len());
        from_plain[i] = Some(buf);
    }
    for (i, &(pos, len)) in ranges.iter().enumerate() {
        let want = expected(&oracle, pos, len);
        assert!(
            from_fixed[i].as_deref() == Some(want),
            "fixed read {i} of {len} at {pos}"
        );
        assert!(
            from_plain[i].as_deref() == Some(want),
            "plain read {i} of {len} at {pos}"
        );
    }
}

#[runtime::test]
async fn ranges_past_the_end_read_short_or_nothing() {
    let data = pattern(10_000, 4);
    let tmp = TargetFile::new("fs_read_many", "eof", &data);
    let file = File::open(&tmp.0).await.unwrap();
    let reqs = vec![
        (9_990, Vec::with_capacity(100)),
        (10_000, Vec::with_capacity(100)),
        (1 << 40, Vec::with_capacity(64)),
        (u64::MAX, Vec::with_capacity(16)),
        (0, Vec::new()),
        (9_980, vec![7u8; 50]),
    ];
    let mut results: Vec<Option<_>> = (0..reqs.len()).map(|_| None).collect();
    let mut reads = file.read_many(reqs, 2);
    while let Some((i, res)) = reads.next().await {
        results[i] = Some(res);
    }
    let mut results = results.into_iter().map(Option::unwrap);

    let (n, buf) = results.next().unwrap();
    assert_eq!(n.unwrap(), 10);
    assert!(buf == data[9_990..] && buf.capacity() >= 100);
    for cap in [100, 64] {
        let (n, buf) = results.next().unwrap();
        assert_eq!(n.unwrap(), 0);
        assert!(buf.is_empty() && buf.capacity() >= cap);
    }
    let (n, buf) = results.next().unwrap();
    assert_eq!(n.unwrap_err().kind(), ErrorKind::InvalidInput);
    assert!(buf.capacity() >= 16, "the buffer comes back with the error");
    let (n, buf) = results.next().unwrap();
    assert_eq!((n.unwrap(), buf.len()), (0, 0));
    // A buffer with a length keeps it; the read overwrites its start.
    let (n, buf) = results.next().unwrap();
    assert_eq!(n.unwrap(), 20);
    assert_eq!(&buf[..20], &data[9_980..]);
    assert_eq!(buf[20..], [7u8; 30]);
}

#[runtime::test]
async fn dropping_the_stream_with_reads_in_flight_keeps_buffers_until_completion() {
    let data = pattern(256 << 10, 5);
    let tmp = TargetFile::new("fs_read_many", "dropped", &data);
    // O_DIRECT keeps the reads off the epoll worker (they go to the blocking
    // pool); on io_uring entries are submitted at the next turn. Either way
    // the first poll leaves them in flight.
    let file = open_direct_registered(&tmp.0).await;
    let pool = FixedPool::new(8, 16 << 10).unwrap();
    let reqs = |pool: &FixedPool| -> Vec<_> {
        (0..8u64)
            .map(|i| (i * (32 << 10), pool.try_get().unwrap()))
            .collect()
    };
    let base = ops_in_flight();
    {
        let mut reads = file.read_many(reqs(&pool), 4);
        let mut cx = Context::from_waker(Waker::noop());
        match Pin::new(&mut reads).poll_next(&mut cx) {
            Poll::Pending => {
                assert_eq!(ops_in_flight().saturating_sub(base), 4);
                drop(reads);
                // The four not started come back at once; the four in
                // flight stay with the driver until the kernel is done.
                assert_eq!(pool.available(), 4, "reused before its completion");
            }
            Poll::Ready(_) => eprintln!("skipped the in-flight checks: a read completed at once"),
        }
    }
    assert!(
        yield_until(|| pool.available() == 8).await,
        "never came back"
    );
    assert!(yield_until(|| ops_in_flight() == base).await);

    // The runtime, the file and the pool work as before.
    let mut reads = file.read_many(reqs(&pool), 4);
    let mut answered = 0;
    while let Some((i, (res, buf))) = reads.next().await {
        let at = i * (32 << 10);
        assert_eq!(res.unwrap(), 16 << 10);
        assert!(buf[..] == data[at..at + (16 << 10)], "read {i}");
        answered += 1;
    }
    assert_eq!(answered, 8);
    drop(reads);
    assert_eq!(pool.available(), 8);
}

#[runtime::test]
async fn readv_exact_at_fills_every_buffer() {
    let data = pattern(64 << 10, 6);
    let tmp = TargetFile::new("fs_read_many", "readv", &data);
    let file = File::open(&tmp.0).await.unwrap();
    let bufs = vec![
        Vec::with_capacity(1000),
        vec![0xAA; 5000],
        Vec::new(), // nothing to fill
        Vec::with_capacity(3000),
    ];
    let caps: Vec<usize> = bufs.iter().map(Vec::capacity).collect();
    let (res, bufs) = file.readv_exact_at(bufs, 12_345).await;
    res.unwrap();
    let mut at = 12_345;
    for (buf, cap) in bufs.iter().zip(caps) {
        assert_eq!(buf.len(), cap);
        assert!(buf[..] == data[at..at + cap], "buffer at {at}");
        at += cap;
    }

    let (res, bufs) = file.readv_exact_at(Vec::<Vec<u8>>::new(), 0).await;
    assert!(res.is_ok() && bufs.is_empty());
    let bufs = vec![Vec::<u8>::with_capacity(8), Vec::with_capacity(8)];
    let (res, bufs) = file.readv_exact_at(bufs, u64::MAX).await;
    assert_eq!(res.unwrap_err().kind(), ErrorKind::InvalidInput);
    assert!(bufs.len() == 2 && bufs.iter().all(|b| b.capacity() >= 8));
}

#[runtime::test]
async fn readv_exact_at_past_the_end_is_unexpected_eof_with_the_buffers_back() {
    let data = pattern(10, 7);
    let tmp = TargetFile::new("fs_read_many", "readv-eof", &data);
    let file = File::open(&tmp.0).await.unwrap();
    let three = || {
        (0..3)
            .map(|_| Vec::<u8>::with_capacity(4))
            .collect::<Vec<_>>()
    };

    // Ends in the third buffer: the first two full, the third partly.
    let (res, bufs) = file.readv_exact_at(three(), 0).await;
    assert_eq!(res.unwrap_err().kind(), ErrorKind::UnexpectedEof);
    assert_eq!(bufs, [&data[0..4], &data[4..8], &data[8..10]]);
    // Ends exactly between buffers.
    let (res, bufs) = file.readv_exact_at(three(), 2).await;
    assert_eq!(res.unwrap_err().kind(), ErrorKind::UnexpectedEof);
    assert_eq!(bufs, [&data[2..6], &data[6..10], &[][..]]);
    assert!(bufs.iter().all(|b| b.capacity() >= 4));
    // Exactly to the end is no error.
    let mut two = three();
    two.pop();
    let (res, bufs) = file.readv_exact_at(two, 2).await;
    res.unwrap();
    assert_eq!(bufs, [&data[2..6], &data[6..10]]);
}

/// A `/proc` file longer than a page: the kernel's `seq_file` answers a
/// read with at most about a page, however large the buffer.
const SHORT_READS: &str = "/proc/kallsyms";

#[runtime::test]
async fn readv_exact_at_continues_after_short_reads() {
    // The oracle: std reads until each buffer is full.
    let std_file = match std::fs::File::open(SHORT_READS) {
        Ok(f) => f,
        Err(e) => return eprintln!("skipped: {SHORT_READS}: {e}"),
    };
    let mut probe = vec![0u8; 16 << 10];
    let n = std_file.read_at(&mut probe, 1000).unwrap();
    if n == 0 || n == probe.len() {
        return eprintln!("skipped: {SHORT_READS} gave {n} of {} bytes", probe.len());
    }
    let mut want = vec![0u8; 15_000];
    std_file.read_exact_at(&mut want, 1000).unwrap();

    let file = File::open(SHORT_READS).await.unwrap();
    let sizes = [3000, 5000, 7000];
    let bufs: Vec<Vec<u8>> = sizes.iter().map(|&n| Vec::with_capacity(n)).collect();
    let before = runtime::metrics()[0].ops_submitted;
    let (res, bufs) = file.readv_exact_at(bufs, 1000).await;
    let reads = runtime::metrics()[0].ops_submitted - before;
    res.unwrap();
    assert!(
        reads >= 2,
        "a single read filled 15000 bytes: no short read to continue after"
    );
    assert_eq!(bufs.concat(), want, "after {reads} reads");
    assert_eq!(bufs.iter().map(Vec::len).collect::<Vec<_>>(), sizes);
}
