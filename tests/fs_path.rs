//! `runtime::fs` path functions on both drivers: whole-file read and write,
//! metadata, removal, rename, directories, links, copy, `read_dir`,
//! canonicalize, and their errors (path in the message, NUL bytes).
//!
//! `std::fs` appears only as the independent oracle and for scaffolding.

use std::collections::BTreeMap;
use std::future::{poll_fn, Future as _};
use std::io::ErrorKind;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::pin::Pin;

use futures_core::Stream;
use runtime::fs;

/// A directory of its own for one test half, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    /// `$TMPDIR/rt-fs_path-<pid>-<test>-<driver>`, fresh.
    fn new(test: &str) -> TempDir {
        let name = format!(
            "rt-fs_path-{}-{test}-{}",
            std::process::id(),
            runtime::driver_kind()
        );
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
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

#[runtime::test]
async fn write_read_and_read_to_string() {
    let dir = TempDir::new("roundtrip");
    let path = dir.join("a.txt");
    fs::write(&path, "hello").await.unwrap();
    assert_eq!(fs::read(&path).await.unwrap(), b"hello");
    assert_eq!(fs::read_to_string(&path).await.unwrap(), "hello");

    // Replaces, and takes any owned buffer.
    fs::write(&path, String::from("hi")).await.unwrap();
    assert_eq!(fs::read_to_string(&path).await.unwrap(), "hi");
    fs::write(&path, Vec::new()).await.unwrap();
    assert_eq!(fs::read(&path).await.unwrap(), b"");

    let big: Vec<u8> = (0..(8 << 20) + 13)
        .map(|i: usize| (i ^ (i >> 9)) as u8)
        .collect();
    fs::write(&path, big.clone()).await.unwrap();
    assert!(std::fs::read(&path).unwrap() == big);
    assert!(fs::read(&path).await.unwrap() == big);

    fs::write(&path, vec![0xff, 0xfe]).await.unwrap();
    let err = fs::read_to_string(&path).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidData);
    assert!(err.to_string().contains("a.txt"), "{err}");
}

#[runtime::test]
async fn read_files_without_a_size() {
    // /proc files report size 0; read still gets their contents.
    let status = fs::read_to_string("/proc/self/status").await.unwrap();
    assert!(status.contains("Pid:"));
    let maps = fs::read("/proc/self/maps").await.unwrap();
    assert!(maps.len() > 4096, "longer than one probe");
}

#[runtime::test]
async fn missing_paths_are_not_found_with_the_path() {
    let dir = TempDir::new("missing");
    let missing = dir.join("missing");
    let m = || missing.clone();
    let errors = [
        ("read", fs::read(m()).await.unwrap_err()),
        ("read_to_string", fs::read_to_string(m()).await.unwrap_err()),
        (
            "write",
            fs::write(dir.join("no/dir/f"), "x").await.unwrap_err(),
        ),
        ("metadata", fs::metadata(m()).await.unwrap_err()),
        (
            "symlink_metadata",
            fs::symlink_metadata(m()).await.unwrap_err(),
        ),
        ("remove_file", fs::remove_file(m()).await.unwrap_err()),
        ("remove_dir", fs::remove_dir(m()).await.unwrap_err()),
        ("rename", fs::rename(m(), dir.join("x")).await.unwrap_err()),
        (
            "create_dir",
            fs::create_dir(dir.join("no/dir")).await.unwrap_err(),
        ),
        (
            "hard_link",
            fs::hard_link(m(), dir.join("x")).await.unwrap_err(),
        ),
        ("copy", fs::copy(m(), dir.join("x")).await.unwrap_err()),
        ("read_dir", fs::read_dir(m()).await.unwrap_err()),
        ("canonicalize", fs::canonicalize(m()).await.unwrap_err()),
        ("read_link", fs::read_link(m()).await.unwrap_err()),
    ];
    for (op, err) in errors {
        assert_eq!(err.kind(), ErrorKind::NotFound, "{op}: {err}");
        assert_eq!(fs::raw_os_error(&err), Some(libc::ENOENT), "{op}: {err}");
        let msg = err.to_string();
        assert!(msg.contains(&*dir.0.to_string_lossy()), "{op}: {msg}");
        let source = std::error::Error::source(&err).expect("the OS error");
        assert!(source.downcast_ref::<std::io::Error>().is_some(), "{op}");
    }
    assert!(!fs::try_exists(m()).await.unwrap());
}

