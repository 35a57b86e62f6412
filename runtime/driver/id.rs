//! `DriverId`: the one identity of a driver, carried by what it holds for
//! others (an op's slot, a readiness wait, a pooled buffer, a registered
//! file or buffer slot), so nothing is ever asked of a driver it is not in.

use std::num::NonZeroU64;
use std::sync::atomic::{AtomicU64, Ordering};

/// Tells drivers apart, for the lifetime of the process. Never zero, so an
/// `Option` of something holding one costs no extra word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct DriverId(NonZeroU64);

impl DriverId {
    /// A fresh id.
    pub(crate) fn next() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(1);
        // 2^64 drivers never start, so the counter never wraps to zero.
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        DriverId(NonZeroU64::new(n).unwrap_or(NonZeroU64::MIN))
    }
}

#[cfg(test)]
mod tests {
    use super::DriverId;

    #[test]
    fn ids_are_unique_and_niche_optimised() {
        let (a, b) = (DriverId::next(), DriverId::next());
        assert_ne!(a, b);
        assert_eq!(
            std::mem::size_of::<Option<DriverId>>(),
            std::mem::size_of::<u64>()
        );
    }
}
