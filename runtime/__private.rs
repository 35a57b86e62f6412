//! Support for the `#[runtime::main]` and `#[runtime::test]` expansions. Not public API.
#![forbid(unsafe_code)]

use std::future::Future;
use std::io;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use crate::{Builder, DriverKind};

/// `#[runtime::main]` could not start the runtime: report and exit.
pub fn startup_failed(e: io::Error) -> ! {
    eprintln!("error: cannot start the runtime: {e}");
    std::process::exit(1)
}

/// Options of `#[runtime::test(...)]`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TestOptions {
    /// `workers = N`.
    pub workers: Option<usize>,
    /// `entries = N`.
    pub entries: Option<u32>,
}

/// What a test returns when its driver is unavailable and it is skipped.
pub trait TestReturn {
    /// The value of a skipped test.
    fn skipped() -> Self;
}

impl TestReturn for () {
    fn skipped() -> Self {}
}

impl<T: TestReturn, E> TestReturn for Result<T, E> {
    fn skipped() -> Self {
        Ok(T::skipped())
    }
}

/// Runs one half of a `#[runtime::test]` on `kind`.
///
/// The io_uring half is skipped (and says so) only when io_uring is missing
/// or forbidden (ENOSYS, EPERM, `kernel.io_uring_disabled`), unless
/// `RUNTIME_REQUIRE_URING=1`. Panics name the driver.
pub fn run_test<F, R>(kind: DriverKind, opts: TestOptions, fut: F) -> R
where
    F: Future<Output = R>,
    R: TestReturn,
{
    let mut b = Builder::new();
    b.driver(kind);
    if let Some(n) = opts.workers {
        b.workers(n);
    }
    if let Some(n) = opts.entries {
        b.entries(n);
    }
    let rt = match b.build() {
        Ok(rt) => rt,
        Err(e) if kind == DriverKind::Uring && is_unavailable(&e) && !uring_required() => {
            eprintln!("skipped on {kind}: {e}");
            return R::skipped();
        }
        Err(e) => panic!("[{kind} driver] cannot build the runtime: {e}"),
    };
    let res = catch_unwind(AssertUnwindSafe(|| rt.block_on(fut)));
    drop(rt);
    match res {
        Ok(r) => r,
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned());
            match msg {
                Some(m) => panic!("[{kind} driver] {m}"),
                None => resume_unwind(payload),
            }
        }
    }
}

fn is_unavailable(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Unsupported | io::ErrorKind::PermissionDenied
    )
}

fn uring_required() -> bool {
    std::env::var("RUNTIME_REQUIRE_URING").is_ok_and(|v| v == "1")
}
