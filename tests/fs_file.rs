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

/// `len` bytes of a pattern that does not repeat at any power-of-two period.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Whether descriptor `fd` of this process still refers to `path`.
fn fd_points_to(fd: i32, path: &Path) -> bool {
    std::fs::read_link(format!("/proc/self/fd/{fd}")).is_ok_and(|p| p == path)
}

/// Yields until `cond` holds (the driver reaps completions between turns);
/// a bounded number of turns, not a timer.
async fn yield_until(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..100_000 {
        if cond() {
            return true;
        }
        yield_now().await;
    }
    cond()
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
    let data = pattern(8 << 20);

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
    let (res, _) = file.write_all_at(pattern(10_000), 0).await;
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
    let data = pattern(1 << 20);
    fs::write(&path, data.clone()).await.unwrap();

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
    let data = pattern(256 << 10);
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
    // A block-aligned piece in the middle.
    let (n, piece) = file.read_at(AlignedBuf::new(8192), 64 << 10).await;
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
