//! Registered buffers (`FixedPool` / `FixedBuf`) and registered files
//! (`File::register`) on both drivers: the registered and plain paths read
//! and write the same bytes; a registered buffer dropped mid-read goes back
//! to its pool only after its completion; a registration refused for lack of
//! locked memory falls back to plain buffers with the reason visible; a
//! file closed while registered leaves the table consistent; and a file
//! registered on io_uring and used on epoll never has its buffers touched
//! by a blocking-pool thread. A registered file closed or dropped on another
//! thread is let go by the kernel (its `flock` released) when `close`
//! returns, promptly after a drop, or when its runtime goes.
//!
//! The memlock scenario runs in a child process (this test binary
//! re-executed with `FS_FIXED_CHILD`), which drops `CAP_IPC_LOCK` (root
//! bypasses the limit) and lowers `RLIMIT_MEMLOCK` to 256 KiB before it
//! builds its runtime.

use std::future::Future as _;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::pin::pin;
use std::process::Command;
use std::task::Context;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use runtime::buf::{AlignedBuf, FixedPool, IoBuf, IoBufMut};
use runtime::fs::{File, OpenOptions};
use runtime::task::yield_now;
use runtime::{Builder, DriverKind};

mod support;
use support::{next_random, open_direct_registered, pattern, yield_until, TargetFile};

#[runtime::test]
async fn registered_and_plain_paths_are_byte_identical_on_random_offsets() {
    let data = pattern(1 << 20, 3);
    let tmp = TargetFile::new("fs_fixed", "identical", &data);
    let plain = File::open(&tmp.0).await.unwrap();
    let mut fixed = File::open(&tmp.0).await.unwrap();
    let registered = fixed.register();
    let pool = FixedPool::new(8, 4096).unwrap();
    let uring = runtime::driver_kind() == DriverKind::Uring;
    // Root or not, 8 × 4 KiB fits in the smallest common RLIMIT_MEMLOCK.
    assert_eq!(registered, uring, "{:?}", runtime::metrics());
    assert_eq!(pool.is_registered(), uring, "{:?}", pool.fallback_reason());
    if uring {
        let m = &runtime::metrics()[0];
        assert!(
            m.registered_buffers >= 8 && m.registered_files >= 1,
            "{m:?}"
        );
    } else {
        assert!(pool.fallback_reason().unwrap().contains("epoll"));
    }

    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for round in 0..300 {
        let len = 1 + (next_random(&mut x) % 4096) as usize;
        let pos = next_random(&mut x) % (data.len() as u64 + 100);
        let want = &data[(pos as usize).min(data.len())..(pos as usize + len).min(data.len())];

        let (n, got) = plain.read_at(Vec::with_capacity(len), pos).await;
        assert_eq!(&got[..n.unwrap()], want, "plain read of {len} at {pos}");

        // A registered buffer (a slice of it, for an odd length) from a
        // registered file; every other round through an unregistered one.
        let file = if round % 2 == 0 { &fixed } else { &plain };
        let buf = pool.get().await.slice(..len);
        let (n, got) = file.read_at(buf, pos).await;
        assert_eq!(&got[..n.unwrap()], want, "fixed read of {len} at {pos}");
    }
    assert_eq!(pool.available(), 8);

    // Writes: the registered path writes what the plain one would.
    let (n, _) = fixed.read_at(pool.get().await, 0).await;
    assert_eq!(n.unwrap(), 4096);
    let mut out = OpenOptions::new();
    let mut out_file = out.write(true).open(&tmp.0).await.unwrap();
    out_file.register();
    let mut buf = pool.get().await;
    buf.extend_from_slice(b"written through WRITE_FIXED")
        .unwrap();
    let (res, buf) = out_file.write_all_at(buf.slice(8..21), 12_345).await;
    res.unwrap();
    drop(buf);
    out_file.close().await.unwrap();
    let on_disk = std::fs::read(&tmp.0).unwrap();
    assert_eq!(&on_disk[12_345..12_358], b"through WRITE");
    assert_eq!(&on_disk[..12_345], &data[..12_345]);
    assert_eq!(&on_disk[12_358..], &data[12_358..]);

    // The whole file, in 4 KiB registered reads, equals the plain bytes.
    let (res, whole) = fixed.read_exact_at(pool.get().await, 8192).await;
    res.unwrap();
    assert_eq!(&whole[..], &on_disk[8192..12_288]);
    drop(whole);
    assert_eq!(pool.available(), 8);
}

