//! `#[runtime::test]` as a user sees it: one test per driver, options and return types passed
//! through, attributes kept. Expansion details and compile errors are unit-tested in
//! `macros/src/entry.rs`.

use std::io;
use std::time::Duration;

use runtime::DriverKind;

/// The driver a half should run on, read from the name libtest gives the test's thread
/// (`NAME::uring` or `NAME::epoll`); `block_on` polls the body on that thread.
fn expected_kind() -> DriverKind {
    let thread = std::thread::current();
    match thread.name().and_then(|name| name.rsplit("::").next()) {
        Some("uring") => DriverKind::Uring,
        Some("epoll") => DriverKind::Epoll,
        other => panic!("not in a #[runtime::test] half: thread {other:?}"),
    }
}

#[runtime::test]
async fn each_half_runs_its_driver() {
    assert_eq!(runtime::driver_kind(), expected_kind());
}

#[runtime::test]
async fn returns_io_result() -> io::Result<()> {
    // `?` in the body converts into the declared return type.
    let dir = std::env::current_dir()?;
    let task = runtime::spawn(async move { dir.is_absolute() });
    assert!(task.await.map_err(|e| io::Error::other(format!("{e:?}")))?);
    Ok(())
}

#[runtime::test]
async fn returns_boxed_error() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = "42".parse()?;
    runtime::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(n, 42);
    Ok(())
}

#[runtime::test(workers = 2, entries = 4)]
async fn options_reach_the_runtime() {
    // Worker 1 exists only because of `workers = 2`, and runs the same driver as this half.
    let remote = runtime::spawn_on(1, || async { runtime::driver_kind() });
    assert_eq!(remote.await.expect("remote task"), expected_kind());

    // More timers in flight than the 4-entry ring has slots.
    let sleepers: Vec<_> = (0..16)
        .map(|_| runtime::spawn(runtime::time::sleep(Duration::from_millis(1))))
        .collect();
    for sleeper in sleepers {
        sleeper.await.expect("sleeper");
    }
}

#[runtime::test(driver = "epoll")]
async fn only_epoll() {
    assert_eq!(runtime::driver_kind(), DriverKind::Epoll);
}

#[runtime::test(driver = "uring")]
async fn only_uring() {
    // Skipped, and reported as such, where io_uring is unavailable.
    assert_eq!(runtime::driver_kind(), DriverKind::Uring);
}

// The epoll half only: a skipped uring half would not panic.
#[runtime::test(driver = "epoll")]
#[should_panic(expected = "on purpose")]
async fn attributes_are_kept() {
    panic!("on purpose");
}

mod imported {
    // A glob-imported `runtime::test` must not capture the generated `#[test]`.
    use runtime::test;

    #[test]
    async fn with_test_in_scope() {
        // `crate::`, not `super::`: the body moves one module down, into the generated one.
        assert_eq!(runtime::driver_kind(), crate::expected_kind());
    }
}

/// A renamed dependency: `crate = "…"` names the runtime crate by its new name.
mod renamed {
    use runtime as rt_renamed;

    #[rt_renamed::test(crate = "rt_renamed")]
    async fn runs_through_the_renamed_path() {
        assert_eq!(rt_renamed::driver_kind(), crate::expected_kind());
    }
}
