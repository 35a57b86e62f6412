//! Work a driver collects while it is borrowed (wakers of completed ops,
//! finished orphans) and hands out one piece at a time once the borrow
//! ends, so nothing it runs can re-enter the driver.

use std::fmt;
use std::task::Waker;

use super::lifecycle::Finished;

/// Work collected inside the driver, run after its borrow ends.
#[derive(Default)]
pub(crate) struct Deferred {
    /// Wakers of ops that completed, in completion order.
    pub(crate) wakers: Vec<Waker>,
    /// Orphaned ops that finished: dropping their output closes any fd it owns.
    pub(crate) frees: Vec<Finished>,
}

/// One piece of collected work, handed out by `Driver::next_deferred`.
pub(crate) enum Collected {
    /// Wake it.
    Wake(Waker),
    /// Wake every waker now in the caller's batch vector.
    Batch,
    /// Drop it (an orphan's output).
    Free(Finished),
}

impl fmt::Debug for Deferred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deferred")
            .field("wakers", &self.wakers.len())
            .field("frees", &self.frees.len())
            .finish()
    }
}

impl Deferred {
    /// The next piece of work: completion wakers first, then the readiness
    /// wakers `woken`, then finished orphans. A lone waker is handed out as
    /// it is; several are swapped into `batch` (which must be empty), so a
    /// busy turn moves vectors, not each waker, and neither side allocates
    /// once warmed up.
    #[inline]
    pub(crate) fn next(
        &mut self,
        woken: &mut Vec<Waker>,
        batch: &mut Vec<Waker>,
    ) -> Option<Collected> {
        for wakers in [&mut self.wakers, woken] {
            match wakers.len() {
                0 => {}
                1 => return wakers.pop().map(Collected::Wake),
                _ => {
                    std::mem::swap(wakers, batch);
                    return Some(Collected::Batch);
                }
            }
        }
        self.frees.pop().map(Collected::Free)
    }
}
