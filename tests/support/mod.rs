//! Helpers shared by the integration tests; each test file uses a subset.
#![allow(dead_code)]

use std::future::Future;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A safety net for waits that should end quickly: a hang fails the test,
/// naming what hung, instead of hanging the run. Not a timed assertion: it
/// is far above anything a passing test takes.
pub(crate) const LIMIT: Duration = Duration::from_secs(30);

/// `fut`, or a panic naming `what` if it takes longer than [`LIMIT`].
pub(crate) async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match runtime::time::timeout(LIMIT, fut).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: not done within {LIMIT:?}"),
    }
}

/// A name no other test (in this or a concurrent test process) uses:
/// `prefix`, the process id and a per-process counter.
pub(crate) fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// A path in the temp directory that does not exist yet, unique to this call.
/// Nothing removes it; tests that create it clean up with [`TempPath`].
pub(crate) fn temp_path(prefix: &str) -> PathBuf {
    let path = std::env::temp_dir().join(unique_name(prefix));
    let _ = std::fs::remove_file(&path);
    path
}

/// A [`temp_path`] removed (if it exists) when dropped, even if the test fails.
#[derive(Debug)]
pub(crate) struct TempPath(pub(crate) PathBuf);

impl TempPath {
    /// A fresh unique path.
    pub(crate) fn new(prefix: &str) -> Self {
        TempPath(temp_path(prefix))
    }
}

impl std::ops::Deref for TempPath {
    type Target = std::path::Path;
    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for TempPath {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Number of open descriptors of this process (entries of `/proc/self/fd`,
/// minus the one `read_dir` itself holds open while counting).
pub(crate) fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|dir| dir.count().saturating_sub(1))
        .unwrap_or(0)
}

/// A connected pair of TCP streams on loopback: (client end, server end).
pub(crate) async fn tcp_pair() -> (runtime::net::TcpStream, runtime::net::TcpStream) {
    let listener = runtime::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    let accept = runtime::spawn(async move { listener.accept().await });
    let client = runtime::net::TcpStream::connect(addr)
        .await
        .expect("connect");
    let (server, _) = accept.await.expect("accept task").expect("accept");
    (client, server)
}

/// Builds example `name` with the features this test build has (so cargo
/// does not rebuild the library with other ones), in this build's profile,
/// and returns the binary's path.
pub(crate) fn example_binary(name: &str) -> PathBuf {
    let features: Vec<&str> = [
        (cfg!(feature = "hyper"), "hyper"),
        (cfg!(feature = "tokio-io"), "tokio-io"),
        (cfg!(feature = "futures-io"), "futures-io"),
        (cfg!(feature = "tls"), "tls"),
        (cfg!(feature = "websocket"), "websocket"),
        (cfg!(feature = "client"), "client"),
    ]
    .into_iter()
    .filter_map(|(on, f)| on.then_some(f))
    .collect();
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "--quiet", "--example", name]);
    if !features.is_empty() {
        cmd.arg("--features").arg(features.join(","));
    }
    if !cfg!(debug_assertions) {
        cmd.arg("--release");
    }
    let status = cmd.status().expect("cargo runs");
    assert!(status.success(), "building the {name} example failed");
    // target/<profile>/deps/this-test → target/<profile>/examples/name
    let exe = std::env::current_exe().expect("the test's path");
    let profile = exe
        .parent()
        .and_then(|d| d.parent())
        .expect("target/<profile>");
    profile.join("examples").join(name)
}

/// A file of its own for one test half, removed on drop; under the target
/// directory, whose file system takes `O_DIRECT` (a tmpfs `/tmp` may not).
pub(crate) struct TargetFile(pub(crate) PathBuf);

impl TargetFile {
    /// `<target tmp>/rt-<prefix>-<pid>-<test>-<driver>` holding `data`.
    pub(crate) fn new(prefix: &str, test: &str, data: &[u8]) -> TargetFile {
        let name = format!(
            "rt-{prefix}-{}-{test}-{}",
            std::process::id(),
            runtime::driver_kind()
        );
        let path = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
        std::fs::write(&path, data).unwrap();
        TargetFile(path)
    }
}

impl Drop for TargetFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `len` bytes of a pattern that does not repeat at any power-of-two period.
pub(crate) fn pattern(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251 + seed) as u8).collect()
}

