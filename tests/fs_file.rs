//! `runtime::fs::File` and `OpenOptions` on both drivers: open errors, positional
//! and vectored I/O, exact reads and writes, append, sync, metadata, set_len,
//! fallocate, close, drops with I/O in flight, `open_beneath`, and `O_DIRECT`.
//!
//! `std::fs` appears only as the independent oracle and for scaffolding.

use std::future::Future as _;
use std::io::ErrorKind;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use runtime::buf::{AlignedBuf, IoBuf};
use runtime::fs::{self, File, OpenOptions};
use runtime::task::yield_now;

mod support;
use support::{pattern, yield_until};

/// A directory of its own for one test half, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    /// `$TMPDIR/rt-fs_file-<pid>-<test>-<driver>`, fresh.
    fn new(test: &str) -> TempDir {
        let name = format!(
            "rt-fs_file-{}-{test}-{}",
            std::process::id(),
            runtime::driver_kind()
        );
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        // Resolved, so it compares equal to what /proc/self/fd shows.
        TempDir(std::fs::canonicalize(&path).unwrap())
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether descriptor `fd` of this process still refers to `path`.
fn fd_points_to(fd: i32, path: &Path) -> bool {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok_and(|p| p == path)
}

#[runtime::test]
async fn open_missing_file_is_not_found_with_the_path() {
    let dir = TempDir::new("open_missing");
    let path = dir.join("nope/missing.txt");
    let err = File::open(&path).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(fs::raw_os_error(&err), Some(libc::ENOENT));
    let msg = err.to_string();
    assert!(msg.starts_with("open "), "{msg}");
    assert!(msg.contains(&*path.to_string_lossy()), "{msg}");
    assert!(msg.contains("No such file or directory"), "{msg}");
}

#[runtime::test]
async fn nul_byte_in_path_is_invalid_input() {
    let dir = TempDir::new("nul_path");
    let base = File::open(&dir.0).await.unwrap();
    for err in [
        File::open("a\0b").await.unwrap_err(),
        File::create("a\0b").await.unwrap_err(),
        OpenOptions::new()
            .read(true)
            .open("a\0b")
            .await
            .unwrap_err(),
        File::open_beneath(&base, "x\0y").await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
        assert!(err.to_string().contains("NUL"), "{err}");
    }
}

#[runtime::test]
async fn contradictory_options_are_invalid_input() {
    let dir = TempDir::new("bad_options");
    let path = dir.join("f");
    let mut none = OpenOptions::new();
    let mut read_create = OpenOptions::new();
    read_create.read(true).create(true);
    let mut append_truncate = OpenOptions::new();
    append_truncate.append(true).truncate(true);
    for opts in [&*none.mode(0o600), &read_create, &append_truncate] {
        let err = opts.open(&path).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{opts:?}: {err}");
    }
    assert!(!path.exists(), "nothing was created");
}

#[runtime::test]
async fn large_write_and_read_are_byte_exact() {
    let dir = TempDir::new("large");
    let path = dir.join("big.bin");
    let data = pattern(8 << 20, 0);

    let file = File::create(&path).await.unwrap();
    let (res, back) = file.write_all_at(data.clone(), 0).await;
    res.unwrap();
    assert_eq!(back.len(), data.len(), "the buffer comes back whole");
    file.sync_all().await.unwrap();
    file.close().await.unwrap();
    assert!(
        std::fs::read(&path).unwrap() == data,
        "std sees what we wrote"
    );

    let file = File::open(&path).await.unwrap();
    assert_eq!(file.metadata().await.unwrap().len(), data.len() as u64);
    let (res, buf) = file.read_exact_at(Vec::with_capacity(data.len()), 0).await;
    res.unwrap();
    assert!(buf == data, "read_exact_at returns the same bytes");

    // Unaligned pieces, many in flight at once, each checked.
    let chunk = 100_003;
    let reads: Vec<_> = (0..data.len())
        .step_by(chunk)
        .map(|pos| {
            let read = file.read_at(Vec::with_capacity(chunk), pos as u64);
            (pos, runtime::spawn(read))
        })
        .collect();
    for (pos, read) in reads {
        let (n, buf) = read.await.unwrap();
        let n = n.unwrap();
        assert_eq!(n, chunk.min(data.len() - pos));
        assert!(buf[..] == data[pos..pos + n], "chunk at {pos}");
    }
}

#[runtime::test]
async fn read_at_eof_and_read_exact_past_eof() {
    let dir = TempDir::new("eof");
    let path = dir.join("short.txt");
    fs::write(&path, "0123456789").await.unwrap();
    let file = File::open(&path).await.unwrap();

    let (n, buf) = file.read_at(Vec::with_capacity(64), 4).await;
    assert_eq!((n.unwrap(), &buf[..]), (6, &b"456789"[..]));
    let (n, buf) = file.read_at(Vec::with_capacity(64), 10).await;
    assert_eq!((n.unwrap(), buf.len()), (0, 0), "at EOF");
    let (n, _) = file.read_at(Vec::with_capacity(64), 1 << 40).await;
    assert_eq!(n.unwrap(), 0, "far past EOF");

    let (res, buf) = file.read_exact_at(vec![0u8; 8], 6).await;
    assert_eq!(res.unwrap_err().kind(), ErrorKind::UnexpectedEof);
    assert_eq!(&buf[..4], b"6789", "what was read is kept");

    let (res, buf) = file.read_exact_at(vec![0u8; 10], 0).await;
    res.unwrap();
    assert_eq!(buf, b"0123456789");

    // An offset the kernel cannot take is an error, not a read at the cursor.
    let (res, _) = file.read_at(Vec::with_capacity(4), u64::MAX).await;
    assert_eq!(res.unwrap_err().kind(), ErrorKind::InvalidInput);
    let (res, _) = file.write_at(b"x".to_vec(), u64::MAX).await;
    assert_eq!(res.unwrap_err().kind(), ErrorKind::InvalidInput);
}

#[runtime::test]
async fn read_into_slices_and_aligned_buffers() {
    let dir = TempDir::new("slices");
    let path = dir.join("f");
    fs::write(&path, "hello world").await.unwrap();
    let file = File::open(&path).await.unwrap();

    let (n, slice) = file.read_at(vec![b'_'; 16].slice(3..8), 6).await;
    assert_eq!(n.unwrap(), 5);
    assert_eq!(&slice.into_inner()[..9], b"___world_");

    let (n, buf) = file.read_at(AlignedBuf::new(4096), 0).await;
    assert_eq!(n.unwrap(), 11);
    assert_eq!(&buf[..], b"hello world");
}

#[runtime::test]
async fn append_mode_writes_at_the_end() {
    let dir = TempDir::new("append");
    let path = dir.join("log.txt");
    fs::write(&path, "first\n").await.unwrap();

    let file = OpenOptions::new().append(true).open(&path).await.unwrap();
    // The offset is ignored in append mode: every write lands at the end.
    let (res, _) = file.write_all_at("second\n", 0).await;
    res.unwrap();
    let (res, _) = file.write_all_at(b"third\n".to_vec(), 0).await;
    res.unwrap();
    file.close().await.unwrap();
    assert_eq!(
        fs::read_to_string(&path).await.unwrap(),
        "first\nsecond\nthird\n"
    );

    // Appending with create makes the file.
    let fresh = dir.join("fresh.txt");
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .open(&fresh)
        .await
        .unwrap();
    let (res, _) = file.write_all_at("x", 100).await;
    res.unwrap();
    assert_eq!(fs::read(&fresh).await.unwrap(), b"x");
}

#[runtime::test]
async fn create_new_refuses_an_existing_file() {
    let dir = TempDir::new("create_new");
    let path = dir.join("once.txt");
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true).mode(0o640);
    let file = opts.open(&path).await.unwrap();
    let meta = file.metadata().await.unwrap();
    assert!(meta.is_file());
    assert_eq!(meta.permissions().mode() & 0o777, 0o640 & !umask());
    drop(file);

    let err = opts.open(&path).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    assert_eq!(fs::raw_os_error(&err), Some(libc::EEXIST));
    assert!(err.to_string().contains("once.txt"), "{err}");
}

