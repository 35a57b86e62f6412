//! The receive protocol's state machine, without a runtime: completions
//! queue in order, reads take across chunks and give buffers back once,
//! back-pressure asks for a cancel once, `ENOBUFS` is data waiting, a
//! closed side frees what arrives, and adopted results queue for the next read.

use std::sync::{Arc, Weak};
use std::task::Waker;

use super::*;

/// The worker of a made-up driver.
fn at() -> Weak<Unpark> {
    Weak::new()
}

/// A multishot receive completion of `n` bytes into buffer `bid`.
fn data(n: i32, bid: u16) -> Completion {
    Completion {
        res: n,
        more: true,
        bid: Some(bid),
    }
}

/// What an armed multishot keeps (a descriptor, in the runtime).
#[derive(Debug)]
struct Kept;
impl Owner for Kept {}

/// A side with a multishot receive armed, lending buffers of `pool`.
fn armed(pool: &Arc<PoolMemory>) -> RecvSide {
    let mut side = RecvSide::default();
    side.arm(at(), Multishot::Recv, Some(pool), Arc::new(Kept));
    side
}

/// Limits large enough not to matter.
const ROOMY: (usize, usize) = (1 << 20, 1 << 20);

/// Reads up to `len` bytes, collecting the buffers given back.
fn read(side: &mut RecvSide, len: usize, freed: &mut Vec<u16>) -> Take<io::Result<Vec<u8>>> {
    let mut buf = vec![0u8; len];
    // SAFETY: `buf` has room for `len` bytes.
    let took =
        unsafe { side.take_bytes(buf.as_mut_ptr(), len, false, &mut |_, bid| freed.push(bid)) };
    match took {
        Take::Got(Ok(n)) => {
            buf.truncate(n);
            Take::Got(Ok(buf))
        }
        Take::Got(Err(e)) => Take::Got(Err(e)),
        Take::Empty => Take::Empty,
    }
}

fn got(t: Take<io::Result<Vec<u8>>>) -> Vec<u8> {
    match t {
        Take::Got(Ok(v)) => v,
        Take::Got(Err(e)) => panic!("error: {e}"),
        Take::Empty => panic!("empty"),
    }
}

#[test]
fn completions_queue_in_order_and_reads_take_across_chunks() {
    let pool = PoolMemory::for_tests(4, 16);
    let mut side = armed(&pool);
    pool.fill_for_tests(2, b"hello ");
    pool.fill_for_tests(0, b"world");
    let mut woken = Vec::new();
    for c in [data(6, 2), data(5, 0)] {
        let r = side.multishot_cqe(c, ROOMY, &mut woken);
        assert!(r.ended.is_none() && !r.cancel && r.give_back.is_none());
    }
    assert!(side.ready());
    let mut freed = Vec::new();
    // A read smaller than the first chunk takes part of it and frees nothing.
    assert_eq!(got(read(&mut side, 4, &mut freed)), b"hell");
    assert!(freed.is_empty());
    // The next one spans the rest of both chunks, freeing each buffer once.
    assert_eq!(got(read(&mut side, 64, &mut freed)), b"o world");
    assert_eq!(freed, vec![2, 0]);
    assert!(matches!(read(&mut side, 64, &mut freed), Take::Empty));
    assert_eq!(freed, vec![2, 0]);
}

#[test]
fn a_peek_leaves_the_bytes_for_the_next_read() {
    let pool = PoolMemory::for_tests(4, 16);
    let mut side = armed(&pool);
    pool.fill_for_tests(1, b"abc");
    pool.fill_for_tests(3, b"def");
    side.multishot_cqe(data(3, 1), ROOMY, &mut Vec::new());
    side.multishot_cqe(data(3, 3), ROOMY, &mut Vec::new());
    let mut buf = [0u8; 8];
    let mut freed = Vec::new();
    // SAFETY: `buf` has room for 8 bytes.
    let peeked = unsafe { side.take_bytes(buf.as_mut_ptr(), 8, true, &mut |_, b| freed.push(b)) };
    assert!(matches!(peeked, Take::Got(Ok(6))));
    assert_eq!(&buf[..6], b"abcdef");
    assert!(freed.is_empty(), "a peek frees nothing");
    assert_eq!(got(read(&mut side, 8, &mut freed)), b"abcdef");
    assert_eq!(freed, vec![1, 3]);
}

