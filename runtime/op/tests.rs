//! Op-level tests on both drivers: nop, pipe I/O, file reads at the cursor and
//! which file reads the epoll driver keeps on the worker, and the lifecycle
//! under drops.

use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

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

/// A file of this test half holding `data`, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(test: &str, data: &[u8]) -> TempFile {
        let name = format!(
            "rt-op-{}-{test}-{}",
            std::process::id(),
            crate::driver_kind()
        );
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, data).unwrap();
        TempFile(path)
    }

    /// Opens it read-only, with `flags`, as a file op descriptor.
    fn open(&self, flags: i32) -> SharedFd {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(flags)
            .open(&self.0)
            .unwrap();
        SharedFd::new_file(OwnedFd::from(file))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Ops this worker sent to the blocking pool (epoll).
fn pool_ops() -> u64 {
    crate::metrics()[0].ops_offloaded
}

#[crate::test]
async fn file_reads_at_the_cursor_move_it() {
    // No offset: epoll's inline preadv2 takes -1 (the cursor), like read(2).
    let file = TempFile::new("cursor", b"0123456789");
    let fd = file.open(0);
    let (n, buf) = Op::read(&fd, Vec::with_capacity(4)).await;
    assert_eq!((n.unwrap(), &buf[..]), (4, &b"0123"[..]));
    let (n, buf) = Op::read(&fd, Vec::with_capacity(4)).await;
    assert_eq!((n.unwrap(), &buf[..]), (4, &b"4567"[..]));
    let (n, buf) = Op::read(&fd, Vec::with_capacity(4)).await;
    assert_eq!((n.unwrap(), &buf[..]), (2, &b"89"[..]));
    let (n, _) = Op::read(&fd, Vec::with_capacity(4)).await;
    assert_eq!(n.unwrap(), 0, "at EOF");
}

#[crate::test]
async fn which_file_reads_stay_on_the_worker() {
    let epoll = crate::driver_kind() == crate::DriverKind::Epoll;
    let file = TempFile::new("nowait", &[7u8; 8192]);

    // Buffered and cached: inline, unless the file system refuses RWF_NOWAIT.
    let fd = file.open(0);
    let before = pool_ops();
    let (n, _) = Op::read_at(&fd, Vec::with_capacity(4096), 4096).await;
    assert_eq!(n.unwrap(), 4096);
    if epoll && fd.nowait_reads() {
        assert_eq!(pool_ops() - before, 0, "a cached read ran inline");
    }

    // Refused once: every later read goes straight to the pool.
    fd.refuse_nowait_reads();
    assert!(!fd.nowait_reads());
    let before = pool_ops();
    let (n, buf) = Op::readv_at(&fd, vec![Vec::with_capacity(16)], 100).await;
    assert_eq!(n.unwrap(), 16);
    assert_eq!(buf[0], [7u8; 16]);
    assert_eq!(
        pool_ops() - before,
        u64::from(epoll),
        "one op, to the pool on epoll"
    );

    // O_DIRECT: a synchronous RWF_NOWAIT read would wait for the device.
    if let Ok(direct) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECT)
        .open(&file.0)
    {
        let fd = SharedFd::new_file(OwnedFd::from(direct));
        assert!(!fd.nowait_reads(), "O_DIRECT reads use the pool");
    }

    // /proc refuses RWF_NOWAIT (EOPNOTSUPP): remembered, and the pool reads.
    let proc = SharedFd::new_file(OwnedFd::from(
        std::fs::File::open("/proc/self/status").unwrap(),
    ));
    let (n, buf) = Op::read_at(&proc, Vec::with_capacity(4096), 0).await;
    assert!(n.unwrap() > 0 && buf.starts_with(b"Name:"));
}