#[runtime::test]
async fn o_direct_reads_into_registered_buffers() {
    let data = pattern(64 << 10, 5);
    let tmp = TargetFile::new("fs_fixed", "direct", &data);
    let mut opts = OpenOptions::new();
    opts.read(true).custom_flags(libc::O_DIRECT);
    let mut file = match opts.open(&tmp.0).await {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            eprintln!("skipped: O_DIRECT unsupported here: {e}");
            return;
        }
        Err(e) => panic!("open O_DIRECT: {e}"),
    };
    file.register();
    let pool = FixedPool::new(2, 8192).unwrap();
    for pos in [0u64, 8192, 4096, 57_344] {
        let (n, buf) = file.read_at(pool.get().await, pos).await;
        assert_eq!(n.unwrap(), 8192);
        assert_eq!(buf.stable_ptr() as usize % 4096, 0);
        assert!(buf[..] == data[pos as usize..pos as usize + 8192]);
    }
}

#[runtime::test]
async fn a_registered_buffer_dropped_mid_read_is_not_reused_until_its_completion() {
    let data = pattern(256 << 10, 9);
    let tmp = TargetFile::new("fs_fixed", "dropped", &data);
    // O_DIRECT keeps the read off the epoll worker (it goes to the blocking
    // pool); on io_uring the entry is submitted at the next park. Either
    // way the first poll leaves the read in flight.
    let file = open_direct_registered(&tmp.0).await;
    let pool = FixedPool::new(1, 64 << 10).unwrap();
    let buf = pool.try_get().unwrap();
    let index = buf.index();
    {
        let mut read = pin!(file.read_at(buf, 64 << 10));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        if read.as_mut().poll(&mut cx).is_ready() {
            eprintln!("skipped: the read completed on its first poll");
            return;
        }
    } // dropped in flight: the op keeps the buffer until the kernel is done
    assert_eq!(pool.available(), 0, "reused before its completion");
    assert!(pool.try_get().is_none());
    let mut waiting = pin!(pool.get());
    let mut cx = Context::from_waker(std::task::Waker::noop());
    assert!(waiting.as_mut().poll(&mut cx).is_pending());

    assert!(
        yield_until(|| pool.available() == 1).await,
        "never came back"
    );
    let buf = waiting.await;
    assert_eq!(buf.index(), index);
    // It works as before, for a read that completes.
    let (n, buf) = file.read_at(buf, 0).await;
    assert_eq!(n.unwrap(), 64 << 10);
    assert!(buf[..] == data[..64 << 10]);
    let m = &runtime::metrics()[0];
    assert_eq!(m.ops_in_flight, 0, "{m:?}");
}

/// Runs this test binary's test `name` in a child with `FS_FIXED_CHILD` set.
fn run_child(name: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    let out = Command::new(exe)
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("FS_FIXED_CHILD", "1")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child {name} failed:\n{text}");
    text
}

/// Drops `CAP_IPC_LOCK` from this thread (root is exempt from
/// `RLIMIT_MEMLOCK` with it) and sets `RLIMIT_MEMLOCK` to `bytes`.
fn limit_locked_memory(bytes: u64) {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    const CAP_IPC_LOCK: u32 = 14;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget writes two `Data` for version 3 into `data`.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) };
    assert_eq!(rc, 0, "capget: {}", std::io::Error::last_os_error());
    for d in &mut data[..1] {
        d.effective &= !(1 << CAP_IPC_LOCK);
        d.permitted &= !(1 << CAP_IPC_LOCK);
        d.inheritable &= !(1 << CAP_IPC_LOCK);
    }
    // SAFETY: capset reads the header and two `Data`; dropping a capability is always allowed.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &header, data.as_ptr()) };
    assert_eq!(rc, 0, "capset: {}", std::io::Error::last_os_error());
    let lim = libc::rlimit {
        rlim_cur: bytes,
        rlim_max: bytes,
    };
    // SAFETY: `lim` is a valid rlimit for the call.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_MEMLOCK, &lim) };
    assert_eq!(rc, 0, "setrlimit: {}", std::io::Error::last_os_error());
}