#[test]
fn end_of_stream_is_sticky_and_an_error_is_reported_once() {
    let pool = PoolMemory::for_tests(4, 16);
    let mut side = armed(&pool);
    pool.fill_for_tests(0, b"last");
    side.multishot_cqe(data(4, 0), ROOMY, &mut Vec::new());
    let eof = Completion {
        res: 0,
        more: false,
        bid: None,
    };
    let r = side.multishot_cqe(eof, ROOMY, &mut Vec::new());
    assert!(r.ended.is_some(), "the multishot let go of its descriptor");
    assert!(matches!(side.kernel, Kernel::Idle));
    let mut freed = Vec::new();
    // The bytes come first, then end of stream, then end of stream again.
    assert_eq!(got(read(&mut side, 64, &mut freed)), b"last");
    assert_eq!(got(read(&mut side, 64, &mut freed)), b"");
    assert_eq!(got(read(&mut side, 64, &mut freed)), b"");
    assert!(side.ready(), "readable() is ready at end of stream");

    let mut side = armed(&pool);
    let reset = Completion {
        res: -libc::ECONNRESET,
        more: false,
        bid: None,
    };
    side.multishot_cqe(reset, ROOMY, &mut Vec::new());
    match read(&mut side, 8, &mut freed) {
        Take::Got(Err(e)) => assert_eq!(e.raw_os_error(), Some(libc::ECONNRESET)),
        _ => panic!("the error is reported"),
    }
    assert!(
        matches!(read(&mut side, 8, &mut freed), Take::Empty),
        "once"
    );
}

#[test]
fn a_full_queue_asks_for_one_cancel_and_the_last_completion_idles() {
    let pool = PoolMemory::for_tests(8, 16);
    let mut side = armed(&pool);
    let mut woken = Vec::new();
    let r = side.multishot_cqe(data(10, 0), (16, 16), &mut woken);
    assert!(!r.cancel, "below the limit");
    let r = side.multishot_cqe(data(10, 1), (16, 16), &mut woken);
    assert!(
        r.cancel && r.ended.is_none(),
        "the limit reached: cancel, once"
    );
    let r = side.multishot_cqe(data(10, 2), (16, 16), &mut woken);
    assert!(!r.cancel, "already stopping");
    // Bytes in flight still queue; the cancel's completion ends it.
    let cancelled = Completion {
        res: -libc::ECANCELED,
        more: false,
        bid: None,
    };
    let r = side.multishot_cqe(cancelled, (16, 16), &mut woken);
    assert!(r.ended.is_some() && !r.cancel);
    assert!(matches!(side.kernel, Kernel::Idle));
    let mut freed = Vec::new();
    assert_eq!(got(read(&mut side, 64, &mut freed)).len(), 30);
}

#[test]
fn no_buffer_is_data_waiting_not_an_error() {
    let pool = PoolMemory::for_tests(2, 16);
    let mut side = armed(&pool);
    let enobufs = Completion {
        res: -libc::ENOBUFS,
        more: false,
        bid: None,
    };
    let r = side.multishot_cqe(enobufs, ROOMY, &mut Vec::new());
    assert!(r.ended.is_some());
    assert!(matches!(side.kernel, Kernel::Idle));
    assert!(side.ready(), "readable() is ready: the kernel has bytes");
    let mut freed = Vec::new();
    assert!(
        matches!(read(&mut side, 8, &mut freed), Take::Empty),
        "nothing queued"
    );
    // A one-shot announced and taken back leaves the mark; one that ran
    // (it received what was waiting) clears it.
    side.start_oneshot(at());
    side.unstart();
    assert!(side.ready(), "still waiting");
    side.start_oneshot(at());
    side.oneshot_done(&mut Vec::new());
    assert!(!side.ready());
}

#[test]
fn readers_are_woken_by_each_completion() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    struct Count(AtomicUsize);
    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(count.clone());
    let pool = PoolMemory::for_tests(4, 16);
    let mut side = armed(&pool);
    side.wait(&waker);
    side.wait(&waker); // the same waker once
    let mut woken = Vec::new();
    side.multishot_cqe(data(1, 0), ROOMY, &mut woken);
    assert_eq!(woken.len(), 1);
    woken.drain(..).for_each(Waker::wake);
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    side.multishot_cqe(data(1, 1), ROOMY, &mut woken);
    assert!(woken.is_empty(), "nobody waits any more");
}