#[runtime::test]
async fn a_miss_reports_the_same_error_cold_and_cached() {
    // On epoll the first open of a never-seen name goes to the pool; the
    // second finds the negative dentry and is answered on the worker.
    let dir = TempDir::new("miss_twice");
    let missing = dir.join("never-seen");
    let cold = fs::read(&missing).await.unwrap_err();
    let cached = fs::read(&missing).await.unwrap_err();
    assert_eq!(cold.to_string(), cached.to_string());
    assert_eq!(cached.kind(), ErrorKind::NotFound);
    assert_eq!(fs::raw_os_error(&cached), Some(libc::ENOENT));
    assert!(
        cached.to_string().contains(&*missing.to_string_lossy()),
        "{cached}"
    );

    // And the file once it exists, whole.
    std::fs::write(&missing, "now here").unwrap();
    assert_eq!(fs::read(&missing).await.unwrap(), b"now here");
}

#[runtime::test]
async fn nul_bytes_are_invalid_input_everywhere() {
    let bad = "bad\0path";
    let errors = [
        fs::read(bad).await.unwrap_err(),
        fs::read_to_string(bad).await.unwrap_err(),
        fs::write(bad, "x").await.unwrap_err(),
        fs::metadata(bad).await.unwrap_err(),
        fs::symlink_metadata(bad).await.unwrap_err(),
        fs::try_exists(bad).await.unwrap_err(),
        fs::remove_file(bad).await.unwrap_err(),
        fs::remove_dir(bad).await.unwrap_err(),
        fs::rename(bad, "x").await.unwrap_err(),
        fs::rename("x", bad).await.unwrap_err(),
        fs::create_dir(bad).await.unwrap_err(),
        fs::create_dir_all(bad).await.unwrap_err(),
        fs::hard_link(bad, "x").await.unwrap_err(),
        fs::symlink("x", bad).await.unwrap_err(),
        fs::symlink(bad, "x").await.unwrap_err(),
        fs::copy(bad, "x").await.unwrap_err(),
        fs::copy("x", bad).await.unwrap_err(),
        fs::read_dir(bad).await.unwrap_err(),
        fs::canonicalize(bad).await.unwrap_err(),
        fs::read_link(bad).await.unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.kind(), ErrorKind::InvalidInput, "{err}");
    }
}

#[runtime::test]
async fn metadata_of_files_dirs_and_symlinks() {
    let dir = TempDir::new("metadata");
    let file = dir.join("f");
    fs::write(&file, "12345").await.unwrap();
    let link = dir.join("link");
    fs::symlink("f", &link).await.unwrap();

    let meta = fs::metadata(&file).await.unwrap();
    let std_meta = std::fs::metadata(&file).unwrap();
    assert!(meta.is_file() && meta.file_type().is_file());
    assert_eq!(meta.len(), 5);
    assert_eq!(meta.mode(), std_meta.mode());
    assert_eq!(meta.permissions(), std_meta.permissions());
    assert_eq!(meta.modified().unwrap(), std_meta.modified().unwrap());
    assert_eq!(meta.accessed().unwrap(), std_meta.accessed().unwrap());
    assert_eq!(
        meta.changed().unwrap(),
        std::time::UNIX_EPOCH
            + std::time::Duration::new(std_meta.ctime() as u64, std_meta.ctime_nsec() as u32)
    );
    assert_eq!((meta.ino(), meta.dev()), (std_meta.ino(), std_meta.dev()));
    assert_eq!(
        (meta.uid(), meta.gid(), meta.nlink()),
        (std_meta.uid(), std_meta.gid(), 1)
    );
    assert_eq!(
        (meta.blksize(), meta.blocks()),
        (std_meta.blksize(), std_meta.blocks())
    );
    if let (Ok(a), Ok(b)) = (meta.created(), std_meta.created()) {
        assert_eq!(a, b);
    }

    let followed = fs::metadata(&link).await.unwrap();
    assert!(followed.is_file() && !followed.is_symlink());
    assert_eq!(followed.ino(), meta.ino());
    let own = fs::symlink_metadata(&link).await.unwrap();
    assert!(own.is_symlink() && own.file_type().is_symlink() && !own.is_file());
    assert_eq!(own.len(), 1, "a symlink's size is its target's length");

    let d = fs::metadata(&dir.0).await.unwrap();
    assert!(d.is_dir() && !d.is_file());
    let null = fs::metadata("/dev/null").await.unwrap();
    assert!(null.file_type().is_char_device());
    let fifo = dir.join("fifo");
    let c_fifo = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: `c_fifo` is a NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c_fifo.as_ptr(), 0o600) }, 0);
    assert!(fs::metadata(&fifo).await.unwrap().file_type().is_fifo());
    let sock = dir.join("sock");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let ft = fs::metadata(&sock).await.unwrap().file_type();
    assert!(ft.is_socket() && !ft.is_fifo() && !ft.is_block_device());
    assert!(format!("{meta:?}").contains("file"));

    assert!(fs::try_exists(&file).await.unwrap());
    fs::remove_file(&file).await.unwrap();
    assert!(!fs::try_exists(&link).await.unwrap(), "dangling link");
    assert!(fs::symlink_metadata(&link).await.is_ok());
}

