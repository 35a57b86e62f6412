//! Unit tests of the unpark handle (`unpark.rs`) without a runtime: the
//! no-lost-wake-up rule, seen through its eventfd, and its pool-completion
//! queue (its release queue has `releases_tests.rs`).

use std::io;

use super::unpark::Unpark;

/// Reads the eventfd's counter: `Some(n)` if it was written, `None` if not.
pub(super) fn take_count(unpark: &Unpark) -> Option<u64> {
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