#[test]
fn a_closed_side_frees_what_it_held_and_what_arrives() {
    let pool = PoolMemory::for_tests(4, 16);
    let mut side = armed(&pool);
    side.multishot_cqe(data(3, 2), ROOMY, &mut Vec::new());
    let closed = side.close(0x1000);
    assert!(matches!(closed.chunks[..], [Chunk::Pooled { bid: 2, .. }]));
    let cancel = closed.cancel.map(|(_, user_data)| user_data);
    assert_eq!(
        cancel,
        Some(MULTISHOT_TAG | 0x1000),
        "cancel the multishot by its side"
    );
    // A completion in flight gives its buffer straight back, no second cancel.
    let r = side.multishot_cqe(data(5, 3), ROOMY, &mut Vec::new());
    assert_eq!(r.give_back, Some(3));
    assert!(!r.cancel, "the close already asked");
    let mut freed = Vec::new();
    match read(&mut side, 8, &mut freed) {
        Take::Got(Err(e)) => assert_eq!(e.raw_os_error(), Some(libc::EBADF)),
        _ => panic!("a read of a closed side fails"),
    }
    // An adopted result after the close is dropped too.
    side.adopt(Some(Chunk::Eof), &mut Vec::new());
    assert!(matches!(
        side.take_chunk(),
        Take::Got(Chunk::Err(libc::EBADF))
    ));
}

#[test]
fn an_adopted_result_queues_for_the_next_read_and_idles_the_side() {
    let mut side = RecvSide::default();
    side.start_oneshot(at());
    assert!(!side.oneshot_key(9), "not closed: nothing to cancel");
    let bytes = Chunk::Bytes {
        data: b"adopted".to_vec().into(),
        start: 0,
    };
    side.adopt(Some(bytes), &mut Vec::new());
    assert!(matches!(side.kernel, Kernel::Idle));
    let mut freed = Vec::new();
    assert_eq!(got(read(&mut side, 3, &mut freed)), b"ado");
    assert_eq!(got(read(&mut side, 30, &mut freed)), b"pted");
    // A one-shot whose side was closed before its key came is cancelled.
    side.start_oneshot(at());
    let _ = side.close(0x1000);
    assert!(side.oneshot_key(11));
}

#[test]
fn accepted_connections_queue_up_to_the_limit() {
    let mut side = RecvSide::default();
    side.arm(at(), Multishot::Accept, None, Arc::new(Kept));
    let mut woken = Vec::new();
    for i in 0..3 {
        let fd = std::fs::File::open("/dev/null").unwrap();
        let conn = Completion {
            res: std::os::fd::IntoRawFd::into_raw_fd(fd),
            more: true,
            bid: None,
        };
        let r = side.multishot_cqe(conn, (1 << 20, 2), &mut woken);
        assert_eq!(r.cancel, i == 1, "the second connection fills the queue");
    }
    for _ in 0..3 {
        assert!(matches!(side.take_chunk(), Take::Got(Chunk::Conn(_))));
    }
    assert!(matches!(side.take_chunk(), Take::Empty));
}

#[test]
fn a_side_stays_small() {
    // Every socket read on io_uring has one: C10K memory depends on it.
    assert!(std::mem::size_of::<super::super::side_lock::SideLock<RecvSide>>() <= 104);
    assert!(std::mem::size_of::<Source>() <= 16);
}

#[test]
fn a_side_made_after_its_source_closed_is_closed() {
    let source = Source::default();
    assert!(source.close().is_none(), "no side yet: nothing to close");
    // A read that comes late makes the side: closed from the start.
    assert!(source.lock().is_closed());
    // A side made before the close is closed by it.
    let source = Source::default();
    assert!(!source.lock().is_closed());
    let (mut side, addr) = source.close().expect("the side was made");
    assert_eq!(addr, source.side_addr());
    side.close(addr);
    drop(side);
    assert!(source.lock().is_closed());
}

#[test]
fn a_side_made_while_its_source_closes_is_closed_either_way() {
    // The two steps race: whichever order they take, the side ends closed.
    for _ in 0..200 {
        let source = Arc::new(Source::default());
        let closer = {
            let source = source.clone();
            std::thread::spawn(move || {
                if let Some((mut side, addr)) = source.close() {
                    side.close(addr);
                }
            })
        };
        let made = source.side_box().addr();
        closer.join().unwrap();
        assert_eq!(made, source.side_addr());
        assert!(source.lock().is_closed());
    }
}