/// In the child: a pool of 512 KiB under a 256 KiB limit on io_uring (a
/// small ring: on this kernel the ring's own memory counts too).
#[test]
fn memlock_child() {
    if std::env::var_os("FS_FIXED_CHILD").is_none() {
        return;
    }
    limit_locked_memory(256 << 10);
    let rt = match runtime::Builder::new()
        .driver(DriverKind::Uring)
        .entries(64)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            println!("child: no io_uring here ({e})");
            return;
        }
    };
    rt.block_on(async {
        let data = pattern(128 << 10, 1);
        let tmp = TargetFile::new("fs_fixed", "memlock", &data);
        let pool = FixedPool::new(128, 4096).expect("a refused registration is not an error");
        assert!(!pool.is_registered());
        let why = pool.fallback_reason().unwrap();
        assert!(why.contains("RLIMIT_MEMLOCK (262144 bytes)"), "{why}");
        let m = &runtime::metrics()[0];
        assert_eq!(m.registration_fallbacks, 1, "{m:?}");
        assert_eq!(m.registration_note.as_deref(), Some(why));
        assert_eq!(m.registered_buffers, 0);
        let info = runtime::driver_info().to_string();
        assert!(info.contains("registered buffers fell back"), "{info}");
        // Still a working pool, of plain buffers.
        let file = File::open(&tmp.0).await.unwrap();
        let (n, buf) = file.read_at(pool.get().await, 4096).await;
        assert_eq!(n.unwrap(), 4096);
        assert!(buf[..] == data[4096..8192]);
        // A pool that fits the limit still registers.
        let small = FixedPool::new(2, 4096).unwrap();
        assert!(small.is_registered(), "{:?}", small.fallback_reason());
        println!("child: fell back cleanly: {why}");
    });
}

#[runtime::test]
async fn registration_beyond_the_memlock_limit_falls_back_cleanly() {
    if runtime::driver_kind() == DriverKind::Uring {
        let out = runtime::spawn_blocking(|| run_child("memlock_child"))
            .await
            .unwrap();
        let required = std::env::var_os("RUNTIME_REQUIRE_URING").is_some();
        assert!(
            out.contains("child: fell back cleanly")
                || (!required && out.contains("child: no io_uring")),
            "{out}"
        );
    } else {
        // epoll: never registered, never an error, and nothing counted as a fallback.
        let pool = FixedPool::new(4096, 1 << 20).unwrap(); // 4 GiB of address space, untouched
        assert!(!pool.is_registered());
        assert_eq!(runtime::metrics()[0].registration_fallbacks, 0);
        let data = pattern(8192, 2);
        let tmp = TargetFile::new("fs_fixed", "memlock", &data);
        let file = File::open(&tmp.0).await.unwrap();
        let (n, buf) = file.read_at(pool.get().await.slice(..4096), 4096).await;
        assert_eq!(n.unwrap(), 4096);
        assert!(buf[..] == data[4096..]);
    }
}

#[runtime::test]
async fn open_options_register_opens_into_the_table() {
    let uring = runtime::driver_kind() == DriverKind::Uring;
    let data = pattern(16384, 5);
    let tmp = TargetFile::new("fs_fixed", "optsreg", &data);
    let before = runtime::metrics()[0].registered_files;
    let mut opts = OpenOptions::new();
    opts.read(true).register(true);
    let file = opts.open(&tmp.0).await.unwrap();
    assert_eq!(file.is_registered(), uring, "{:?}", runtime::metrics());
    let dir = File::open(tmp.0.parent().unwrap()).await.unwrap();
    let name = tmp.0.file_name().unwrap();
    let beneath = opts.open_beneath(&dir, name).await.unwrap();
    assert_eq!(beneath.is_registered(), uring);
    assert_eq!(
        runtime::metrics()[0].registered_files,
        before + 2 * u64::from(uring)
    );
    for f in [&file, &beneath] {
        let (n, buf) = f.read_at(Vec::with_capacity(4096), 8192).await;
        assert_eq!(n.unwrap(), 4096);
        assert_eq!(&buf[..], &data[8192..12288]);
    }
    // Off by default.
    let plain = File::open(&tmp.0).await.unwrap();
    assert!(!plain.is_registered());
    drop((file, beneath));
    assert_eq!(runtime::metrics()[0].registered_files, before);
}