/// xorshift64: random numbers, the same on every run.
pub(crate) fn next_random(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// Yields until `cond` holds (the driver reaps completions between turns);
/// a bounded number of turns, not a timer.
pub(crate) async fn yield_until(mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..100_000 {
        if cond() {
            return true;
        }
        runtime::task::yield_now().await;
    }
    cond()
}

/// `path` opened for reading with `O_DIRECT` (plainly where the file system
/// refuses it) and registered where the driver can: reads then stay in
/// flight past a first poll on both drivers (epoll sends them to its
/// blocking pool).
pub(crate) async fn open_direct_registered(path: &std::path::Path) -> runtime::fs::File {
    let mut opts = runtime::fs::OpenOptions::new();
    opts.read(true).custom_flags(libc::O_DIRECT);
    let mut file = match opts.open(path).await {
        Ok(f) => f,
        Err(_) => runtime::fs::File::open(path).await.unwrap(),
    };
    file.register();
    file
}

/// Runs `test` on one runtime per driver this machine can run, each made by
/// `config` from a fresh `Builder` (io_uring is required when
/// `RUNTIME_REQUIRE_URING` is set, as in CI): for tests that need builder
/// settings `#[runtime::test]` does not take.
pub(crate) fn on_each_driver<Fut>(
    config: impl Fn(&mut runtime::Builder) -> &mut runtime::Builder,
    test: impl Fn(runtime::DriverKind) -> Fut,
) where
    Fut: std::future::Future<Output = ()>,
{
    use runtime::{Builder, DriverKind};
    for kind in [DriverKind::Uring, DriverKind::Epoll] {
        let mut builder = Builder::new();
        builder.driver(kind);
        let rt = match config(&mut builder).build() {
            Ok(rt) => rt,
            Err(e) if kind == DriverKind::Uring && !uring_required() => {
                eprintln!("skipping io_uring: {e}");
                continue;
            }
            Err(e) => panic!("{kind} runtime: {e}"),
        };
        rt.block_on(test(kind));
    }
}

/// Whether CI demands io_uring (`RUNTIME_REQUIRE_URING=1`).
pub(crate) fn uring_required() -> bool {
    std::env::var("RUNTIME_REQUIRE_URING").is_ok_and(|v| v == "1")
}

/// The runtime of a child process started by [`run_driver_child`]: on
/// `driver` (`"uring"` or `"epoll"`), or `None` (after printing
/// `CHILD-SKIPPED`) when io_uring cannot start here.
pub(crate) fn child_runtime(driver: &str) -> Option<runtime::Runtime> {
    use runtime::DriverKind;
    let kind = match driver {
        "uring" => DriverKind::Uring,
        _ => DriverKind::Epoll,
    };
    match runtime::Builder::new().driver(kind).build() {
        Ok(rt) => Some(rt),
        Err(e) if kind == DriverKind::Uring => {
            println!("CHILD-SKIPPED: {e}");
            None
        }
        Err(e) => panic!("runtime: {e}"),
    }
}

/// Runs this test binary's test `entry` again in a process of its own, with
/// `var=value` telling it what to do on `driver`, and checks that the child
/// lived (no signal killed it), exited 0 and printed `CHILD-OK`. Returns its
/// stdout, or `None` if it printed `CHILD-SKIPPED` (io_uring unavailable: a
/// failure under `RUNTIME_REQUIRE_URING=1`).
pub(crate) fn run_driver_child(
    entry: &str,
    var: &str,
    value: &str,
    driver: &str,
) -> Option<String> {
    use std::os::unix::process::ExitStatusExt;
    let exe = std::env::current_exe().expect("test binary");
    let out = Command::new(exe)
        .args([entry, "--exact", "--nocapture", "--test-threads=1"])
        .env(var, value)
        .output()
        .expect("spawn child");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let what = format!("[{driver}] child {var}={value}");
    assert_eq!(
        out.status.signal(),
        None,
        "{what} killed by a signal\n{stdout}\n{stderr}"
    );
    assert!(out.status.success(), "{what} failed\n{stdout}\n{stderr}");
    if stdout.contains("CHILD-SKIPPED") {
        assert!(
            !uring_required(),
            "io_uring required but unavailable: {stdout}"
        );
        eprintln!("skipped on {driver}: {stdout}");
        return None;
    }
    assert!(
        stdout.contains("CHILD-OK"),
        "{what}: no result\n{stdout}\n{stderr}"
    );
    Some(stdout)
}

/// A buffer that records when it is dropped, to see when the kernel (or
/// the driver keeping the buffer for it) let go.
pub(crate) struct Tracked {
    bytes: Vec<u8>,
    dropped: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Tracked {
    /// `len` initialised bytes, and the flag its drop sets.
    pub(crate) fn new(len: usize) -> (Self, std::sync::Arc<std::sync::atomic::AtomicBool>) {
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let buf = Tracked {
            bytes: vec![5u8; len],
            dropped: dropped.clone(),
        };
        (buf, dropped)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::SeqCst);
    }
}

// SAFETY: the pointer is the Vec's heap block, which neither moves nor
// shrinks while the buffer lives.
unsafe impl runtime::buf::IoBuf for Tracked {
    fn stable_ptr(&self) -> *const u8 {
        self.bytes.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.bytes.len()
    }
    fn bytes_total(&self) -> usize {
        self.bytes.len()
    }
}

// SAFETY: as for `IoBuf`; every byte is initialised from the start.
unsafe impl runtime::buf::IoBufMut for Tracked {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.bytes.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, _pos: usize) {}
}