#[runtime::test]
async fn remove_rename_and_create_dir() {
    let dir = TempDir::new("remove_rename");
    let a = dir.join("a");
    let b = dir.join("b");
    fs::write(&a, "A").await.unwrap();
    fs::write(&b, "B").await.unwrap();

    fs::rename(&a, &b).await.unwrap();
    assert!(!a.exists());
    assert_eq!(
        fs::read_to_string(&b).await.unwrap(),
        "A",
        "rename replaces"
    );
    let err = fs::rename(&a, &b).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("rename") && msg.contains(" -> "), "{msg}");

    let sub = dir.join("sub");
    fs::create_dir(&sub).await.unwrap();
    assert!(sub.is_dir());
    let err = fs::create_dir(&sub).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);
    fs::write(sub.join("inner"), "x").await.unwrap();

    let err = fs::remove_dir(&sub).await.unwrap_err();
    assert_eq!(fs::raw_os_error(&err), Some(libc::ENOTEMPTY), "{err}");
    let err = fs::remove_file(&sub).await.unwrap_err();
    assert_eq!(fs::raw_os_error(&err), Some(libc::EISDIR), "{err}");
    let err = fs::remove_dir(&b).await.unwrap_err();
    assert_eq!(fs::raw_os_error(&err), Some(libc::ENOTDIR), "{err}");

    fs::rename(&sub, dir.join("moved")).await.unwrap();
    fs::remove_file(dir.join("moved/inner")).await.unwrap();
    fs::remove_dir(dir.join("moved")).await.unwrap();
    fs::remove_file(&b).await.unwrap();
    assert_eq!(std::fs::read_dir(&dir.0).unwrap().count(), 0);
}

#[runtime::test]
async fn create_dir_all_makes_parents() {
    let dir = TempDir::new("create_dir_all");
    let deep = dir.join("a/b/c/d");
    fs::create_dir_all(&deep).await.unwrap();
    assert!(deep.is_dir());
    fs::create_dir_all(&deep).await.unwrap(); // existing: fine
    fs::create_dir_all(dir.join("a/b/./e/")).await.unwrap();
    assert!(dir.join("a/b/e").is_dir());
    fs::create_dir_all("").await.unwrap();

    // Concurrent calls on overlapping paths all succeed.
    let tasks: Vec<_> = (0..8)
        .map(|i| runtime::spawn(fs::create_dir_all(dir.0.join(format!("x/y/z{}", i % 3)))))
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }

    fs::write(dir.join("file"), "").await.unwrap();
    let err = fs::create_dir_all(dir.join("file")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists, "{err}");
    let err = fs::create_dir_all(dir.join("file/sub")).await.unwrap_err();
    assert_eq!(fs::raw_os_error(&err), Some(libc::ENOTDIR), "{err}");
    assert!(err.to_string().contains("file/sub"), "{err}");
}

