//! Unit tests of the op slots (`lifecycle.rs`) without a runtime or a ring:
//! each lifecycle path (completed then taken, dropped in the kernel then
//! freed at the final completion, in-place ops adopted, two-step zero-copy
//! completions, shutdown), checked by when the op is dropped and how often.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use io_uring::{opcode, squeue};

use super::lifecycle::{Ops, Orphaned, Reaped};
use super::operation::{Attempt, Operation};

/// An op that counts its drops, so a test sees when its memory is released
/// (`releases_tests.rs` uses it too).
pub(super) struct Probe(pub(super) Arc<AtomicUsize>);

impl Drop for Probe {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

// SAFETY: a NOP entry carries no pointers.
unsafe impl Operation for Probe {
    type Output = io::Result<u32>;

    fn uring_entry(&mut self) -> squeue::Entry {
        opcode::Nop::new().build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        Attempt::Done(Ok(0))
    }

    fn complete(self, res: io::Result<u32>) -> Self::Output {
        res
    }
}

/// An op of another type, for the checked downcast.
struct Other;

// SAFETY: a NOP entry carries no pointers.
unsafe impl Operation for Other {
    type Output = ();

    fn uring_entry(&mut self) -> squeue::Entry {
        opcode::Nop::new().build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        Attempt::Done(Ok(0))
    }

