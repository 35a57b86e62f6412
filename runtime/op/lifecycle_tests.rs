//! Lifecycle under stress, on both drivers: ops dropped at random moments
//! never free a buffer the kernel still holds, small rings never hang, and
//! and receive-side ops wait for readiness without the kernel holding them.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::tests::pipe;
use super::*;
use crate::buf::{IoBuf, IoBufMut};

/// What the test knows about every tracked buffer.
#[derive(Default)]
struct Ledger {
    /// Buffers dropped so far, by id, with the bytes the kernel wrote into them.
    dropped: RefCell<HashMap<u64, usize>>,
    /// Next id.
    next: Cell<u64>,
}

/// A buffer that records its own drop.
struct TrackedBuf {
    data: Vec<u8>,
    id: u64,
    ledger: Rc<Ledger>,
}

impl TrackedBuf {
    fn new(ledger: &Rc<Ledger>, cap: usize) -> Self {
        let id = ledger.next.get();
        ledger.next.set(id + 1);
        TrackedBuf {
            data: Vec::with_capacity(cap),
            id,
            ledger: ledger.clone(),
        }
    }
}

impl Drop for TrackedBuf {
    fn drop(&mut self) {
        let prev = self
            .ledger
            .dropped
            .borrow_mut()
            .insert(self.id, self.data.len());
        assert!(prev.is_none(), "buffer {} dropped twice", self.id);
    }
}

// SAFETY: delegates to the Vec, whose heap block does not move with the struct.
unsafe impl IoBuf for TrackedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.data.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.data.len()
    }
    fn bytes_total(&self) -> usize {
        self.data.capacity()
    }
}

// SAFETY: as above.
unsafe impl IoBufMut for TrackedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.data.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        // SAFETY: the caller guarantees the first `pos` bytes are initialised.
        unsafe { self.data.set_init(pos) };
    }
}

/// Polls `fut` exactly once with a no-op waker.
fn poll_once<F: Future + Unpin>(fut: &mut F) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(std::task::Waker::noop()))
}

