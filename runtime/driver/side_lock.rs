//! `SideLock`: the lock of a socket's receive side (`source.rs`), taken on
//! every read, every multishot completion and every queued send.
//!
//! It is std's futex mutex without poisoning. A side's state is changed
//! only by its own methods, each of which leaves it consistent before
//! anything in it can panic, so a panic while it is held leaves nothing
//! to report; and std's poison bookkeeping (a look at the panic count on
//! every lock and unlock) was a measurable part of a request's user-space
//! instructions on the echo path.
//!
//! The protocol is the classic three-state futex lock: 0 unlocked, 1
//! locked, 2 locked with waiters. A contended `lock` sleeps in
//! `FUTEX_WAIT` (no spinning), and an `unlock` that finds waiters wakes one.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, Ordering};

/// Unlocked.
const FREE: u32 = 0;
/// Locked, nobody waiting.
const HELD: u32 = 1;
/// Locked, and a thread may sleep on it.
const CONTENDED: u32 = 2;

/// A mutex without poisoning; see the module doc.
#[derive(Default)]
pub(crate) struct SideLock<T> {
    /// [`FREE`], [`HELD`] or [`CONTENDED`].
    state: AtomicU32,
    /// The guarded value.
    value: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `value` to one thread at a time
// (the guard exists only while `state` says held), so sharing it needs
// only that `T` may move between threads, as for `std::sync::Mutex`.
unsafe impl<T: Send> Sync for SideLock<T> {}

impl<T> std::fmt::Debug for SideLock<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SideLock").finish_non_exhaustive()
    }
}

/// Access to a [`SideLock`]'s value, released on drop.
pub(crate) struct SideGuard<'a, T> {
    /// The lock, held.
    lock: &'a SideLock<T>,
}

impl<T> SideLock<T> {
    /// Locks, sleeping while another thread holds it.
    #[inline]
    pub(crate) fn lock(&self) -> SideGuard<'_, T> {
        if self
            .state
            .compare_exchange(FREE, HELD, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        SideGuard { lock: self }
    }

    /// The slow path: marks the lock contended and sleeps until it is free.
    #[cold]
    fn lock_contended(&self) {
        while self.state.swap(CONTENDED, Ordering::Acquire) != FREE {
            futex(&self.state, libc::FUTEX_WAIT, CONTENDED);
        }
    }

    /// Releases, waking a sleeper if there may be one.
    #[inline]
    fn unlock(&self) {
        if self.state.swap(FREE, Ordering::Release) == CONTENDED {
            futex(&self.state, libc::FUTEX_WAKE, 1);
        }
    }
}

/// `futex(2)` on `word`, private to the process: `FUTEX_WAIT` while it
/// holds `val`, or `FUTEX_WAKE` of `val` sleepers. Errors (`EAGAIN`: the
/// word changed; `EINTR`) send the caller round its loop again.
#[cold]
fn futex(word: &AtomicU32, op: libc::c_int, val: u32) {
    // SAFETY: `word` is a live, aligned 32-bit atomic for the whole call;
    // FUTEX_WAIT and FUTEX_WAKE read no other argument than those given
    // (a null timeout waits without a deadline).
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            op | libc::FUTEX_PRIVATE_FLAG,
            val,
            std::ptr::null::<libc::timespec>(),
        );
    }
}

impl<T> Deref for SideGuard<'_, T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this thread holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SideGuard<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while this thread holds the lock,
        // and `&mut self` makes this the only access through it.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SideGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn threads_take_turns_and_lose_no_update() {
        let lock = Arc::new(SideLock::<u64>::default());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = lock.clone();
                std::thread::spawn(move || {
                    for _ in 0..20_000 {
                        *lock.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.lock(), 80_000);
    }

    #[test]
    fn a_sleeper_is_woken_by_the_unlock() {
        let lock = Arc::new(SideLock::<Vec<u8>>::default());
        let held = lock.lock();
        let other = {
            let lock = lock.clone();
            std::thread::spawn(move || lock.lock().push(2))
        };
        // The other thread finds it held and sleeps (or is about to).
        while lock.state.load(Ordering::Relaxed) != CONTENDED {
            std::thread::yield_now();
        }
        drop(held);
        other.join().unwrap();
        assert_eq!(*lock.lock(), vec![2]);
    }

    #[test]
    fn a_panic_while_held_leaves_it_usable() {
        let lock = Arc::new(SideLock::<u32>::default());
        let l = lock.clone();
        let _ = std::thread::spawn(move || {
            let _guard = l.lock();
            panic!("on purpose");
        })
        .join();
        *lock.lock() += 1;
        assert_eq!(*lock.lock(), 1);
    }
}