#[runtime::test]
async fn a_file_closed_while_registered_leaves_the_table_consistent() {
    let uring = runtime::driver_kind() == DriverKind::Uring;
    let before = runtime::metrics()[0].registered_files;
    let contents: Vec<Vec<u8>> = (0..8).map(|i| pattern(8192, 11 * i)).collect();
    let tmps: Vec<TargetFile> = contents
        .iter()
        .enumerate()
        .map(|(i, c)| TargetFile::new("fs_fixed", &format!("closed{i}"), c))
        .collect();
    let mut files = Vec::new();
    for t in &tmps {
        let mut f = File::open(&t.0).await.unwrap();
        assert_eq!(f.register(), uring);
        files.push(Some(f));
    }
    assert_eq!(
        runtime::metrics()[0].registered_files,
        before + 8 * u64::from(uring)
    );

    // Close some (one with a read in flight, dropped first), drop others.
    let mut held = None;
    for (i, slot) in files.iter_mut().enumerate() {
        if i % 2 == 1 {
            continue;
        }
        let f = slot.take().unwrap();
        match i {
            0 => {
                // A read in flight keeps the slot until it completes.
                let read = f.read_at(Vec::with_capacity(100), 50);
                f.close().await.unwrap();
                held = Some(read);
            }
            2 => drop(f),
            _ => f.close().await.unwrap(),
        }
    }
    let (n, buf) = held.unwrap().await;
    assert_eq!(&buf[..n.unwrap()], &contents[0][50..150]);
    drop(buf);

    // New registrations take the freed slots; every file reads its own bytes.
    for i in (0..8).step_by(2) {
        let mut f = File::open(&tmps[i].0).await.unwrap();
        assert_eq!(f.register(), uring);
        files[i] = Some(f);
    }
    for (i, f) in files.iter().enumerate() {
        let (n, buf) = f
            .as_ref()
            .unwrap()
            .read_at(Vec::with_capacity(8192), 0)
            .await;
        assert_eq!(n.unwrap(), 8192);
        assert!(buf == contents[i], "file {i} read another file's bytes");
    }
    assert_eq!(
        runtime::metrics()[0].registered_files,
        before + 8 * u64::from(uring)
    );
    for f in files.into_iter().flatten() {
        f.close().await.unwrap();
    }
    assert!(yield_until(|| runtime::metrics()[0].registered_files == before).await);
    let m = &runtime::metrics()[0];
    assert_eq!((m.ops_in_flight, m.registration_fallbacks), (0, 0), "{m:?}");
}

#[runtime::test]
async fn outside_its_runtime_a_pool_is_plain_and_bad_sizes_are_errors() {
    for (count, size) in [(0, 4096), (4097, 4096), (1, 0), (1, (1 << 30) + 1)] {
        let err = FixedPool::new(count, size).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
    let outside = std::thread::spawn(|| {
        let pool = FixedPool::new(1, 100).unwrap();
        (
            pool.is_registered(),
            pool.fallback_reason().map(str::to_owned),
            pool.buf_size(),
        )
    })
    .join()
    .unwrap();
    assert!(!outside.0);
    assert!(outside.1.unwrap().contains("outside a runtime"));
    assert_eq!(outside.2, 4096);
    // Pending `get`s are woken by a buffer coming back.
    let pool = FixedPool::new(1, 4096).unwrap();
    let first = pool.try_get().unwrap();
    let waiter = runtime::spawn({
        let pool = pool.clone();
        async move { pool.get().await.index() }
    });
    yield_now().await;
    drop(first);
    assert_eq!(waiter.await.unwrap(), 0);
}

/// A buffer that counts the calls of its `IoBuf` methods made on any thread
/// but the one that made it. The crate's rule is that there are none: a
/// buffer need not be `Send` (this one is not), so the blocking pool works
/// only with the address and length its worker took.
struct HomeBound {
    /// The memory, aligned for `O_DIRECT`.
    buf: AlignedBuf,
    /// The thread that made it.
    home: std::thread::ThreadId,
    /// Calls made elsewhere.
    strays: Arc<AtomicUsize>,
    /// `!Send`, as a buffer holding an `Rc` would be.
    _local: std::marker::PhantomData<std::rc::Rc<()>>,
}

impl HomeBound {
    fn new(buf: AlignedBuf, strays: &Arc<AtomicUsize>) -> Self {
        HomeBound {
            buf,
            home: std::thread::current().id(),
            strays: strays.clone(),
            _local: std::marker::PhantomData,
        }
    }

    fn check(&self) {
        if std::thread::current().id() != self.home {
            self.strays.fetch_add(1, Ordering::SeqCst);
        }
    }
}

// SAFETY: every method forwards to `AlignedBuf`, which keeps the contract.
unsafe impl IoBuf for HomeBound {
    fn stable_ptr(&self) -> *const u8 {
        self.check();
        self.buf.stable_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.check();
        self.buf.bytes_init()
    }
    fn bytes_total(&self) -> usize {
        self.check();
        self.buf.bytes_total()
    }
}

// SAFETY: as for `IoBuf`: forwarded to `AlignedBuf`.
unsafe impl IoBufMut for HomeBound {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.check();
        self.buf.stable_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        self.check();
        // SAFETY: the caller's promise, passed on.
        unsafe { self.buf.set_init(pos) }
    }
}

