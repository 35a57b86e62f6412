//! Unit tests of the unpark handle (`unpark.rs`) without a runtime: the
//! no-lost-wake-up rule, seen through its eventfd, and its queues.

use std::io;

use super::unpark::{HandBack, Unpark};

/// Reads the eventfd's counter: `Some(n)` if it was written, `None` if not.
fn take_count(unpark: &Unpark) -> Option<u64> {
    let mut n: u64 = 0;
    // SAFETY: reads 8 bytes into a local u64 from the open, non-blocking eventfd.
    let res = unsafe { libc::read(unpark.raw_fd(), (&mut n as *mut u64).cast(), 8) };
    if res == 8 {
        return Some(n);
    }
    assert_eq!(
        io::Error::last_os_error().raw_os_error(),
        Some(libc::EAGAIN)
    );
    None
}

#[test]
fn unpark_writes_the_eventfd_only_for_a_parked_worker_and_once() {
    let unpark = Unpark::new().unwrap();
    unpark.unpark();
    assert_eq!(
        take_count(&unpark),
        None,
        "woke a worker that was not parked"
    );

    assert!(unpark.prepare_park());
    unpark.unpark();
    unpark.unpark();
    assert_eq!(take_count(&unpark), Some(1), "one wake-up, written once");

    // Back from the kernel: a late sender writes nothing more.
    assert!(unpark.prepare_park());
    unpark.unparked();
    unpark.unpark();
    assert_eq!(take_count(&unpark), None);
}

#[test]
fn a_posted_completion_is_seen_before_parking_or_wakes_the_wait() {
    let unpark = Unpark::new().unwrap();
    // Posted first: the worker sees it and does not park.
    unpark.post(3, Ok(7));
    assert!(!unpark.prepare_park());
    let mut out = Vec::new();
    unpark.take_posted(&mut out);
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].0, out[0].1.as_ref().ok().copied()), (3, Some(7)));

    // Parked first: the post ends the wait.
    assert!(unpark.prepare_park());
    unpark.post(4, Err(io::Error::from_raw_os_error(libc::EIO)));
    assert_eq!(take_count(&unpark), Some(1));
    out.clear();
    unpark.take_posted(&mut out);
    assert_eq!(out.len(), 1);
    // Taken: nothing left to see.
    assert!(unpark.prepare_park());
}

#[test]
fn releases_after_close_are_dropped_and_wake_nobody() {
    let unpark = Unpark::new().unwrap();
    unpark.release(10, 1);
    assert!(unpark.has_released());
    let mut out = Vec::new();
    unpark.take_released(&mut out);
    assert_eq!(out, vec![(10, 1)]);
    assert!(!unpark.has_released());

    unpark.close_releases();
    assert!(unpark.prepare_park());
    unpark.release(11, 2);
    assert!(!unpark.has_released());
    assert_eq!(take_count(&unpark), None);
}

#[test]
fn hand_backs_are_taken_in_order_and_refused_once_closed() {
    let unpark = Unpark::new().unwrap();
    assert!(unpark.hand_backs.take().is_empty());
    assert!(unpark.hand_backs.push(HandBack::Slot(1, true)).is_ok());
    assert!(unpark.hand_backs.push(HandBack::Slot(2, false)).is_ok());
    let keys: Vec<usize> = unpark
        .hand_backs
        .take()
        .into_iter()
        .map(|item| match item {
            HandBack::Slot(key, _) => key,
            HandBack::InPlace(key, ..) => key,
        })
        .collect();
    assert_eq!(keys, vec![1, 2]);

    assert!(unpark.hand_backs.push(HandBack::Slot(3, true)).is_ok());
    assert_eq!(
        unpark.hand_backs.close().len(),
        1,
        "queued before the close"
    );
    assert!(unpark.hand_backs.push(HandBack::Slot(4, true)).is_err());
    assert!(unpark.hand_backs.take().is_empty());
}
