//! A coarse monotonic clock for the open-file table's per-request freshness
//! check: `CLOCK_MONOTONIC_COARSE` is answered by the vDSO from the kernel's
//! last tick (no syscall, and no hardware clock read even where the
//! clocksource has no vDSO support), at the tick's resolution of 1–4 ms,
//! which is plenty for a period of about a second.

use std::time::Duration;

/// Time since an arbitrary fixed point (boot), to the last kernel tick;
/// `None` if the clock cannot be read (then callers trust nothing cached).
pub(crate) fn coarse_now() -> Option<Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a writable timespec that outlives the call.
    let res = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC_COARSE, &mut ts) };
    if res != 0 {
        return None;
    }
    let secs = u64::try_from(ts.tv_sec).ok()?;
    let nanos = u32::try_from(ts.tv_nsec).ok()?;
    Some(Duration::new(secs, nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_goes_back() {
        let a = coarse_now().unwrap();
        let b = coarse_now().unwrap();
        assert!(b >= a);
    }
}
