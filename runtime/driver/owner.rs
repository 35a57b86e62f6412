//! [`Owner`]: what the kernel's use of a descriptor holds of it (an armed
//! multishot, a queued send), so the descriptor stays open meanwhile. A
//! leaf, shared by `source.rs`, `send_queue.rs` and `descriptor.rs`.

/// What an armed multishot or a queued send holds of its descriptor (see
/// `Descriptor::keep`): holding it keeps the descriptor open.
pub(crate) trait Owner: Send + Sync + std::fmt::Debug + 'static {}