    fn complete(self, _: io::Result<u32>) {}
}

/// A waker that counts its wakes.
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

fn waker() -> (Arc<Count>, Waker) {
    let count = Arc::new(Count(AtomicUsize::new(0)));
    (count.clone(), Waker::from(count))
}

fn probe() -> (Arc<AtomicUsize>, Probe) {
    let drops = Arc::new(AtomicUsize::new(0));
    (drops.clone(), Probe(drops))
}

#[test]
fn a_completed_op_wakes_its_future_and_is_taken_whole() {
    let mut ops = Ops::default();
    let (drops, op) = probe();
    let (wakes, w) = waker();
    let boxed = ops.boxed(op);
    let key = ops.insert(boxed, w.clone());
    let mut cx = Context::from_waker(&w);
    assert!(ops.poll_done(key, &mut cx).is_pending());

    match ops.complete(key, Ok(7)) {
        Reaped::Wake(w) => w.wake(),
        _ => panic!("a waited-for op must wake its future"),
    }
    assert_eq!(wakes.0.load(SeqCst), 1);
    assert!(ops.poll_done(key, &mut cx).is_ready());
    let (op, res) = ops.take::<Probe>(key);
    assert_eq!(res.unwrap(), 7);
    assert_eq!(drops.load(SeqCst), 0, "the op came back, not freed");
    drop(op);
    assert_eq!(drops.load(SeqCst), 1);
    assert_eq!(ops.len(), 0);
}

#[test]
fn an_op_dropped_in_the_kernel_lives_until_its_final_completion() {
    let mut ops = Ops::default();
    let (drops, op) = probe();
    let (_, w) = waker();
    let boxed = ops.boxed(op);
    let key = ops.insert(boxed, w);

    assert!(matches!(ops.orphan(key), Orphaned::Cancel));
    assert_eq!(drops.load(SeqCst), 0, "freed while the kernel holds it");
    assert_eq!(ops.in_kernel_keys(), vec![key]);

    let Reaped::Free(finished) =
        ops.complete(key, Err(io::Error::from_raw_os_error(libc::ECANCELED)))
    else {
        panic!("the final completion of an orphan must free it");
    };
    assert_eq!(drops.load(SeqCst), 0, "freed only when discarded");
    assert!(
        !finished.discard(),
        "a plain op's output is dropped, not adopted"
    );
    assert_eq!(drops.load(SeqCst), 1, "freed once");
    assert_eq!(ops.len(), 0);
}

#[test]
fn an_op_dropped_after_its_completion_is_freed_at_once() {
    let mut ops = Ops::default();
    let (drops, op) = probe();
    let (_, w) = waker();
    let boxed = ops.boxed(op);
    let key = ops.insert(boxed, w);
    assert!(matches!(ops.complete(key, Ok(1)), Reaped::Wake(_)));
    let Orphaned::Free(finished) = ops.orphan(key) else {
        panic!("a done op dropped by its future is finished");
    };
    finished.discard();
    assert_eq!(drops.load(SeqCst), 1);
    assert!(
        matches!(ops.orphan(key), Orphaned::Gone),
        "the slot is gone"
    );
}

#[test]
fn an_in_place_op_is_adopted_only_while_the_kernel_holds_it() {
    let mut ops = Ops::default();
    let (_, w) = waker();
    let mut cx = Context::from_waker(&w);

    // Dropped in the kernel: the slot takes it and frees it at the end.
    let (drops, op) = probe();
    let key = ops.insert_in_place(w.clone());
    assert!(ops.poll_result(key, &mut cx).is_pending());
    assert!(matches!(ops.adopt(key, Box::new(op)), Orphaned::Cancel));
    assert_eq!(drops.load(SeqCst), 0);
    let Reaped::Free(finished) = ops.complete(key, Ok(0)) else {
        panic!("an adopted op is freed at its final completion");
    };
    finished.discard();
    assert_eq!(drops.load(SeqCst), 1);

    // Dropped after its completion: handed straight back.
    let (drops, op) = probe();
    let key = ops.insert_in_place(w.clone());
    assert!(matches!(ops.complete(key, Ok(3)), Reaped::Wake(_)));
    let Orphaned::Free(finished) = ops.adopt(key, Box::new(op)) else {
        panic!("a done in-place op is finished at once");
    };
    finished.discard();
    assert_eq!(drops.load(SeqCst), 1);

    // Polled to the end by its future: the result, and the slot is gone.
    let key = ops.insert_in_place(w.clone());
    assert!(matches!(ops.complete(key, Ok(5)), Reaped::Wake(_)));
    assert!(matches!(ops.poll_result(key, &mut cx), Poll::Ready(Ok(5))));
    assert_eq!(ops.len(), 0);
}

#[test]
fn a_two_step_completion_keeps_the_first_result_for_the_notification() {
    let mut ops = Ops::default();
    let (_, w) = waker();
    let key = ops.insert_in_place(w);
    assert_eq!(ops.release_held(key), None, "nothing held yet: stale");
    ops.hold(key, 4096);
    assert_eq!(ops.release_held(key), Some(4096));
    assert_eq!(ops.release_held(key), None, "released once");
    ops.hold(key + 1000, 1); // an unknown slot: ignored, no panic
}

#[test]
fn a_stale_completion_is_ignored() {
    let mut ops = Ops::default();
    assert!(matches!(ops.complete(12, Ok(0)), Reaped::Stored));
}

#[test]
fn shutdown_orphans_every_slot_and_frees_the_finished_ones() {
    let mut ops = Ops::default();
    let (_, w) = waker();
    let (done_drops, done) = probe();
    let (held_drops, held) = probe();
    let boxed = ops.boxed(done);
    let done_key = ops.insert(boxed, w.clone());
    let boxed = ops.boxed(held);
    let held_key = ops.insert(boxed, w);
    assert!(matches!(ops.complete(done_key, Ok(0)), Reaped::Wake(_)));

    let finished = ops.orphan_all();
    assert_eq!(finished.len(), 1, "only the completed op is finished");
    finished.into_iter().for_each(|f| {
        f.discard();
    });
    assert_eq!(done_drops.load(SeqCst), 1);
    assert_eq!(held_drops.load(SeqCst), 0, "the kernel still holds it");
    assert_eq!(ops.in_kernel_keys(), vec![held_key]);

    let Reaped::Free(finished) = ops.complete(held_key, Ok(0)) else {
        panic!("the held op is freed at its final completion");
    };
    finished.discard();
    assert_eq!(held_drops.load(SeqCst), 1);
}

#[test]
fn taking_a_slot_as_another_type_panics_instead_of_casting() {
    let mut ops = Ops::default();
    let (drops, op) = probe();
    let (_, w) = waker();
    let boxed = ops.boxed(op);
    let key = ops.insert(boxed, w);
    assert!(matches!(ops.complete(key, Ok(0)), Reaped::Wake(_)));
    let taken = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        drop(ops.take::<Other>(key));
    }));
    let msg = taken.expect_err("a wrong type must not be cast");
    let msg = msg.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(msg.contains("another type of operation"), "{msg}");
    assert_eq!(
        drops.load(SeqCst),
        1,
        "the op was dropped, not leaked or cast"
    );
}