/// xorshift: deterministic "random moments" without a dependency.
fn rng(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[crate::test]
async fn dropping_100k_reads_at_random_moments_never_frees_a_held_buffer() {
    const PIPES: usize = 32;
    const TOTAL: usize = 100_000;
    const BATCH: usize = 500;
    let ledger = Rc::new(Ledger::default());
    let pipes: Vec<_> = (0..PIPES).map(|_| pipe(true)).collect();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut written = 0usize;
    let mut ids_in_kernel = Vec::new();
    let mut done = 0;
    while done < TOTAL {
        let mut ops: Vec<_> = (0..BATCH)
            .map(|i| {
                let buf = TrackedBuf::new(&ledger, 16);
                (buf.id, Op::read(&pipes[(done + i) % PIPES].0, buf))
            })
            .collect();
        for (i, (id, op)) in ops.iter_mut().enumerate() {
            match rng(&mut seed) % 3 {
                0 => {} // dropped before it was ever polled
                _ => {
                    if poll_once(op).is_ready() {
                        *id = u64::MAX; // completed; nothing held
                    }
                }
            }
            if rng(&mut seed) % 4 == 0 {
                let (n, _) = Op::write(&pipes[(done + i) % PIPES].1, b"xy".to_vec()).await;
                written += n.unwrap();
            }
        }
        // Let the submissions reach the kernel, then drop them at once.
        crate::task::yield_now().await;
        for (id, mut op) in ops {
            if id != u64::MAX && rng(&mut seed) % 2 == 0 && poll_once(&mut op).is_ready() {
                continue;
            }
            let in_kernel = id != u64::MAX && crate::driver_kind() == crate::DriverKind::Uring;
            drop(op);
            if in_kernel && !ledger.dropped.borrow().contains_key(&id) {
                ids_in_kernel.push(id);
            }
        }
        done += BATCH;
    }
    // Whatever is still queued in the kernel now sees data arrive.
    for (_, w) in &pipes {
        let (n, _) = Op::write(w, vec![b'z'; 64]).await;
        written += n.unwrap();
    }
    for _ in 0..1000 {
        if crate::metrics()[0].ops_in_flight == 0 {
            break;
        }
        crate::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    assert_eq!(crate::metrics()[0].ops_in_flight, 0, "every slot is freed");
    // Every byte written is in a tracked buffer (each records its bytes when
    // dropped, whether returned or orphaned) or still in a pipe.
    let tracked: usize = ledger.dropped.borrow().values().sum::<usize>();
    let mut left = 0;
    for (r, _) in &pipes {
        loop {
            let (res, buf) = Op::read(r, vec![0u8; 4096])
                .timeout(std::time::Duration::from_millis(5))
                .await;
            match res {
                Ok(n) if n > 0 => left += buf[..n].len(),
                _ => break,
            }
        }
    }
    assert_eq!(written, tracked + left, "no byte went into a freed buffer");
    for id in ids_in_kernel {
        assert!(
            ledger.dropped.borrow().contains_key(&id),
            "orphan {id} was never freed"
        );
    }
    assert_eq!(
        ledger.dropped.borrow().len() as u64,
        ledger.next.get(),
        "every buffer dropped once"
    );
}

/// Fills the pipe behind `w` with a plain non-blocking write loop.
fn fill_pipe(w: &SharedFd) -> usize {
    let chunk = [0u8; 4096];
    let mut filled = 0;
    loop {
        // SAFETY: writes from a local buffer to the open pipe; MSG-free, so
        // a full pipe returns EAGAIN (the fd is non-blocking).
        let n = unsafe { libc::write(w.raw(), chunk.as_ptr().cast(), chunk.len()) };
        if n <= 0 {
            return filled;
        }
        filled += n as usize;
    }
}

#[crate::test]
async fn in_flight_buffer_outlives_its_dropped_future() {
    // A write into a full pipe is an op the kernel holds (on io_uring) until
    // the reader makes room: its buffer must outlive the dropped future.
    let ledger = Rc::new(Ledger::default());
    let (r, w, filled) = full_pipe();
    let mut buf = TrackedBuf::new(&ledger, 8);
    buf.data.extend_from_slice(b"late one");
    let mut op = Op::write(&w, buf);
    assert!(poll_once(&mut op).is_pending());
    crate::task::yield_now().await; // submitted to the kernel now
    drop(op);
    if crate::driver_kind() == crate::DriverKind::Uring {
        assert!(
            ledger.dropped.borrow().is_empty(),
            "the kernel still holds the buffer"
        );
    }
    // Make room: the kernel finishes (or cancels) the write and lets go.
    let mut drained = 0;
    while drained < filled {
        let (n, _) = Op::read(&r, vec![0u8; 65536]).await;
        drained += n.unwrap();
    }
    for _ in 0..1000 {
        if !ledger.dropped.borrow().is_empty() {
            break;
        }
        crate::task::yield_now().await;
    }
    assert_eq!(
        ledger.dropped.borrow().len(),
        1,
        "freed once the kernel let go"
    );
}

#[crate::test(entries = 4)]
async fn ten_thousand_ops_on_a_four_entry_ring() {
    let tasks: Vec<_> = (0..10_000)
        .map(|_| crate::spawn(async { Op::nop().await }))
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let (r, w) = pipe(true);
    let r = Rc::new(r);
    let readers: Vec<_> = (0..2_000)
        .map(|_| {
            let r = r.clone();
            crate::spawn(async move { Op::read(&r, vec![0u8; 1]).await.0 })
        })
        .collect();
    crate::task::yield_now().await;
    let (n, _) = Op::write(&w, vec![1u8; 2_000]).await;
    assert_eq!(n.unwrap(), 2_000);
    for t in readers {
        assert_eq!(t.await.unwrap().unwrap(), 1);
    }
    let m = &crate::metrics()[0];
    if m.driver == crate::DriverKind::Uring {
        assert!(m.sq_full_waits > 0, "a 4-entry ring must have filled up");
    }
}

#[test]
fn shutdown_with_reads_in_flight_reaps_them_and_frees_every_buffer() {
    for (kind, rt) in runtimes() {
        let ledger = Rc::new(Ledger::default());
        let pipes: Vec<_> = (0..8).map(|_| pipe(true)).collect();
        rt.block_on(async {
            for (r, _) in &pipes {
                for _ in 0..16 {
                    let (r, buf) = (r.clone(), TrackedBuf::new(&ledger, 8));
                    drop(crate::spawn(async move { Op::read(&r, buf).await }));
                }
            }
            crate::task::yield_now().await; // the reads reach the kernel
            crate::task::yield_now().await;
        });
        assert!(
            ledger.dropped.borrow().is_empty(),
            "[{kind}] reads still pending"
        );
        drop(rt);
        assert_eq!(
            ledger.dropped.borrow().len(),
            128,
            "[{kind}] shutdown cancelled, reaped and freed every read"
        );
    }
}

#[test]
fn shutdown_with_writes_in_flight_frees_every_buffer_once() {
    // Writes into a full pipe: on io_uring the kernel holds them, run in
    // place (their futures keep the op); dropping the tasks at shutdown moves
    // each op into its slot, cancelled, reaped and freed exactly once.
    for (kind, rt) in runtimes() {
        let ledger = Rc::new(Ledger::default());
        let (_r, w, _) = full_pipe();
        let w = Rc::new(w);
        rt.block_on(async {
            for _ in 0..16 {
                let mut buf = TrackedBuf::new(&ledger, 8);
                buf.data.extend_from_slice(b"in place");
                let w = w.clone();
                drop(crate::spawn(async move { Op::write(&w, buf).await }));
            }
            crate::task::yield_now().await; // the writes reach the kernel
            crate::task::yield_now().await;
        });
        if kind == crate::DriverKind::Uring {
            assert!(
                ledger.dropped.borrow().is_empty(),
                "[{kind}] the kernel holds every write"
            );
        }
        drop(rt);
        assert_eq!(
            ledger.dropped.borrow().len(),
            16,
            "[{kind}] shutdown cancelled, reaped and freed every write"
        );
    }
}

// io_uring only: only its kernel holds ops in place (epoll's pipe writes
// wait for readiness in their future, which frees them as any value).
#[test]
fn an_in_place_op_outliving_its_runtime_is_leaked_not_freed() {
    let rt = match crate::Builder::new()
        .driver(crate::DriverKind::Uring)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return eprintln!("skipped: {e}"),
    };
    let ledger = Rc::new(Ledger::default());
    let (_r, w, _) = full_pipe();
    // Returned from `block_on` inside a `Vec`, as the value it is (not awaited).
    let op = rt.block_on(async {
        let mut op = Op::write(&w, TrackedBuf::new(&ledger, 8));
        assert!(poll_once(&mut op).is_pending());
        crate::task::yield_now().await; // in the kernel now
        vec![op]
    });
    drop(rt);
    // No driver can take it any more: the buffer must not be freed.
    drop(op);
    assert!(ledger.dropped.borrow().is_empty(), "leaked, never freed");
}

/// A runtime on each driver (io_uring skipped, with a message, where the
/// kernel refuses it).
fn runtimes() -> Vec<(crate::DriverKind, crate::Runtime)> {
    [crate::DriverKind::Uring, crate::DriverKind::Epoll]
        .into_iter()
        .filter_map(|kind| match crate::Builder::new().driver(kind).build() {
            Ok(rt) => Some((kind, rt)),
            Err(e) if kind == crate::DriverKind::Uring => {
                eprintln!("skipped on io_uring: {e}");
                None
            }
            Err(e) => panic!("[{kind}] {e}"),
        })
        .collect()
}

/// A blocking pipe whose buffer is full (the bytes it took are returned
/// too): a write to it waits (in the kernel, on io_uring) until the reader
/// makes room.
fn full_pipe() -> (SharedFd, SharedFd, usize) {
    let (r, w) = pipe(false);
    // SAFETY: O_NONBLOCK only for the filling loop, then back to blocking so
    // io_uring waits for room instead of failing the write with EAGAIN.
    unsafe { libc::fcntl(w.raw(), libc::F_SETFL, libc::O_NONBLOCK) };
    let filled = fill_pipe(&w);
    // SAFETY: as above; no pointers are passed.
    unsafe { libc::fcntl(w.raw(), libc::F_SETFL, 0) };
    (r, w, filled)
}
