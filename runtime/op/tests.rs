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
