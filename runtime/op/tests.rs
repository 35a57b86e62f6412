//! Op-level tests on both drivers: nop, pipe I/O, and the lifecycle under drops.

use std::os::fd::{FromRawFd, OwnedFd};

use super::*;

/// A pipe as (read end, write end), both wrapped for ops.
pub(crate) fn pipe(nonblocking: bool) -> (SharedFd, SharedFd) {
    let mut fds = [0; 2];
    let flags = libc::O_CLOEXEC | if nonblocking { libc::O_NONBLOCK } else { 0 };
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), flags) };
    assert_eq!(rc, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: pipe2 returned two new descriptors that nothing else owns.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    (SharedFd::new(r), SharedFd::new(w))
}

#[crate::test]
async fn nop_completes() {
    Op::nop().await.unwrap();
}

#[crate::test]
async fn pipe_roundtrip_blocking_fd() {
    let (r, w) = pipe(false);
    let reader = crate::spawn(async move { Op::read(&r, vec![0u8; 16]).await });
    let (n, _) = Op::write(&w, b"hello".to_vec()).await;
    assert_eq!(n.unwrap(), 5);
    let (n, buf) = reader.await.unwrap();
    assert_eq!(&buf[..n.unwrap()], b"hello");
}

#[crate::test]
async fn pipe_roundtrip_nonblocking_fd() {
    let (r, w) = pipe(true);
    let reader = crate::spawn(async move { Op::read(&r, Vec::with_capacity(16)).await });
    crate::task::yield_now().await;
    let (n, _) = Op::write(&w, b"hello".to_vec()).await;
    assert_eq!(n.unwrap(), 5);
    let (n, buf) = reader.await.unwrap();
    assert_eq!(n.unwrap(), 5);
    assert_eq!(buf, b"hello");
}

#[crate::test]
async fn read_timeout_returns_the_buffer() {
    let (r, _w) = pipe(true);
    let (res, buf) = Op::read(&r, vec![7u8; 32])
        .timeout(std::time::Duration::from_millis(20))
        .await;
    assert_eq!(res.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    assert_eq!(
        buf,
        vec![7u8; 32],
        "the caller gets its buffer back untouched"
    );
    assert_eq!(crate::metrics()[0].ops_in_flight, 0);
}

#[crate::test]
async fn read_before_timeout_keeps_its_data() {
    let (r, w) = pipe(true);
    let (n, _) = Op::write(&w, b"early".to_vec()).await;
    n.unwrap();
    let (res, buf) = Op::read(&r, Vec::with_capacity(8))
        .timeout(std::time::Duration::from_secs(30))
        .await;
    assert_eq!(res.unwrap(), 5);
    assert_eq!(buf, b"early");
}
