//! `IORING_OP_NOP`: completes at once; measures the driver's own overhead.

use io_uring::{opcode, squeue};

use super::{Attempt, Op, Operation};

/// An operation that does nothing.
#[derive(Debug)]
pub(crate) struct Nop;

impl Op<Nop> {
    /// A no-op round trip through the driver.
    pub(crate) fn nop() -> Self {
        Op::new(Nop)
    }
}

// SAFETY: a NOP entry carries no pointers (so the op may run in place).
unsafe impl Operation for Nop {
    type Output = std::io::Result<()>;

    const IN_PLACE: bool = true;

    fn uring_entry(&mut self) -> squeue::Entry {
        opcode::Nop::new().build()
    }

    fn epoll_attempt(&mut self) -> Attempt {
        Attempt::Done(Ok(0))
    }

    fn complete(self, res: std::io::Result<u32>) -> Self::Output {
        res.map(drop)
    }
}
