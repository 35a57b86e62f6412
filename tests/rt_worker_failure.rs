//! A worker thread that panics outside any task is an error the user hears,
//! never a runtime left half alive, on both drivers: a start hook that
//! panics fails `build`; a waker that panics, or a driver whose wait fails
//! (`epoll_wait` or `io_uring_enter` refused by a seccomp filter on that
//! worker's thread, in a child process), ends its worker, whose tasks'
//! handles resolve with its message, `spawn_on` to it fails the same way,
//! and `block_on` (or else the runtime's `Drop`) panics with it. A wait that
//! fails never spins.

use std::future::{pending, Future};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

use runtime::{Builder, DriverKind};

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

/// The message of a panic payload.
fn message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(p) => p
            .downcast::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default(),
    }
}

/// Runs `f` on a thread of its own. A hang guard, not a deadline: what
/// these tests look for used to hang, and a hang should fail with a name.
fn within_a_minute<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(catch_unwind(AssertUnwindSafe(f)));
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(v)) => v,
        Ok(Err(payload)) => resume_unwind(payload),
        Err(_) => panic!("{what}: still running after a minute"),
    }
}

/// A waker that panics when woken.
struct Bomb;

impl Wake for Bomb {
    fn wake(self: Arc<Self>) {
        panic!("a waker went off");
    }
}

/// Makes the worker running it panic outside any task: starts an fsync
/// (which the driver holds on both drivers: io_uring's ring, epoll's
/// blocking pool) with the bomb as its waker, then waits; the worker's loop
/// wakes the bomb when the fsync completes.
async fn detonate(path: std::path::PathBuf) {
    let file = runtime::fs::File::create(&path).await.unwrap();
    let mut sync = Box::pin(file.sync_all());
    let bomb = Waker::from(Arc::new(Bomb));
    assert!(sync
        .as_mut()
        .poll(&mut Context::from_waker(&bomb))
        .is_pending());
    pending::<()>().await;
    drop(sync);
}

/// What every report of the death says.
fn says_worker_1_died(msg: &str) -> bool {
    msg.contains("worker 1 panicked outside a task") && msg.contains("a waker went off")
}

#[test]
fn a_start_hook_that_panics_fails_build() {
    for kind in drivers() {
        let err = Builder::new()
            .driver(kind)
            .workers(3)
            .on_thread_start(|| panic!("the start hook refuses"))
            .build()
            .expect_err("a worker that failed to start must fail build");
        let msg = err.to_string();
        assert!(msg.contains("the start hook refuses"), "{kind}: {msg}");
        assert!(msg.contains("while starting"), "{kind}: {msg}");
    }
}

#[test]
fn a_dead_worker_makes_block_on_panic_with_its_message() {
    for kind in drivers() {
        let path = support::temp_path(&format!("rt-dead-block-on-{kind}"));
        let guard = support::TempPath(path.clone());
        let msg = within_a_minute("block_on with a dead worker", move || {
            let rt = Builder::new().driver(kind).workers(2).build().unwrap();
            let res = catch_unwind(AssertUnwindSafe(|| {
                rt.block_on(async move {
                    drop(runtime::spawn_on(1, move || detonate(path)));
                    pending::<()>().await // only worker 1's death can end this
                })
            }));
            drop(rt); // block_on reported it: no second panic here
            message(res.expect_err("block_on must not outlive a dead worker in silence"))
        });
        assert!(says_worker_1_died(&msg), "{kind}: {msg}");
        drop(guard);
    }
}

#[test]
fn a_dead_workers_tasks_and_later_spawns_fail_and_drop_reports_it() {
    for kind in drivers() {
        let path = support::temp_path(&format!("rt-dead-tasks-{kind}"));
        let guard = support::TempPath(path.clone());
        let (errors, dropped) = within_a_minute("tasks of a dead worker", move || {
            let rt = Builder::new().driver(kind).workers(2).build().unwrap();
            let errors = rt.block_on(async move {
                let sleeper = runtime::spawn_on(1, pending::<()>);
                let bomb = runtime::spawn_on(1, move || detonate(path));
                let bomb = bomb.await.unwrap_err();
                let sleeper = sleeper.await.unwrap_err();
                let later = runtime::spawn_on(1, || async { 1 }).await.unwrap_err();
                assert!(bomb.is_panic() && sleeper.is_panic() && later.is_panic());
                [bomb.to_string(), sleeper.to_string(), later.to_string()]
            });
            // block_on returned: the runtime's drop reports the death.
            let dropped = catch_unwind(AssertUnwindSafe(move || drop(rt)));
            (errors, dropped.err().map(message))
        });
        for e in &errors {
            assert!(says_worker_1_died(e), "{kind}: {e}");
        }
        let dropped = dropped.expect("the drop must report the death nobody reported");
        assert!(says_worker_1_died(&dropped), "{kind}: {dropped}");
        drop(guard);
    }
}