/// The process umask, read without changing it for long.
fn umask() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Umask:")).unwrap();
    u32::from_str_radix(line.split_whitespace().nth(1).unwrap(), 8).unwrap()
}

#[runtime::test]
async fn truncate_and_create_options() {
    let dir = TempDir::new("truncate");
    let path = dir.join("f");
    fs::write(&path, "long contents").await.unwrap();

    // write without truncate overwrites in place.
    let file = OpenOptions::new().write(true).open(&path).await.unwrap();
    let (res, _) = file.write_all_at("LONG", 0).await;
    res.unwrap();
    file.close().await.unwrap();
    assert_eq!(fs::read(&path).await.unwrap(), b"LONG contents");

    let file = OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(&path)
        .await
        .unwrap();
    assert_eq!(file.metadata().await.unwrap().len(), 0);

    // write without create does not create.
    let err = OpenOptions::new()
        .write(true)
        .open(dir.join("absent"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);

    // read + write on one descriptor.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .open(dir.join("rw"))
        .await
        .unwrap();
    let (res, _) = file.write_all_at("abc", 0).await;
    res.unwrap();
    let (n, buf) = file.read_at(Vec::with_capacity(8), 0).await;
    assert_eq!((n.unwrap(), &buf[..]), (3, &b"abc"[..]));
}

#[runtime::test]
async fn vectored_reads_and_writes() {
    let dir = TempDir::new("vectored");
    let path = dir.join("v");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .open(&path)
        .await
        .unwrap();
    let (n, bufs) = file
        .writev_at(
            vec![
                b"head".to_vec(),
                Vec::new(),
                b"-body-".to_vec(),
                b"tail".to_vec(),
            ],
            2,
        )
        .await;
    assert_eq!(n.unwrap(), 14);
    assert_eq!(bufs.len(), 4, "buffers come back");
    assert_eq!(std::fs::read(&path).unwrap(), b"\0\0head-body-tail");

    let (n, bufs) = file
        .readv_at(
            vec![
                Vec::with_capacity(4),
                Vec::with_capacity(6),
                Vec::with_capacity(100),
            ],
            2,
        )
        .await;
    assert_eq!(n.unwrap(), 14);
    assert_eq!(bufs[0], b"head");
    assert_eq!(bufs[1], b"-body-");
    assert_eq!(bufs[2], b"tail");

    let (n, bufs) = file.readv_at(Vec::<Vec<u8>>::new(), 0).await;
    assert_eq!((n.unwrap(), bufs.len()), (0, 0));
    let too_many: Vec<Vec<u8>> = (0..2000).map(|_| Vec::with_capacity(1)).collect();
    let (res, bufs) = file.readv_at(too_many, 0).await;
    assert_eq!(
        res.unwrap_err().kind(),
        ErrorKind::InvalidInput,
        "beyond IOV_MAX"
    );
    assert_eq!(bufs.len(), 2000);
}

#[runtime::test]
async fn sync_metadata_set_len_and_fallocate() {
    let dir = TempDir::new("sync");
    let path = dir.join("f");
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .open(&path)
        .await
        .unwrap();
    let (res, _) = file.write_all_at(pattern(10_000, 0), 0).await;
    res.unwrap();
    file.sync_data().await.unwrap();
    file.sync_all().await.unwrap();

    let meta = file.metadata().await.unwrap();
    assert!(meta.is_file() && !meta.is_dir() && !meta.is_symlink());
    assert_eq!(meta.len(), 10_000);
    let std_meta = std::fs::metadata(&path).unwrap();
    assert_eq!(meta.modified().unwrap(), std_meta.modified().unwrap());
    assert_eq!(meta.accessed().unwrap(), std_meta.accessed().unwrap());
    assert_eq!(meta.mode(), std::os::unix::fs::MetadataExt::mode(&std_meta));
    assert_eq!(meta.ino(), std::os::unix::fs::MetadataExt::ino(&std_meta));
    assert_eq!(meta.dev(), std::os::unix::fs::MetadataExt::dev(&std_meta));
    if let (Ok(ours), Ok(theirs)) = (meta.created(), std_meta.created()) {
        assert_eq!(ours, theirs);
    }

    file.set_len(100).await.unwrap();
    assert_eq!(file.metadata().await.unwrap().len(), 100);
    file.set_len(5000).await.unwrap();
    let (res, buf) = file.read_exact_at(vec![1u8; 4900], 100).await;
    res.unwrap();
    assert!(buf.iter().all(|&b| b == 0), "extended bytes read as zeros");

    match file.fallocate(0, 1 << 20, 0).await {
        Ok(()) => assert_eq!(file.metadata().await.unwrap().len(), 1 << 20),
        Err(e) if e.kind() == ErrorKind::Unsupported => {
            eprintln!("fallocate unsupported here: {e}")
        }
        Err(e) => panic!("fallocate: {e}"),
    }
    match file.fallocate(0, 4 << 20, libc::FALLOC_FL_KEEP_SIZE).await {
        Ok(()) => assert_eq!(file.metadata().await.unwrap().len(), 1 << 20),
        Err(e) if e.kind() == ErrorKind::Unsupported => {}
        Err(e) => panic!("fallocate keep size: {e}"),
    }
    let err = file.fallocate(0, 0, 0).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "zero length: EINVAL");

    // A read-only descriptor cannot be resized.
    let ro = File::open(&path).await.unwrap();
    assert!(ro.set_len(0).await.is_err());
    assert!(ro.fallocate(0, 10, 0).await.is_err());
}