#[runtime::test]
async fn links_copy_and_canonicalize() {
    let dir = TempDir::new("links");
    let orig = dir.join("orig");
    fs::write(&orig, "data").await.unwrap();

    let hard = dir.join("hard");
    fs::hard_link(&orig, &hard).await.unwrap();
    let (m1, m2) = (
        fs::metadata(&orig).await.unwrap(),
        fs::metadata(&hard).await.unwrap(),
    );
    assert_eq!((m1.ino(), m1.nlink()), (m2.ino(), 2));
    let err = fs::hard_link(&orig, &hard).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::AlreadyExists);

    let soft = dir.join("soft");
    fs::symlink("orig", &soft).await.unwrap();
    assert_eq!(fs::read_link(&soft).await.unwrap(), PathBuf::from("orig"));
    assert_eq!(fs::read_to_string(&soft).await.unwrap(), "data");
    assert_eq!(fs::canonicalize(&soft).await.unwrap(), orig);
    let err = fs::canonicalize(dir.join("x/../orig")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "x does not exist: {err}");
    assert_eq!(fs::canonicalize(dir.join(".//orig")).await.unwrap(), orig);
    let err = fs::read_link(&orig).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput, "not a symlink: EINVAL");

    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(&orig, big.clone()).await.unwrap();
    std::fs::set_permissions(&orig, std::os::unix::fs::PermissionsExt::from_mode(0o640)).unwrap();
    let copy = dir.join("copy");
    assert_eq!(fs::copy(&orig, &copy).await.unwrap(), big.len() as u64);
    assert!(fs::read(&copy).await.unwrap() == big);
    assert_eq!(fs::metadata(&copy).await.unwrap().mode() & 0o777, 0o640);
}

#[runtime::test]
async fn read_dir_lists_every_entry() {
    let dir = TempDir::new("read_dir");
    // More than one batch of the blocking-pool iterator.
    let mut expected = BTreeMap::new();
    for i in 0..150 {
        let name = format!("file-{i:03}");
        fs::write(dir.join(&name), vec![b'x'; i]).await.unwrap();
        expected.insert(name, "file");
    }
    fs::create_dir(dir.join("subdir")).await.unwrap();
    expected.insert("subdir".into(), "dir");
    fs::symlink("file-000", dir.join("link")).await.unwrap();
    expected.insert("link".into(), "symlink");

    let mut seen = BTreeMap::new();
    let mut entries = fs::read_dir(&dir.0).await.unwrap();
    while let Some(entry) = entries.next_entry().await.unwrap() {
        let name = entry.file_name().into_string().unwrap();
        assert_eq!(entry.path(), dir.join(&name));
        let ft = entry.file_type().unwrap();
        let kind = if ft.is_dir() {
            "dir"
        } else if ft.is_symlink() {
            "symlink"
        } else {
            assert!(ft.is_file());
            let len: usize = name.trim_start_matches("file-").parse().unwrap();
            assert_eq!(entry.metadata().await.unwrap().len(), len as u64);
            "file"
        };
        assert_eq!(
            entry.ino(),
            std::fs::symlink_metadata(entry.path()).unwrap().ino()
        );
        assert!(seen.insert(name, kind).is_none(), "each entry once");
    }
    assert_eq!(seen, expected);
    assert!(
        entries.next_entry().await.unwrap().is_none(),
        "stays at the end"
    );

    // The same through the Stream trait.
    let mut stream = fs::read_dir(&dir.0).await.unwrap();
    let mut count = 0;
    while let Some(entry) = poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
        entry.unwrap();
        count += 1;
    }
    assert_eq!(count, expected.len());

    // An empty directory, and a file that is not one.
    let empty = dir.join("subdir");
    assert!(fs::read_dir(&empty)
        .await
        .unwrap()
        .next_entry()
        .await
        .unwrap()
        .is_none());
    let err = fs::read_dir(dir.join("file-001")).await.unwrap_err();
    assert_eq!(fs::raw_os_error(&err), Some(libc::ENOTDIR), "{err}");
}

#[test]
fn outside_a_runtime_is_an_error_not_a_panic() {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut read_dir = std::pin::pin!(fs::read_dir("/"));
    match read_dir.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(res) => assert!(res.unwrap_err().to_string().contains("no runtime")),
        std::task::Poll::Pending => panic!("nothing to wait for outside a runtime"),
    }
    let mut meta = std::pin::pin!(fs::metadata("/"));
    assert!(matches!(
        meta.as_mut().poll(&mut cx),
        std::task::Poll::Ready(Err(_))
    ));
    let mut copy = std::pin::pin!(fs::copy("/a", "/b"));
    assert!(matches!(
        copy.as_mut().poll(&mut cx),
        std::task::Poll::Ready(Err(_))
    ));
}
