//! Unit tests of the release queue (`releases.rs`) and the registered-slot
//! handle that feeds it (`fixed_tables.rs`), without a runtime: nothing
//! released is lost, a waiting worker is always woken (seen through its
//! eventfd), a worker that does not turn is never waited for, and a queue
//! whose driver is gone refuses without freeing what a kernel may hold.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};

use super::emptied::Emptied;
use super::fixed_tables::FixedTables;
use super::id::DriverId;
use super::releases::{Adopted, HandBack, Release, Sent};
use super::slot_tests::Probe;
use super::unpark::Unpark;
use super::unpark_tests::take_count;

/// The outcome `done` was given so far, if any.
fn outcome(done: &Emptied) -> Option<Result<(), String>> {
    match done.poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(outcome) => Some(outcome),
        Poll::Pending => None,
    }
}

/// The receive cancels among `items`, as `(user_data, sid)`.
fn receives(items: Vec<Release>) -> Vec<(u64, u64)> {
    items
        .into_iter()
        .filter_map(|item| match item {
            Release::Receive { user_data, sid } => Some((user_data, sid)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_release_sent_before_the_wait_is_seen_by_the_worker() {
    let unpark = Unpark::new().unwrap();
    assert_eq!(
        unpark.send(
            Release::Receive {
                user_data: 1,
                sid: 7
            },
            || false
        ),
        Sent::Queued
    );
    assert_eq!(take_count(&unpark), None, "nobody waited: nothing to write");
    // The worker announces its wait, then looks (as `Driver::park` does).
    assert!(unpark.prepare_park());
    assert!(unpark.releases.pending(), "published before the look");
    assert_eq!(receives(unpark.releases.take()), vec![(1, 7)]);
    assert!(!unpark.releases.pending());
    assert!(unpark.releases.take().is_empty());
}

#[test]
fn a_release_sent_during_the_wait_writes_the_eventfd_once() {
    let unpark = Unpark::new().unwrap();
    assert!(unpark.prepare_park());
    assert!(!unpark.releases.pending());
    unpark.release(2, 8);
    unpark.release(3, 9);
    assert_eq!(take_count(&unpark), Some(1), "one wake-up, written once");
    unpark.unparked();
    assert_eq!(receives(unpark.releases.take()), vec![(2, 8), (3, 9)]);
}

#[test]
fn a_release_taken_on_the_owners_thread_wakes_nobody() {
    let unpark = Unpark::new().unwrap();
    assert!(unpark.prepare_park());
    let mut taken = Vec::new();
    let sent = unpark.send(
        Release::Receive {
            user_data: 4,
            sid: 1,
        },
        || {
            taken = unpark.releases.take();
            true
        },
    );
    assert_eq!(sent, Sent::TakenHere);
    assert_eq!(receives(taken), vec![(4, 1)], "published before `here` ran");
    assert_eq!(take_count(&unpark), None);
}

#[test]
fn no_release_is_lost_and_no_wait_outlives_one_across_threads() {
    const SENDERS: u64 = 4;
    const EACH: u64 = 5_000;
    let unpark = Arc::new(Unpark::new().unwrap());
    let start = Arc::new(Barrier::new(SENDERS as usize + 1));
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let (unpark, start) = (unpark.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                for n in 0..EACH {
                    unpark.release(n, sender);
                    // Let the worker catch up and wait now and then.
                    if n % 16 == 0 {
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    start.wait();
    // The worker's loop: announce the wait, look, wait only if nothing is
    // there. A wake-up the protocol lost leaves it waiting for good, which
    // the poll's timeout turns into a failure.
    let mut next = [0u64; SENDERS as usize];
    let mut seen = 0;
    while seen < SENDERS * EACH {
        if unpark.prepare_park() && !unpark.releases.pending() {
            let mut pfd = libc::pollfd {
                fd: unpark.raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: `pfd` is a valid pollfd for the call, naming the open eventfd.
            let n = unsafe { libc::poll(&mut pfd, 1, 20_000) };
            assert_eq!(
                n,
                1,
                "20 s without a wake-up: a release's wake-up was lost \
                 ({seen} seen, pending: {})",
                unpark.releases.pending()
            );
            let _ = take_count(&unpark);
        }
        unpark.unparked();
        for (user_data, sender) in receives(unpark.releases.take()) {
            assert_eq!(user_data, next[sender as usize], "out of order or lost");
            next[sender as usize] += 1;
            seen += 1;
        }
    }
    for sender in senders {
        sender.join().unwrap();
    }
    assert!(unpark.releases.take().is_empty(), "nothing twice");
}

#[test]
fn a_file_released_while_its_worker_turns_waits_for_its_slot() {
    let unpark = Arc::new(Unpark::new().unwrap());
    let tables = FixedTables::new(DriverId::next(), unpark.clone(), |_| false);
    unpark.set_active(true);
    assert!(unpark.prepare_park());
    let done = Emptied::new();
    tables.release_file(5, Some(done.clone()));
    assert_eq!(take_count(&unpark), Some(1), "the owner is woken");
    assert_eq!(outcome(&done), None, "not emptied yet");
    let items = unpark.releases.take();
    assert!(matches!(items.as_slice(), [Release::File { slot: 5, .. }]));
}

#[test]
fn a_worker_that_does_not_turn_is_not_waited_for_yet_empties_the_slot_later() {
    let unpark = Arc::new(Unpark::new().unwrap());
    let tables = FixedTables::new(DriverId::next(), unpark.clone(), |_| false);
    let done = Emptied::new();
    tables.release_file(6, Some(done.clone()));
    let told = outcome(&done).expect("told at once");
    assert!(told.unwrap_err().contains("not running"));
    // Still queued, for the worker's next turn.
    let items = unpark.releases.take();
    assert!(matches!(items.as_slice(), [Release::File { slot: 6, .. }]));
}

#[test]
fn a_worker_that_stops_turning_takes_what_was_queued_before() {
    let unpark = Arc::new(Unpark::new().unwrap());
    let tables = FixedTables::new(DriverId::next(), unpark.clone(), |_| false);
    unpark.set_active(true);
    let before = Emptied::new();
    tables.release_file(1, Some(before.clone()));
    // The worker stops: clears the flag, then takes the queue.
    unpark.set_active(false);
    let items = unpark.releases.take();
    assert!(matches!(items.as_slice(), [Release::File { slot: 1, .. }]));
    assert_eq!(outcome(&before), None, "the worker answers for it");
    let after = Emptied::new();
    tables.release_file(2, Some(after.clone()));
    assert!(
        outcome(&after).is_some_and(|o| o.is_err()),
        "queued too late"
    );
}

#[test]
fn buffers_released_on_the_owners_thread_are_taken_there() {
    let unpark = Arc::new(Unpark::new().unwrap());
    fn here(_: DriverId) -> bool {
        true // stands for the owner taking its queue at once
    }
    let tables = FixedTables::new(DriverId::next(), unpark.clone(), here);
    assert!(unpark.prepare_park());
    tables.release_buffers(0, 4, Box::new(()));
    assert_eq!(take_count(&unpark), None, "taken here: nobody to wake");
}

#[test]
fn a_closed_queue_refuses_leaks_adopted_ops_and_tells_closes_its_outcome() {
    let unpark = Unpark::new().unwrap();
    let drops = Arc::new(AtomicUsize::new(0));
    let queued = Emptied::new();
    let adopted = |drops: &Arc<AtomicUsize>| {
        let op = Box::new(Probe(drops.clone()));
        Release::HandBack(HandBack::InPlace(1, Adopted::new(op), true))
    };
    unpark.send(adopted(&drops), || false);
    unpark.send(
        Release::File {
            slot: 3,
            done: Some(queued.clone()),
        },
        || false,
    );
    let freed = Arc::new(AtomicUsize::new(0));
    unpark.send(
        Release::Buffers {
            start: 0,
            n: 1,
            memory: Box::new(Probe(freed.clone())),
        },
        || false,
    );

    unpark.releases.close(Err("table kept".to_owned()));
    assert_eq!(outcome(&queued), Some(Err("table kept".to_owned())));
    assert_eq!(drops.load(SeqCst), 0, "a kernel may hold it: leaked");
    assert_eq!(freed.load(SeqCst), 1, "no op names those slots");
    assert!(!unpark.releases.pending());

    // Later items are refused the same way, and wake nobody.
    assert!(unpark.prepare_park());
    let late = Emptied::new();
    let sent = unpark.send(
        Release::File {
            slot: 4,
            done: Some(late.clone()),
        },
        || panic!("a refused item is never taken"),
    );
    assert_eq!(sent, Sent::Refused);
    assert_eq!(outcome(&late), Some(Err("table kept".to_owned())));
    assert_eq!(unpark.send(adopted(&drops), || false), Sent::Refused);
    assert_eq!(drops.load(SeqCst), 0);
    assert_eq!(take_count(&unpark), None);
    assert!(unpark.releases.take().is_empty());
}

#[test]
fn the_first_outcome_given_is_the_one_a_close_hears() {
    let done = Emptied::new();
    assert!(done.give(Ok(())).is_none(), "nobody waited yet");
    assert!(done.give(Err("late".to_owned())).is_none());
    assert_eq!(outcome(&done), Some(Ok(())));

    let waited = Emptied::new();
    assert_eq!(outcome(&waited), None);
    assert!(waited.give(Ok(())).is_some(), "the waiter is handed out");
    assert!(waited.give(Err("late".to_owned())).is_none());
    assert_eq!(outcome(&waited), Some(Ok(())));
}