#[runtime::test]
async fn close_reports_and_releases_the_descriptor() {
    let dir = TempDir::new("close");
    let path = dir.join("f");
    let file = File::create(&path).await.unwrap();
    let fd = file.as_raw_fd();
    assert!(fd_points_to(fd, &path));
    file.close().await.unwrap();
    assert!(
        !fd_points_to(fd, &path),
        "closed by the time close() returns"
    );
}

#[runtime::test]
async fn dropping_a_file_with_a_read_in_flight() {
    let dir = TempDir::new("drop_in_flight");
    let path = dir.join("f");
    let data = pattern(1 << 20, 0);
    fs::write(&path, data.clone()).await.unwrap();

    // Out of the page cache, so the read is still in flight when the file
    // goes on both drivers (epoll reads cached data on the worker at once).
    std::fs::File::open(&path).unwrap().sync_all().unwrap();
    drop_from_cache(&path, 0);

    // The read holds its own reference: the file can go while it runs.
    let file = File::open(&path).await.unwrap();
    let fd = file.as_raw_fd();
    let read = runtime::spawn(file.read_at(Vec::with_capacity(data.len()), 0));
    yield_now().await; // let the read be submitted
    drop(file);
    let (n, buf) = read.await.unwrap();
    assert_eq!(n.unwrap(), data.len());
    assert!(buf == data);
    assert!(
        yield_until(|| !fd_points_to(fd, &path)).await,
        "the descriptor is closed after the read"
    );

    // Dropping the read itself mid-flight as well: the driver keeps the buffer,
    // the descriptor closes when the kernel lets go, and the runtime goes on.
    drop_from_cache(&path, 0);
    let file = File::open(&path).await.unwrap();
    let fd = file.as_raw_fd();
    let mut read = Box::pin(file.read_at(Vec::with_capacity(data.len()), 0));
    let polled = std::future::poll_fn(|cx| {
        let _ = read.as_mut().poll(cx);
        std::task::Poll::Ready(())
    });
    polled.await;
    drop(read);
    file.close().await.unwrap(); // the orphan still holds the fd: returns at once
    assert!(
        yield_until(|| !fd_points_to(fd, &path)).await,
        "closed once the orphan completes"
    );

    let (n, _) = File::open(&path)
        .await
        .unwrap()
        .read_at(Vec::with_capacity(16), 0)
        .await;
    assert_eq!(n.unwrap(), 16);
}

