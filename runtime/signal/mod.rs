//! Signals as futures: [`ctrl_c`] and Unix signal streams ([`unix::signal`]).
//!
//! One process-wide `sigaction` handler per signal number (signal-hook-registry's,
//! shared with any other library that uses it), registered the first time a
//! listener for it is created and never removed. The handler does only
//! async-signal-safe work: it calls the handler that was installed before it
//! (if any, so other libraries' handlers keep working), bumps the signal's
//! delivery counter and writes to one eventfd. Listeners wait for the eventfd
//! with the runtime's own I/O (`POLL_ADD` on io_uring, readiness on epoll),
//! so no worker ever blocks; whichever listener wakes first drains the
//! eventfd and wakes every other listener, on any worker. A listener compares
//! the counter with the value it saw last, so each sees every signal sent
//! after it was created (several deliveries between two `recv` calls may
//! count as one, as with tokio).

mod registry;
pub mod unix;

use std::io;

/// Completes at the next `SIGINT` (Ctrl-C) delivered to the process after
/// this call registered its listener.
///
/// The first call replaces the default action of `SIGINT` (terminate) for the
/// rest of the process's life, as tokio's does; a handler installed earlier
/// by someone else still runs.
///
/// ```no_run
/// #[runtime::main]
/// async fn main() -> std::io::Result<()> {
///     runtime::signal::ctrl_c().await?;
///     println!("interrupted, shutting down");
///     Ok(())
/// }
/// ```
///
/// # Errors
///
/// The errors of [`unix::signal`]: the eventfd or the handler could not be
/// set up, or no runtime is running on this thread.
pub async fn ctrl_c() -> io::Result<()> {
    let mut sig = unix::signal(unix::SignalKind::interrupt())?;
    sig.recv().await;
    Ok(())
}
