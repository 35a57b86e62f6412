//! Driver selection: explicit > RUNTIME_DRIVER > automatic, with the reason
//! reported by `driver_info()`. The fallback is tested for real: a child
//! process installs a seccomp filter that makes `io_uring_setup` fail with
//! EPERM, as a locked-down container would.
//!
//! Environment variables are process-wide, so each scenario runs in a child
//! process: this test binary re-executed with a filter and `DRIVER_SELECT_CHILD`.

use std::process::Command;

use runtime::{Builder, DriverKind};

/// Runs this test binary's test `name` in a child with `env` set; returns its output.
fn run_child(name: &str, env: &[(&str, &str)]) -> String {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("DRIVER_SELECT_CHILD", "1")
        .env_remove("RUNTIME_DRIVER");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child {name} failed:\n{text}");
    text
}

fn in_child() -> bool {
    std::env::var_os("DRIVER_SELECT_CHILD").is_some()
}

/// `io_uring_setup(2)` on x86-64.
const SYS_IO_URING_SETUP: u32 = 425;
/// `io_uring_enter(2)` on x86-64.
const SYS_IO_URING_ENTER: u32 = 426;

/// Makes the syscall `nr` fail with EPERM for this thread and its children.
fn forbid_syscall(nr: u32) {
    const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;
    let stmt = |code: u16, k: u32, jt: u8, jf: u8| libc::sock_filter { code, jt, jf, k };
    let ld_w_abs = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    let jeq = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    let ret = (libc::BPF_RET | libc::BPF_K) as u16;
    let filter = [
        stmt(ld_w_abs, 4, 0, 0), // seccomp_data.arch
        stmt(jeq, AUDIT_ARCH_X86_64, 1, 0),
        stmt(ret, libc::SECCOMP_RET_ALLOW, 0, 0),
        stmt(ld_w_abs, 0, 0, 0), // seccomp_data.nr
        stmt(jeq, nr, 0, 1),
        stmt(ret, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32, 0, 0),
        stmt(ret, libc::SECCOMP_RET_ALLOW, 0, 0),
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_ptr() as *mut _,
    };
    // SAFETY: PR_SET_NO_NEW_PRIVS takes plain integers.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    assert_eq!(rc, 0);
    // SAFETY: `prog` points to a valid filter that outlives the call (the kernel copies it).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            0,
            &prog as *const libc::sock_fprog,
        )
    };
    assert_eq!(rc, 0, "seccomp: {}", std::io::Error::last_os_error());
}

#[test]
fn seccomp_blocked_io_uring_falls_back_to_epoll_and_says_why() {
    if !in_child() {
        let out = run_child(
            "seccomp_blocked_io_uring_falls_back_to_epoll_and_says_why",
            &[],
        );
        assert!(out.contains("CHILD OK"), "{out}");
        return;
    }
    forbid_syscall(SYS_IO_URING_SETUP);
    let rt = Builder::new()
        .workers(2)
        .build()
        .expect("auto must fall back, not fail");
    let info = rt.driver_info();
    println!("{info}");
    for (kind, why) in &info.workers {
        assert_eq!(*kind, DriverKind::Epoll);
        assert!(why.contains("EPERM"), "reason should name EPERM: {why}");
    }
    rt.block_on(async {
        assert_eq!(runtime::driver_kind(), DriverKind::Epoll);
        let h = runtime::spawn_on(1, || async { runtime::driver_kind() });
        assert_eq!(h.await.unwrap(), DriverKind::Epoll);
        runtime::time::sleep(std::time::Duration::from_millis(1)).await;
    });
    drop(rt);
    let err = Builder::new()
        .driver(DriverKind::Uring)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
    assert!(err.to_string().contains("EPERM"), "{err}");
    println!("CHILD OK");
}

/// A profile that allows `io_uring_setup` but refuses `io_uring_enter`: the
/// ring builds, so only a real submit-and-wait shows it cannot be used. Auto
/// must fall back to epoll (not pick io_uring and spin), and say why.
#[test]
fn seccomp_blocked_io_uring_enter_falls_back_to_epoll_and_says_why() {
    if !in_child() {
        let out = run_child(
            "seccomp_blocked_io_uring_enter_falls_back_to_epoll_and_says_why",
            &[],
        );
        assert!(out.contains("CHILD OK"), "{out}");
        return;
    }
    forbid_syscall(SYS_IO_URING_ENTER);
    let rt = Builder::new()
        .build()
        .expect("auto must fall back, not fail");
    let info = rt.driver_info();
    println!("{info}");
    let (kind, why) = &info.workers[0];
    assert_eq!(*kind, DriverKind::Epoll);
    assert!(
        why.contains("io_uring_enter"),
        "reason should name io_uring_enter: {why}"
    );
    let n = rt.block_on(async {
        let h = runtime::spawn(async { 6 * 7 });
        runtime::time::sleep(std::time::Duration::from_millis(1)).await;
        h.await.unwrap()
    });
    assert_eq!(n, 42);
    drop(rt);
    let err = Builder::new()
        .driver(DriverKind::Uring)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("io_uring_enter"), "{err}");
    println!("CHILD OK");
}

#[test]
fn runtime_driver_env_overrides_auto_but_not_explicit() {
    if !in_child() {
        let out = run_child(
            "runtime_driver_env_overrides_auto_but_not_explicit",
            &[("RUNTIME_DRIVER", "epoll")],
        );
        assert!(out.contains("CHILD OK"), "{out}");
        return;
    }
    let rt = Builder::new().build().unwrap();
    let (kind, why) = rt.driver_info().workers[0].clone();
    assert_eq!(kind, DriverKind::Epoll);
    assert!(why.contains("RUNTIME_DRIVER"), "{why}");
    drop(rt);
    // Explicit wins over the environment.
    if let Ok(rt) = Builder::new().driver(DriverKind::Uring).build() {
        assert_eq!(rt.driver_info().workers[0].0, DriverKind::Uring);
    }
    println!("CHILD OK");
}

#[test]
fn a_bad_runtime_driver_value_is_an_error_not_a_panic() {
    if !in_child() {
        let out = run_child(
            "a_bad_runtime_driver_value_is_an_error_not_a_panic",
            &[("RUNTIME_DRIVER", "kqueue")],
        );
        assert!(out.contains("CHILD OK"), "{out}");
        return;
    }
    let err = Builder::new().build().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("kqueue"));
    println!("CHILD OK");
}

#[test]
fn auto_prefers_io_uring_where_available() {
    let rt = Builder::new().driver(DriverKind::Auto).build().unwrap();
    let (kind, why) = rt.driver_info().workers[0].clone();
    if std::env::var_os("RUNTIME_DRIVER").is_none() && uring_allowed() {
        assert_eq!(kind, DriverKind::Uring, "{why}");
    }
    assert!(!why.is_empty());
}

#[test]
fn explicit_epoll_never_touches_io_uring() {
    let rt = Builder::new().driver(DriverKind::Epoll).build().unwrap();
    let (kind, why) = rt.driver_info().workers[0].clone();
    assert_eq!(kind, DriverKind::Epoll);
    assert!(why.contains("requested"), "{why}");
    assert_eq!(
        rt.block_on(async { runtime::driver_kind() }),
        DriverKind::Epoll
    );
}

fn uring_allowed() -> bool {
    std::fs::read_to_string("/proc/sys/kernel/io_uring_disabled").is_ok_and(|s| s.trim() == "0")
}