#[runtime::test]
async fn std_interop_and_raw_fd() {
    let dir = TempDir::new("std");
    let path = dir.join("f");
    std::fs::write(&path, "from std").unwrap();
    let file = File::from_std(std::fs::File::open(&path).unwrap());
    assert!(fd_points_to(file.as_raw_fd(), &path));
    let dup = file.as_fd().try_clone_to_owned().unwrap();
    assert!(fd_points_to(dup.as_raw_fd(), &path));
    let (n, buf) = file.read_at(Vec::with_capacity(16), 5).await;
    assert_eq!((n.unwrap(), &buf[..]), (3, &b"std"[..]));
    let std_file = file.try_into_std().unwrap();
    assert_eq!(std_file.metadata().unwrap().len(), 8);
}

#[runtime::test]
async fn open_beneath_stays_inside_the_directory() {
    let dir = TempDir::new("beneath");
    let root = dir.join("root");
    fs::create_dir_all(root.join("sub")).await.unwrap();
    fs::write(root.join("sub/page.html"), "inside")
        .await
        .unwrap();
    fs::write(dir.join("secret.txt"), "outside").await.unwrap();
    fs::symlink("../secret.txt", root.join("escape"))
        .await
        .unwrap();
    fs::symlink(dir.join("secret.txt"), root.join("abs_escape"))
        .await
        .unwrap();
    fs::symlink("sub/page.html", root.join("inner_link"))
        .await
        .unwrap();

    let base = File::open(&root).await.unwrap();
    for ok in ["sub/page.html", "./sub/../sub/page.html", "inner_link"] {
        let file = File::open_beneath(&base, ok).await.unwrap();
        let (n, buf) = file.read_at(Vec::with_capacity(16), 0).await;
        assert_eq!((n.unwrap(), &buf[..]), (6, &b"inside"[..]), "{ok}");
    }
    let secret = dir.join("secret.txt");
    let secret = secret.to_str().unwrap();
    for bad in [
        "../secret.txt",
        "sub/../../secret.txt",
        "escape",
        "abs_escape",
        secret,
    ] {
        let err = File::open_beneath(&base, bad).await.unwrap_err();
        assert_eq!(fs::raw_os_error(&err), Some(libc::EXDEV), "{bad}: {err}");
        assert!(err.to_string().contains(bad), "{err}");
    }
    let err = File::open_beneath(&base, "missing").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);

    // Writable, created beneath.
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    let file = opts.open_beneath(&base, "sub/new.txt").await.unwrap();
    let (res, _) = file.write_all_at("new", 0).await;
    res.unwrap();
    assert_eq!(std::fs::read(root.join("sub/new.txt")).unwrap(), b"new");
    assert!(opts.open_beneath(&base, "../made.txt").await.is_err());
    assert!(!dir.join("made.txt").exists());
}

