//! Unit tests of the readiness registry (`registry.rs`), without a runtime
//! or a kernel: edges are fed in as `EPOLL*` bits.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Wake, Waker};

use super::operation::Interest::{Readable, Writable};
use super::registry::{Arm, Registry};

/// A waker that counts its wakes.
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counter() -> (Arc<Count>, Waker) {
    let count = Arc::new(Count(AtomicUsize::new(0)));
    (count.clone(), Waker::from(count))
}

/// Wakes what the registry moved to `woken`; how many there were.
fn run_woken(reg: &mut Registry) -> usize {
    let n = reg.woken.len();
    reg.woken.drain(..).for_each(Waker::wake);
    n
}

const IN: u32 = libc::EPOLLIN as u32;
const OUT: u32 = libc::EPOLLOUT as u32;
const RDHUP: u32 = libc::EPOLLRDHUP as u32;

#[test]
fn an_unknown_fd_counts_as_ready_and_only_a_syscall_can_tell() {
    let reg = Registry::new();
    assert!(reg.is_ready(5, 1, Readable));
    assert!(reg.is_ready(5, 1, Writable));
    assert_eq!(reg.known(5, 1, Readable), None);
}

#[test]
fn the_first_wait_arms_once_and_clears_only_its_direction() {
    let mut reg = Registry::new();
    let (_, w) = counter();
    assert_eq!(reg.wait(7, 1, Readable, &w).unwrap(), Arm::Start);
    assert_eq!(reg.wait(7, 1, Readable, &w).unwrap(), Arm::Nothing);
    assert_eq!(reg.wait(7, 1, Writable, &w).unwrap(), Arm::Nothing);
    assert!(!reg.is_ready(7, 1, Readable));
    assert_eq!(reg.known(7, 1, Readable), Some(false));
    // Another descriptor's id on the same number knows nothing of it.
    assert!(reg.is_ready(7, 2, Readable));
}

#[test]
fn an_edge_wakes_its_direction_only_and_is_fresh_until_a_transfer() {
    let mut reg = Registry::new();
    let (reader, r) = counter();
    let (writer, w) = counter();
    reg.wait(3, 9, Readable, &r).unwrap();
    reg.wait(3, 9, Writable, &w).unwrap();

    reg.event(3, IN);
    assert_eq!(run_woken(&mut reg), 1);
    assert_eq!(reader.0.load(Ordering::SeqCst), 1);
    assert_eq!(
        writer.0.load(Ordering::SeqCst),
        0,
        "a read edge woke a writer"
    );
    assert_eq!(reg.known(3, 9, Readable), Some(true));
    assert_eq!(reg.known(3, 9, Writable), Some(false));

    // A transfer may have used the edge up: only a syscall can tell now.
    reg.transferred(3, 9, Readable);
    assert_eq!(reg.known(3, 9, Readable), None);
    assert!(reg.is_ready(3, 9, Readable));

    reg.event(3, OUT);
    assert_eq!(run_woken(&mut reg), 1);
    assert_eq!(writer.0.load(Ordering::SeqCst), 1);
}

#[test]
fn a_short_read_waits_for_the_next_edge_unless_the_peer_closed() {
    let mut reg = Registry::new();
    let (_, w) = counter();
    reg.wait(4, 1, Readable, &w).unwrap();
    reg.event(4, IN);
    reg.clear_ready(4, 1, Readable);
    assert!(!reg.is_ready(4, 1, Readable));

    // After the peer's shutdown no edge follows: reads must keep trying.
    reg.event(4, IN | RDHUP);
    reg.clear_ready(4, 1, Readable);
    assert!(reg.is_ready(4, 1, Readable));
    // The write side is still open, so a short write waits.
    reg.event(4, OUT);
    reg.clear_ready(4, 1, Writable);
    assert!(!reg.is_ready(4, 1, Writable));
}

#[test]
fn a_reused_number_retires_the_old_registration_and_wakes_its_waiters() {
    let mut reg = Registry::new();
    let (old, w) = counter();
    reg.wait(6, 1, Readable, &w).unwrap();
    let (_, w2) = counter();
    // A new descriptor (id 2) on number 6 starts afresh and arms again.
    assert_eq!(reg.wait(6, 2, Readable, &w2).unwrap(), Arm::Start);
    assert_eq!(run_woken(&mut reg), 1);
    assert_eq!(old.0.load(Ordering::SeqCst), 1);
    assert!(reg.is_ready(6, 1, Readable), "the old id is unknown now");
}

#[test]
fn deregister_wakes_waiters_once_and_ignores_other_ids() {
    let mut reg = Registry::new();
    let (waiter, w) = counter();
    reg.wait(8, 1, Writable, &w).unwrap();
    assert!(!reg.deregister(8, 2), "another descriptor's id");
    assert!(reg.deregister(8, 1));
    assert!(!reg.deregister(8, 1), "already gone");
    assert_eq!(run_woken(&mut reg), 1);
    assert_eq!(waiter.0.load(Ordering::SeqCst), 1);
    // Its next wait registers (and arms) anew.
    assert_eq!(reg.wait(8, 1, Writable, &w).unwrap(), Arm::Start);
}

#[test]
fn a_refused_arm_forgets_the_fd_so_the_next_wait_arms_again() {
    let mut reg = Registry::new();
    let (waiter, w) = counter();
    assert_eq!(reg.wait(2, 1, Readable, &w).unwrap(), Arm::Start);
    reg.arm_failed(2, 1);
    assert_eq!(run_woken(&mut reg), 1);
    assert_eq!(waiter.0.load(Ordering::SeqCst), 1);
    assert!(reg.is_ready(2, 1, Readable));
    assert_eq!(reg.wait(2, 1, Readable, &w).unwrap(), Arm::Start);
}

#[test]
fn events_for_unknown_fds_and_bad_numbers_are_harmless() {
    let mut reg = Registry::new();
    reg.event(100, IN | OUT);
    assert_eq!(run_woken(&mut reg), 0);
    let (_, w) = counter();
    let err = reg.wait(-1, 1, Readable, &w).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::EBADF));
    reg.clear_ready(-1, 1, Readable);
    assert!(!reg.deregister(-1, 1));
}