/// Files registered on io_uring and then used under an epoll runtime take
/// the registered ops (`ReadFixed`, `WriteFixed`) there, which epoll runs on
/// its blocking pool: the pool must not call the buffer's methods.
#[test]
fn registered_file_ops_on_epoll_touch_buffers_only_on_the_worker() {
    let uring = match Builder::new().driver(DriverKind::Uring).build() {
        Ok(rt) => rt,
        Err(e) if std::env::var_os("RUNTIME_REQUIRE_URING").is_none() => {
            eprintln!("skipped: no io_uring to register with: {e}");
            return;
        }
        Err(e) => panic!("io_uring required: {e}"),
    };
    let data = pattern(64 << 10, 13);
    let src = TargetFile::new("fs_fixed", "homebound-src", &data);
    let dst = TargetFile::new("fs_fixed", "homebound-dst", &[]);
    let (direct, out) = uring.block_on(async {
        let direct = open_direct_registered(&src.0).await;
        let mut opts = OpenOptions::new();
        opts.write(true).register(true);
        let out = opts.open(&dst.0).await.unwrap();
        (direct, out)
    });
    assert!(direct.is_registered() && out.is_registered());

    let epoll = Builder::new().driver(DriverKind::Epoll).build().unwrap();
    let strays = Arc::new(AtomicUsize::new(0));
    epoll.block_on(async {
        let mut chunk = AlignedBuf::new(8192);
        chunk.extend_from_slice(&data[..8192]).unwrap();
        let (n, _) = out.write_at(HomeBound::new(chunk, &strays), 0).await;
        assert_eq!(n.unwrap(), 8192);
        // O_DIRECT (where the file system takes it) sends the read to the pool too.
        let (n, buf) = direct
            .read_at(HomeBound::new(AlignedBuf::new(8192), &strays), 4096)
            .await;
        assert_eq!(n.unwrap(), 8192);
        assert!(buf.buf[..] == data[4096..12288]);
        let m = &runtime::metrics()[0];
        assert!(m.ops_offloaded >= 1, "the write ran on the pool: {m:?}");
    });
    assert_eq!(
        strays.load(Ordering::SeqCst),
        0,
        "a blocking-pool thread called the buffer's methods"
    );
    assert_eq!(std::fs::read(&dst.0).unwrap(), &data[..8192]);
    drop((direct, out));
}

/// A runtime on io_uring with `workers` workers; `None` (the test is
/// skipped) where io_uring is unavailable and not required.
fn uring_runtime(workers: usize) -> Option<runtime::Runtime> {
    match Builder::new()
        .driver(DriverKind::Uring)
        .workers(workers)
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) if std::env::var_os("RUNTIME_REQUIRE_URING").is_none() => {
            eprintln!("skipped: no io_uring here: {e}");
            None
        }
        Err(e) => panic!("io_uring required: {e}"),
    }
}

/// Opens `path` registered on the current worker and takes an exclusive
/// `flock` through it.
async fn open_locked(path: &Path) -> File {
    let mut opts = OpenOptions::new();
    opts.read(true).register(true);
    let file = opts.open(path).await.unwrap();
    assert!(file.is_registered(), "{:?}", runtime::metrics());
    // SAFETY: flock(2) on a descriptor `file` keeps open.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    assert_eq!(rc, 0, "flock: {}", std::io::Error::last_os_error());
    file
}