#[runtime::test]
async fn o_direct_with_aligned_buffers() {
    let dir = TempDir::new("o_direct");
    let path = dir.join("direct.bin");
    let mut opts = OpenOptions::new();
    opts.read(true)
        .write(true)
        .create(true)
        .custom_flags(libc::O_DIRECT);
    let file = match opts.open(&path).await {
        Ok(f) => f,
        Err(e) if e.kind() == ErrorKind::InvalidInput => {
            eprintln!("skipped: O_DIRECT unsupported in {}: {e}", dir.0.display());
            return;
        }
        Err(e) => panic!("open O_DIRECT: {e}"),
    };
    let data = pattern(256 << 10, 0);
    let mut out = AlignedBuf::new(data.len());
    out.extend_from_slice(&data).unwrap();
    let (res, _) = file.write_all_at(out, 0).await;
    match res {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::InvalidInput => {
            eprintln!(
                "skipped: O_DIRECT writes unsupported in {}: {e}",
                dir.0.display()
            );
            return;
        }
        Err(e) => panic!("O_DIRECT write: {e}"),
    }
    file.sync_data().await.unwrap();

    let (res, back) = file.read_exact_at(AlignedBuf::new(data.len()), 0).await;
    res.unwrap();
    assert!(back[..] == data[..]);
    // A block-aligned piece in the middle; on epoll through the pool, since a
    // synchronous RWF_NOWAIT read of an O_DIRECT file waits for the device.
    let before = runtime::metrics()[0].ops_offloaded;
    let (n, piece) = file.read_at(AlignedBuf::new(8192), 64 << 10).await;
    if runtime::driver_kind() == runtime::DriverKind::Epoll {
        assert_eq!(runtime::metrics()[0].ops_offloaded - before, 1);
    }
    assert_eq!(n.unwrap(), 8192);
    assert!(piece[..] == data[64 << 10..(64 << 10) + 8192]);
    // Past the end: a short read of 0.
    let (n, _) = file.read_at(AlignedBuf::new(4096), data.len() as u64).await;
    assert_eq!(n.unwrap(), 0);
    file.close().await.unwrap();
    assert!(std::fs::read(&path).unwrap() == data);
}

#[runtime::test]
async fn options_and_std_handover_with_io_in_flight() {
    let dir = TempDir::new("options");
    let path = dir.join("f");
    let file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .open(&path)
        .await
        .unwrap();
    let (res, _) = file.write_all_at(vec![1u8; 1 << 20], 0).await;
    res.unwrap();

    // With a read in flight the descriptor is shared: no handing it over.
    let read = runtime::spawn(file.read_at(Vec::with_capacity(1 << 20), 0));
    let file = file.try_into_std().unwrap_err();
    let (n, _) = read.await.unwrap();
    assert_eq!(n.unwrap(), 1 << 20);
    let std_file = file.try_into_std().unwrap();
    assert_eq!(std_file.metadata().unwrap().len(), 1 << 20);
}