// ---- a failing wait, in a child process ----
//
// The child installs, from the `on_thread_start` hook, a seccomp filter on
// worker 1's thread only that makes its driver's wait fail with EPERM; its
// main future waits for worker 1 to have turned 100,000 times, which a
// worker that spins on the error does, and a dead one never does.

/// The `scenario` child of this test binary, killed if it still runs after
/// a minute (a hang guard: a worker that spins keeps it running); returns
/// its output.
fn run_child(scenario: &str) -> String {
    let exe = std::env::current_exe().unwrap();
    let child = Command::new(exe)
        .args(["failing_wait_child", "--exact", "--nocapture"])
        .env("RT_WORKER_FAILURE_CHILD", scenario)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id() as libc::pid_t;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            // SAFETY: kill(2) on our own child's pid; no pointers.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("the {scenario} child still runs after a minute");
        }
    };
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// Denies `nrs` with `EPERM` on the calling thread (and threads it starts).
fn deny_syscalls(nrs: &[libc::c_long]) {
    #[cfg(target_arch = "x86_64")]
    const ARCH: u32 = 0xC000_003E; // AUDIT_ARCH_X86_64
    #[cfg(target_arch = "aarch64")]
    const ARCH: u32 = 0xC000_00B7; // AUDIT_ARCH_AARCH64
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let n = nrs.len() as u8;
    let mut prog = vec![
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 4), // seccomp_data.arch
        jeq(ARCH, 0, n + 1),                                 // another ABI: allow
        stmt(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0), // seccomp_data.nr
    ];
    for (i, &nr) in nrs.iter().enumerate() {
        prog.push(jeq(nr as u32, n - i as u8, 0)); // to the EPERM return
    }
    prog.push(stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW));
    prog.push(stmt(
        libc::BPF_RET | libc::BPF_K,
        libc::SECCOMP_RET_ERRNO | libc::EPERM as u32,
    ));
    let fprog = libc::sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    assert_eq!(rc, 0, "no_new_privs: {}", std::io::Error::last_os_error());
    // SAFETY: `fprog` points at `prog`, a valid BPF program, for the call.
    let rc = unsafe {
        libc::prctl(
            libc::PR_SET_SECCOMP,
            libc::SECCOMP_MODE_FILTER,
            &fprog as *const libc::sock_fprog,
        )
    };
    assert_eq!(rc, 0, "seccomp: {}", std::io::Error::last_os_error());
}

/// In the child: worker 1's wait fails for good.
#[test]
fn failing_wait_child() {
    let Ok(scenario) = std::env::var("RT_WORKER_FAILURE_CHILD") else {
        return;
    };
    let (kind, nrs): (DriverKind, &'static [libc::c_long]) = match scenario.as_str() {
        "epoll" => (
            DriverKind::Epoll,
            &[
                libc::SYS_epoll_wait,
                libc::SYS_epoll_pwait,
                libc::SYS_epoll_pwait2,
            ],
        ),
        _ => (DriverKind::Uring, &[libc::SYS_io_uring_enter]),
    };
    let rt = Builder::new()
        .driver(kind)
        .workers(2)
        .on_thread_start(move || deny_syscalls(nrs))
        .build()
        .unwrap();
    let res = catch_unwind(AssertUnwindSafe(|| {
        rt.block_on(async {
            loop {
                let turns = runtime::metrics()[1].ticks;
                if turns > 100_000 {
                    return turns;
                }
                runtime::time::sleep(Duration::from_millis(5)).await;
            }
        })
    }));
    match res {
        Ok(turns) => println!("child: block_on returned: worker 1 spun {turns} turns"),
        Err(p) => println!("child: block_on panicked: {}", message(p)),
    }
    match catch_unwind(AssertUnwindSafe(move || drop(rt))) {
        Ok(()) => println!("child: dropped quietly"),
        Err(p) => println!("child: drop panicked: {}", message(p)),
    }
}

#[test]
fn a_failing_epoll_wait_ends_its_worker_instead_of_spinning() {
    let out = run_child("epoll");
    assert!(out.contains("child: block_on panicked"), "{out}");
    assert!(out.contains("worker 1 panicked outside a task"), "{out}");
    assert!(out.contains("epoll_wait failed"), "{out}");
    assert!(out.contains("child: dropped quietly"), "{out}");
}

#[test]
fn a_failing_io_uring_enter_ends_its_worker_and_is_reported() {
    if !drivers().contains(&DriverKind::Uring) {
        return;
    }
    let out = run_child("uring");
    assert!(out.contains("child: block_on panicked"), "{out}");
    assert!(out.contains("worker 1 panicked outside a task"), "{out}");
    assert!(out.contains("io_uring_enter failed"), "{out}");
    assert!(out.contains("child: dropped quietly"), "{out}");
}
