//! The crate-private link from a buffer to the registered-buffer slot it
//! lies in: what lets io_uring use `READ_FIXED` / `WRITE_FIXED` for it.

/// Proof that the caller is this crate: only it can make one, so only it can
/// call [`IoBuf::fixed_slot`](super::IoBuf::fixed_slot), and no other type
/// can override that method.
#[derive(Debug, Clone, Copy)]
pub struct FixedToken(pub(crate) ());

/// A registered buffer: the ring's table (a driver id) and the slot in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedSlot {
    /// The driver whose table holds the buffer (never zero, so an
    /// `Option<FixedSlot>` costs no extra word).
    pub(crate) table: crate::driver::DriverId,
    /// The buffer's index in that table (`buf_index` of the entry).
    pub(crate) index: u16,
}