/// Polls `fut` once with a waker that does nothing.
fn poll_once<F: std::future::Future>(fut: F) -> Option<F::Output> {
    let mut fut = std::pin::pin!(fut);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

#[test]
fn outside_a_runtime_is_an_error_not_a_panic() {
    let file = File::from_std(std::fs::File::open("/dev/null").unwrap());
    let fd = file.as_raw_fd();
    let (res, _) = poll_once(file.read_at(Vec::with_capacity(8), 0)).unwrap();
    assert!(res.unwrap_err().to_string().contains("no runtime"));
    assert!(poll_once(file.set_len(0)).unwrap().is_err());
    assert!(poll_once(file.metadata()).unwrap().is_err());
    assert!(poll_once(File::open("/dev/null")).unwrap().is_err());
    // close() cannot go through a driver, but the descriptor is still closed.
    assert!(poll_once(file.close()).unwrap().is_err());
    assert!(!fd_points_to(fd, Path::new("/dev/null")));
}

// ---- epoll: page-cache reads and cached opens run on the worker ----
//
// On epoll a file read first tries `preadv2(RWF_NOWAIT)` and an open
// `openat2(RESOLVE_CACHED)` inline; only what would wait for the disk goes to
// the blocking pool. `ops_offloaded` counts exactly the pool's ops, so these
// tests can tell which path each op took.

/// Operations this worker handed to the blocking pool (epoll).
fn pool_ops() -> u64 {
    runtime::metrics()[0].ops_offloaded
}

/// Whether this worker runs the epoll driver.
fn on_epoll() -> bool {
    runtime::driver_kind() == runtime::DriverKind::Epoll
}

/// Whether `dir`'s file system takes `RWF_NOWAIT` reads (Linux 4.14+; not
/// every file system): otherwise every epoll read goes to the pool. Asks with
/// a file of its own, since a probe of an uncached file would start readahead.
fn nowait_reads_supported(dir: &TempDir) -> bool {
    let path = dir.join("nowait-probe");
    std::fs::write(&path, "x").unwrap();
    let file = std::fs::File::open(&path).unwrap();
    let mut byte = 0u8;
    let iov = libc::iovec {
        iov_base: (&mut byte as *mut u8).cast(),
        iov_len: 1,
    };
    // SAFETY: `iov` points at one writable byte on the stack; the fd is open.
    let rc = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, 0, libc::RWF_NOWAIT) };
    rc >= 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN)
}

/// Whether the kernel takes `openat2(RESOLVE_CACHED)` (Linux 5.12+).
fn cached_opens_supported() -> bool {
    // SAFETY: `open_how` is plain integers, for which zero is valid.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_CACHED;
    let size = std::mem::size_of::<libc::open_how>();
    let how: *const libc::open_how = &how;
    // SAFETY: a static NUL-terminated path and an `open_how` of `size` bytes.
    let fd = unsafe { libc::syscall(libc::SYS_openat2, libc::AT_FDCWD, c"/".as_ptr(), how, size) };
    if fd >= 0 {
        // SAFETY: the descriptor was just made and nothing else owns it.
        unsafe { libc::close(fd as i32) };
        return true;
    }
    std::io::Error::last_os_error().raw_os_error() == Some(libc::EAGAIN)
}

/// Whether `O_NONBLOCK` is set on `file` (the inline open must not leave it).
fn nonblocking(file: &File) -> bool {
    // SAFETY: F_GETFL on a descriptor `file` keeps open takes no pointers.
    let flags = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETFL) };
    assert!(flags >= 0, "F_GETFL: {}", std::io::Error::last_os_error());
    flags & libc::O_NONBLOCK != 0
}

/// Drops `path`'s pages from `from` on out of the page cache (it is clean).
fn drop_from_cache(path: &Path, from: i64) {
    let f = std::fs::File::open(path).unwrap();
    // SAFETY: fadvise on an open descriptor takes no pointers.
    let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), from, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(rc, 0);
}