/// Whether the kernel still holds the file `open_locked` locked: a new
/// open file description of `path` cannot take the lock.
fn still_locked(path: &Path) -> bool {
    let probe = std::fs::File::open(path).unwrap();
    // SAFETY: flock(2) on a descriptor `probe` keeps open; the probe's lock
    // goes with it.
    let rc = unsafe { libc::flock(probe.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return false;
    }
    let e = std::io::Error::last_os_error();
    assert_eq!(e.raw_os_error(), Some(libc::EWOULDBLOCK), "flock: {e}");
    true
}

#[test]
fn a_registered_file_closed_on_another_worker_is_let_go_when_close_returns() {
    let Some(rt) = uring_runtime(2) else { return };
    let tmp = TargetFile::new("fs_fixed", "close-elsewhere", b"locked");
    let path = tmp.0.clone();
    rt.block_on(async move {
        let file = runtime::spawn_on(1, move || async move { open_locked(&path).await })
            .await
            .unwrap();
        assert!(still_locked(&tmp.0));
        // Closed on worker 0; worker 1, idle, owns the slot.
        file.close().await.unwrap();
        assert!(
            !still_locked(&tmp.0),
            "close returned, yet the registered slot keeps the file open"
        );
    });
}

#[test]
fn a_registered_file_dropped_on_another_worker_is_let_go_promptly() {
    let Some(rt) = uring_runtime(2) else { return };
    let tmp = TargetFile::new("fs_fixed", "drop-elsewhere", b"locked");
    let path = tmp.0.clone();
    rt.block_on(async move {
        let file = runtime::spawn_on(1, move || async move { open_locked(&path).await })
            .await
            .unwrap();
        assert!(still_locked(&tmp.0));
        drop(file); // on worker 0: worker 1 is woken to empty its slot
                    // A hang guard, not a deadline: the release takes one turn of worker 1.
        for _ in 0..60_000 {
            if !still_locked(&tmp.0) {
                return;
            }
            runtime::time::sleep(std::time::Duration::from_millis(1)).await;
        }
        panic!("a minute after the drop, the registered slot still holds the file");
    });
}

#[test]
fn a_registered_file_of_a_runtime_not_running_is_let_go_when_it_runs_or_goes() {
    let Some(owner) = uring_runtime(1) else {
        return;
    };
    let a = TargetFile::new("fs_fixed", "idle-owner-a", b"locked");
    let b = TargetFile::new("fs_fixed", "idle-owner-b", b"locked");
    let (fa, fb) = owner.block_on(async { (open_locked(&a.0).await, open_locked(&b.0).await) });
    // Worker 0 of `owner` turns only inside its block_on: a close elsewhere
    // closes the descriptor and says the file stays open, never hangs.
    let elsewhere = Builder::new().driver(DriverKind::Epoll).build().unwrap();
    let err = elsewhere.block_on(fa.close()).unwrap_err();
    assert!(err.to_string().contains("not running"), "{err}");
    assert!(still_locked(&a.0));
    owner.block_on(async {}); // runs: empties the slot before block_on returns
    assert!(!still_locked(&a.0));

    std::thread::spawn(move || drop(fb)).join().unwrap();
    assert!(still_locked(&b.0));
    drop(owner); // its file table goes first, then its ring
    assert!(!still_locked(&b.0));
}

#[test]
fn a_pool_dropped_while_its_worker_is_idle_gives_its_slots_back_when_it_runs() {
    let Some(rt) = uring_runtime(1) else { return };
    let pool = rt.block_on(async { FixedPool::new(4, 4096).unwrap() });
    assert!(pool.is_registered(), "{:?}", pool.fallback_reason());
    let registered = |rt: &runtime::Runtime| {
        rt.block_on(async {
            // One turn of the worker: it takes what was released meanwhile.
            yield_now().await;
            runtime::metrics()[0].registered_buffers
        })
    };
    assert_eq!(registered(&rt), 4);
    // Outside block_on worker 0 does not turn: the slots wait for it.
    drop(pool);
    assert_eq!(registered(&rt), 0, "the slots were not given back");
    // Cleared slots are reused: a new pool fits in the same table.
    let again = rt.block_on(async { FixedPool::new(4, 4096).unwrap() });
    assert!(again.is_registered(), "{:?}", again.fallback_reason());
    assert_eq!(registered(&rt), 4);
    // Dropped on its worker: given back at once, before any turn.
    let left = rt.block_on(async move {
        drop(again);
        runtime::metrics()[0].registered_buffers
    });
    assert_eq!(left, 0);
}
