//! `fork()` with a live runtime, on both drivers: in the child, the
//! inherited runtime (none of whose threads exist there, and whose rings the
//! parent still uses) refuses to run with a clear message and is dropped
//! without touching anything; a runtime built in the child works; the
//! parent's runtime carries on. Never a hang or a crash.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use runtime::{Builder, DriverKind, Runtime};

mod support;

/// Each driver this machine can run (io_uring is required when
/// `RUNTIME_REQUIRE_URING` is set, as in CI).
fn drivers() -> Vec<DriverKind> {
    let mut kinds = vec![DriverKind::Epoll];
    match Builder::new().driver(DriverKind::Uring).build() {
        Ok(_) => kinds.push(DriverKind::Uring),
        Err(e) if std::env::var_os("RUNTIME_REQUIRE_URING").is_some() => {
            panic!("io_uring required but unavailable: {e}")
        }
        Err(e) => eprintln!("skipping io_uring: {e}"),
    }
    kinds
}

/// Some I/O on the current runtime: a file written and read back, a timer,
/// a task on worker 1.
async fn exercise(path: &Path) {
    runtime::fs::write(path, b"fork".to_vec()).await.unwrap();
    let back = runtime::fs::read(path).await.unwrap();
    assert_eq!(back, b"fork");
    runtime::time::sleep(Duration::from_millis(1)).await;
    let on_1 = runtime::spawn_on(1, || async { 7 }).await.unwrap();
    assert_eq!(on_1, 7);
}

/// The forked child's work; returns its exit code (0: all as documented).
fn child(inherited: Runtime, kind: DriverKind, path: PathBuf) -> i32 {
    // The inherited runtime: a clear error on its first use.
    let first = catch_unwind(AssertUnwindSafe(|| inherited.block_on(async { 1 })));
    match first {
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            if !msg.contains("build a new runtime in the child") {
                return 2;
            }
        }
        Ok(_) => return 3, // it would share rings with the parent
    }
    // Dropping it neither joins threads that are not here nor touches the rings.
    drop(inherited);
    // A runtime of its own works.
    let fresh = catch_unwind(AssertUnwindSafe(|| {
        let rt = Builder::new().driver(kind).workers(2).build().unwrap();
        rt.block_on(exercise(&path));
    }));
    if fresh.is_err() {
        return 4;
    }
    0
}

/// Waits for `pid` (a hang guard of a minute, not a deadline); its exit code.
fn wait_child(pid: libc::pid_t) -> i32 {
    let start = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: waitpid(2) on our own child, writing into a local int.
        let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        assert!(rc >= 0, "waitpid: {}", std::io::Error::last_os_error());
        if rc == pid {
            assert!(
                libc::WIFEXITED(status),
                "the child crashed (status {status:#x})"
            );
            return libc::WEXITSTATUS(status);
        }
        if start.elapsed() > Duration::from_secs(60) {
            // SAFETY: kill(2) on our own child's pid; no pointers.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the forked child still runs after a minute: it hangs");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_forked_child_gets_a_clear_error_from_the_inherited_runtime_and_a_new_one_works() {
    for kind in drivers() {
        let parent_file = support::TempPath::new(&format!("rt-fork-parent-{kind}"));
        let child_file = support::TempPath::new(&format!("rt-fork-child-{kind}"));
        let rt = Builder::new().driver(kind).workers(2).build().unwrap();
        rt.block_on(exercise(&parent_file));
        // A task left waiting on worker 1 and a registered file on worker 0:
        // state the child inherits and must leave alone.
        let registered = rt.block_on(async {
            drop(runtime::spawn_on(1, std::future::pending::<()>));
            let mut f = runtime::fs::File::open(&parent_file).await.unwrap();
            f.register();
            f
        });
        let child_path = child_file.0.clone();
        // SAFETY: fork(2); the child runs only `child` and then `_exit`s,
        // never returning into the test harness.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
        if pid == 0 {
            let code = catch_unwind(AssertUnwindSafe(|| child(rt, kind, child_path)));
            // SAFETY: _exit(2) ends the child without running the parent's
            // destructors or atexit handlers.
            unsafe { libc::_exit(code.unwrap_or(5)) };
        }
        let code = wait_child(pid);
        assert_eq!(code, 0, "{kind}: the child's check {code} failed");
        // The parent's runtime, and its registered file, carry on.
        rt.block_on(async {
            let (n, buf) = registered.read_at(Vec::with_capacity(8), 0).await;
            assert_eq!(&buf[..n.unwrap()], b"fork");
            exercise(&parent_file).await;
        });
    }
}