/// Whether the first page of `path` is in the page cache (`mincore`).
fn first_page_resident(path: &Path) -> bool {
    let file = std::fs::File::open(path).unwrap();
    // SAFETY: a fresh private read-only mapping of one page of an open file.
    let map = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    assert_ne!(map, libc::MAP_FAILED, "{}", std::io::Error::last_os_error());
    let mut vec = 0u8;
    // SAFETY: `map` is a one-page mapping and `vec` has room for its one entry.
    let rc = unsafe { libc::mincore(map, 4096, &mut vec) };
    // SAFETY: `map` is the mapping made above, unmapped once.
    unsafe { libc::munmap(map, 4096) };
    assert_eq!(rc, 0, "mincore: {}", std::io::Error::last_os_error());
    vec & 1 != 0
}

#[runtime::test]
async fn cached_reads_and_opens_skip_the_blocking_pool() {
    let dir = TempDir::new("inline_cached");
    let path = dir.join("cached.bin");
    let data = pattern(64 << 10, 0);
    std::fs::write(&path, &data).unwrap(); // just written: in the page cache
    let inline_reads = on_epoll() && nowait_reads_supported(&dir);
    let inline_opens = on_epoll() && cached_opens_supported();

    let before = pool_ops();
    let file = File::open(&path).await.unwrap();
    assert!(!nonblocking(&file), "O_NONBLOCK is not left on the file");
    let opened = pool_ops() - before;

    let before = pool_ops();
    let (n, buf) = file.read_at(Vec::with_capacity(4096), 8192).await;
    assert_eq!(n.unwrap(), 4096);
    assert!(buf[..] == data[8192..12288]);
    let (n, slice) = file.read_at(vec![0u8; 100].slice(10..60), 3).await;
    assert_eq!(n.unwrap(), 50);
    assert!(slice[..] == data[3..53]);
    let bufs = vec![Vec::with_capacity(1000), Vec::with_capacity(3000)];
    let (n, bufs) = file.readv_at(bufs, 60_000).await;
    assert_eq!(n.unwrap(), 4000);
    assert!(bufs[0][..] == data[60_000..61_000] && bufs[1][..] == data[61_000..64_000]);
    // Across the end: short, then 0 at and past the end.
    let (n, buf) = file.read_at(Vec::with_capacity(8192), 60_000).await;
    assert_eq!(n.unwrap(), data.len() - 60_000);
    assert!(buf[..] == data[60_000..]);
    let (n, _) = file
        .read_at(Vec::with_capacity(16), data.len() as u64)
        .await;
    assert_eq!(n.unwrap(), 0, "at EOF");
    let (n, _) = file.read_at(Vec::with_capacity(16), 1 << 40).await;
    assert_eq!(n.unwrap(), 0, "far past EOF");
    let (res, buf) = file.read_exact_at(vec![0u8; data.len()], 0).await;
    res.unwrap();
    assert!(buf == data);
    let (res, _) = file
        .read_exact_at(vec![0u8; 32], data.len() as u64 - 16)
        .await;
    assert_eq!(res.unwrap_err().kind(), ErrorKind::UnexpectedEof);
    let read = pool_ops() - before;

    if inline_opens {
        assert_eq!(opened, 0, "a cached open ran on the worker");
    }
    if inline_reads {
        assert_eq!(read, 0, "page-cache reads ran on the worker");
    }

    // open_beneath: openat2 with RESOLVE_CACHED added to its own resolve bits.
    let base = File::open(&dir.0).await.unwrap();
    let before = pool_ops();
    let file = File::open_beneath(&base, "cached.bin").await.unwrap();
    if inline_opens {
        assert_eq!(
            pool_ops() - before,
            0,
            "a cached open beneath ran on the worker"
        );
    }
    assert!(!nonblocking(&file));
    // `..` at the top is refused in the cached walk (EAGAIN), so the pool
    // answers; an absolute path is refused at once. Same errors either way.
    for bad in ["../escape", "/escape"] {
        let err = File::open_beneath(&base, bad).await.unwrap_err();
        assert_eq!(fs::raw_os_error(&err), Some(libc::EXDEV), "{err}");
        assert!(err.to_string().contains(bad), "{err}");
    }
    let (n, buf) = file.read_at(Vec::with_capacity(8), 0).await;
    assert_eq!((n.unwrap(), &buf[..]), (8, &data[..8]));
}

