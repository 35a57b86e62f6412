//! What every bench shares: the three runtimes under test and the group timing.
//!
//! Each bench function builds its runtimes once, here, outside `b.iter`, so a
//! measurement never includes building a ring or a thread.

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::BenchmarkGroup;
use runtime::{Builder, DriverKind, Runtime};

/// `runtime` on io_uring and on epoll, named as criterion shows them. A driver
/// that cannot start on this machine is left out, with a note on stderr.
pub(crate) fn runtimes() -> Vec<(&'static str, Runtime)> {
    [
        ("runtime/uring", DriverKind::Uring),
        ("runtime/epoll", DriverKind::Epoll),
    ]
    .into_iter()
    .filter_map(|(name, kind)| match Builder::new().driver(kind).build() {
        Ok(rt) => Some((name, rt)),
        Err(e) => {
            eprintln!("note: skipping {name}: cannot start the {kind} driver: {e}");
            None
        }
    })
    .collect()
}

/// The peer: tokio's single-threaded runtime with I/O and timers, as
/// `#[tokio::main(flavor = "current_thread")]` builds it.
pub(crate) fn tokio_current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio current_thread runtime")
}

/// Short warm-up and measurement, so all benches finish in a few minutes.
pub(crate) fn configure(group: &mut BenchmarkGroup<'_, WallTime>) {
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
}
