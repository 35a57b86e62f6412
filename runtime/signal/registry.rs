//! The process-wide half of signal handling: the action run in the signal
//! handler, the per-signal delivery counters, the eventfd, and the wakers
//! of listeners. The `sigaction` handler itself, and the chaining to a
//! handler installed before it, are signal-hook-registry's (tokio's too).
//!
//! Protocol (no lost wake-ups):
//! 1. The handler calls the earlier handler (if any), then our action
//!    increments `DELIVERIES[sig]` and writes 1 to `EVENT_FD`.
//! 2. A listener registers its waker, then reads its signal's counter; if it
//!    did not move, it waits for the eventfd to become readable.
//! 3. The first listener to see the eventfd readable drains it and wakes
//!    every registered waker. A listener that registered before the drain is
//!    woken by it; one that registers after it reads the new counter in step
//!    2. The counter is bumped before the write, so a reader woken by the
//!    write sees the bump.
//!
//! The action touches only atomics and `write(2)`: both async-signal-safe. Everything else (the waker list, installation) runs in
//! ordinary threads under a mutex.

use std::collections::HashMap;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::Waker;

/// One past the highest signal number on Linux (`SIGRTMAX` is 64).
const NSIG: usize = 65;

/// Deliveries of each signal since its handler was installed.
static DELIVERIES: [AtomicU64; NSIG] = [const { AtomicU64::new(0) }; NSIG];

/// The eventfd the handler writes to; -1 until the first listener made it.
static EVENT_FD: AtomicI32 = AtomicI32::new(-1);

/// Installation state: which signals have our handler (set up under this lock).
static INSTALLED: Mutex<[bool; NSIG]> = Mutex::new([false; NSIG]);

/// Wakers of listeners waiting in `recv`, by listener id.
static WAKERS: Mutex<Option<HashMap<u64, Waker>>> = Mutex::new(None);

/// Source of listener ids.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// Signals that cannot be caught or whose handler must not return: those
/// signal-hook-registry refuses (with a panic, so they are checked here
/// first), and `SIGBUS`.
const FORBIDDEN: [libc::c_int; 6] = [
    libc::SIGKILL,
    libc::SIGSTOP,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGSEGV,
    libc::SIGBUS,
];

/// A fresh listener id.
pub(super) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Deliveries of `signum` so far (0 for a number without a handler).
pub(super) fn deliveries(signum: libc::c_int) -> u64 {
    DELIVERIES[signum as usize].load(Ordering::SeqCst)
}

/// Makes sure our handler for `signum` is installed; returns the current count.
pub(super) fn listen(signum: libc::c_int) -> io::Result<u64> {
    let index = usize::try_from(signum).ok().filter(|&i| i > 0 && i < NSIG);
    let Some(index) = index.filter(|_| !FORBIDDEN.contains(&signum)) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("signal {signum} cannot be listened for"),
        ));
    };
    let mut installed = INSTALLED.lock().unwrap_or_else(|e| e.into_inner());
    if EVENT_FD.load(Ordering::SeqCst) < 0 {
        // SAFETY: plain syscall, no pointers.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        EVENT_FD.store(fd, Ordering::SeqCst);
    }
    if !installed[index] {
        install(signum, index)?;
        installed[index] = true;
    }
    Ok(DELIVERIES[index].load(Ordering::SeqCst))
}

/// Registers `signum`'s action with signal-hook-registry, which installs
/// one `sigaction` handler per signal and runs the handler installed before
/// it first (unless that was the default action or "ignore").
fn install(signum: libc::c_int, index: usize) -> io::Result<()> {
    // SAFETY: the action touches only atomics and `write(2)` (async-signal-safe)
    // and cannot panic, and `listen` refused the signals `register` panics on.
    unsafe { signal_hook_registry::register(signum, move || on_signal(index)) }?;
    Ok(())
}

/// What a delivery does, inside the signal handler: count, then wake.
fn on_signal(index: usize) {
    DELIVERIES[index].fetch_add(1, Ordering::SeqCst);
    let fd = EVENT_FD.load(Ordering::SeqCst);
    if fd >= 0 {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64; write(2) is async-signal-safe.
        // A full counter (EAGAIN) already means "readable", so the result is moot.
        let _ = unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
    }
}

/// A new descriptor for the process-wide eventfd, for one listener's driver.
pub(super) fn dup_eventfd() -> io::Result<OwnedFd> {
    let fd: RawFd = EVENT_FD.load(Ordering::SeqCst);
    // SAFETY: F_DUPFD_CLOEXEC on the eventfd, which is never closed; no pointers.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 0) };
    if dup < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `dup` is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(dup) })
}

/// Registers (or refreshes) the waker of listener `id`.
pub(super) fn register_waker(id: u64, waker: &Waker) {
    let mut wakers = WAKERS.lock().unwrap_or_else(|e| e.into_inner());
    let wakers = wakers.get_or_insert_with(HashMap::new);
    match wakers.get_mut(&id) {
        Some(w) if w.will_wake(waker) => {}
        Some(w) => w.clone_from(waker),
        None => drop(wakers.insert(id, waker.clone())),
    }
}

/// Forgets listener `id`.
pub(super) fn unregister_waker(id: u64) {
    let mut wakers = WAKERS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(wakers) = wakers.as_mut() {
        wakers.remove(&id);
    }
}

/// Empties the eventfd and wakes every waiting listener, on whatever worker.
pub(super) fn drain_and_wake() {
    let fd = EVENT_FD.load(Ordering::SeqCst);
    let mut count = [0u8; 8];
    // SAFETY: reads at most 8 bytes into a live 8-byte buffer; the eventfd is
    // non-blocking, so an empty one returns EAGAIN instead of waiting.
    let _ = unsafe { libc::read(fd, count.as_mut_ptr().cast(), 8) };
    let wakers = WAKERS.lock().unwrap_or_else(|e| e.into_inner());
    for waker in wakers.iter().flat_map(|w| w.values()) {
        waker.wake_by_ref();
    }
}