#[runtime::test]
async fn uncached_reads_go_through_the_pool() {
    let dir = TempDir::new("inline_uncached");
    let path = dir.join("cold.bin");
    let data = pattern(1 << 20, 0);
    {
        let f = std::fs::File::create(&path).unwrap();
        std::io::Write::write_all(&mut &f, &data).unwrap();
        f.sync_all().unwrap();
    }
    drop_from_cache(&path, 0);
    // Some file systems (tmpfs) keep the pages whatever the advice.
    let cold = !first_page_resident(&path);
    let inline_reads = on_epoll() && nowait_reads_supported(&dir);
    let file = File::open(&path).await.unwrap();
    let before = pool_ops();
    let (n, buf) = file.read_at(Vec::with_capacity(4096), 0).await;
    assert_eq!(n.unwrap(), 4096);
    assert!(buf[..] == data[..4096]);
    if inline_reads && cold {
        assert_eq!(pool_ops() - before, 1, "an uncached read went to the pool");
    }
    // Partly cached: the cached part is read inline, the pool reads the
    // rest, and the read is whole (short only at end of file, like pread).
    drop_from_cache(&path, 512 << 10);
    let (n, buf) = file.read_at(Vec::with_capacity(data.len()), 0).await;
    assert_eq!(n.unwrap(), data.len(), "not short");
    assert!(buf == data);
    drop_from_cache(&path, 300_000);
    let bufs = vec![Vec::with_capacity(200_000), Vec::with_capacity(1 << 20)];
    let (n, bufs) = file.readv_at(bufs, 1000).await;
    assert_eq!(n.unwrap(), data.len() - 1000, "not short");
    assert!(bufs[0][..] == data[1000..201_000] && bufs[1][..] == data[201_000..]);
    let (res, buf) = file.read_exact_at(vec![0u8; data.len()], 0).await;
    res.unwrap();
    assert!(buf == data);
    let (n, _) = file
        .read_at(Vec::with_capacity(16), data.len() as u64)
        .await;
    assert_eq!(n.unwrap(), 0, "at EOF");
}

#[runtime::test]
async fn opens_that_create_or_miss_keep_their_errors() {
    let dir = TempDir::new("inline_opens");
    let before = pool_ops();
    // O_CREAT and O_TRUNC are never served from the dentry cache: the pool.
    let created = File::create(dir.join("new.txt")).await.unwrap();
    assert!(!nonblocking(&created));
    if on_epoll() {
        assert_eq!(pool_ops() - before, 1, "a creating open went to the pool");
    }
    let (res, _) = created.write_all_at("created", 0).await;
    res.unwrap();
    let mut opts = OpenOptions::new();
    opts.read(true).write(true).create(true);
    let file = opts.open(dir.join("new.txt")).await.unwrap();
    let (n, buf) = file.read_at(Vec::with_capacity(16), 0).await;
    assert_eq!((n.unwrap(), &buf[..]), (7, &b"created"[..]));

    // A missing name: the first lookup is not cached (the pool), the second
    // finds the negative dentry (on the worker); the error is the same.
    let missing = dir.join("missing.txt");
    let mut msgs = Vec::new();
    for _ in 0..2 {
        let before = pool_ops();
        let err = File::open(&missing).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert_eq!(fs::raw_os_error(&err), Some(libc::ENOENT));
        msgs.push((err.to_string(), pool_ops() - before));
    }
    let want = format!(
        "open {}: No such file or directory (os error 2)",
        missing.display()
    );
    assert_eq!(msgs[0].0, want);
    assert_eq!(msgs[1].0, want);
    if on_epoll() && cached_opens_supported() {
        assert_eq!(msgs[1].1, 0, "a cached miss is answered on the worker");
    }

    // Other errors keep their errno, whichever path answered.
    let err = File::open(dir.join("new.txt/below")).await.unwrap_err();
    assert_eq!(fs::raw_os_error(&err), Some(libc::ENOTDIR), "{err}");
    let mut opts = OpenOptions::new();
    opts.write(true);
    let err = opts.open(&dir.0).await.unwrap_err();
    assert_eq!(fs::raw_os_error(&err), Some(libc::EISDIR), "{err}");
    let err = File::open(dir.join("new.txt"))
        .await
        .unwrap()
        .read_at(Vec::with_capacity(4), 0)
        .await;
    assert_eq!(err.0.unwrap(), 4);
    let dir_file = File::open(&dir.0).await.unwrap();
    let (res, _) = dir_file.read_at(Vec::with_capacity(4), 0).await;
    assert_eq!(res.unwrap_err().raw_os_error(), Some(libc::EISDIR));
}
